package io.nnsight;

import io.nnsight.nn.Linear;
import io.nnsight.nn.Sequential;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** nnsight's tiny model, wrapped, with its input; and after each test, no body thread left running. */
abstract class TinyModelFixture {
    Sequential net;
    NNsight model;
    Tensor input;

    @BeforeEach
    void wrapTinyModel() {
        net = Models.tiny();
        model = NNsight.wrap(net);
        input = Models.tinyInput();
    }

    @AfterEach
    void noBodyLeft() {
        Models.assertNoBodyThreads();
    }

    /** The tiny model's layer at {@code name}. */
    Linear layer(String name) {
        return (Linear) model.get(name).module();
    }
}
