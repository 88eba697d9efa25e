package io.nnsight.examples;

import io.nnsight.lm.Generation;
import io.nnsight.lm.LanguageModel;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

/**
 * Steering: add a direction to the residual stream at every step of a generation. The direction is the
 * difference between a layer's mean output on two contrasting prompts (an activation-addition steering
 * vector); {@code lm.edit(...)} makes a copy of the model with the addition built in, so every generation of the
 * copy is steered while the original stays as it was.
 *
 * <pre>
 * examples/run Steering [model folder or hub id]      (default ../shared/models/stories260K)
 * </pre>
 */
public final class Steering {
    private Steering() {}

    public static void main(String[] args) {
        LanguageModel lm = LanguageModel.load(args.length > 0 ? args[0] : "../shared/models/stories260K");
        String layer = "layers.3";
        double strength = 2;

        Tensor happy = lm.trace("The dog was happy and played with the ball.", tr -> meanOutput(lm, layer));
        Tensor sad = lm.trace("The dog was sad and cried all day.", tr -> meanOutput(lm, layer));
        Tensor direction = happy.sub(sad).mul(new Scalar(strength));          // [hidden]

        LanguageModel steered = lm.edit(tr -> {
            for (int step : tr.all()) {                                       // each step of a generation
                lm.get(layer).output().add_(direction);                        // every position, every row
            }
            return null;
        });

        String prompt = "Once upon a time";
        Generation greedy = Generation.maxNewTokens(20);
        System.out.println("plain:   " + prompt + lm.generate(prompt, greedy).texts().get(0));
        System.out.println("steered: " + prompt + steered.generate(prompt, greedy).texts().get(0));
    }

    /** The mean over positions of the layer's output, {@code [hidden]}. */
    private static Tensor meanOutput(LanguageModel lm, String layer) {
        return lm.get(layer).output().mean(1).select(0, 0);                   // [1, tokens, hidden] -> [hidden]
    }
}
