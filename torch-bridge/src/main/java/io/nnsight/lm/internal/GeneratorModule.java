package io.nnsight.lm.internal;

import io.nnsight.nn.HookedModule;
import io.nnsight.nn.TensorModule;
import org.bytedeco.pytorch.Tensor;

/**
 * The {@code generator} of a language model, as in nnsight: called once when a generation ends with all
 * token ids, {@code [batch, prompt + new]}; its child {@code streamer} is called at each step with the
 * step's new tokens, {@code [batch, 1]}. Replacing the streamer's output changes the token the
 * generation continues with.
 */
public final class GeneratorModule extends HookedModule implements TensorModule {
    private final Streamer streamer = register("streamer", new Streamer());

    @Override
    public Tensor forward(Tensor tokens) {
        return hooked(tokens, ids -> ids);
    }

    /** The streamer. */
    public Streamer streamer() {
        return streamer;
    }

    /** Sees each step's new tokens. */
    public static final class Streamer extends HookedModule implements TensorModule {
        @Override
        public Tensor forward(Tensor tokens) {
            return hooked(tokens, ids -> ids);
        }
    }
}
