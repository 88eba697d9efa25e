package io.nnsight.lm.gpt2;

import io.nnsight.nn.Conv1D;
import io.nnsight.nn.Dropout;
import io.nnsight.nn.GELU;
import io.nnsight.nn.HookedModule;
import io.nnsight.nn.TensorModule;
import org.bytedeco.pytorch.Tensor;

/** GPT-2's MLP: {@code dropout(c_proj(act(c_fc(x))))}, with the tanh-approximated GELU ({@code gelu_new}). */
public final class GPT2MLP extends HookedModule implements TensorModule {
    private final Conv1D cFc;
    private final Conv1D cProj;
    private final GELU act;
    private final Dropout dropout;

    /** The MLP of a model with the given sizes. */
    public GPT2MLP(Gpt2Config config) {
        this.cFc = register("c_fc", new Conv1D(config.embedding(), config.inner()));
        this.cProj = register("c_proj", new Conv1D(config.inner(), config.embedding()));
        this.act = register("act", new GELU(true));
        this.dropout = register("dropout", new Dropout(config.dropout()));
    }

    @Override
    public Tensor forward(Tensor input) {
        return hooked(input, x -> dropout.forward(cProj.forward(act.forward(cFc.forward(x)))));
    }
}
