package io.nnsight.models;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.ModuleListImpl;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/** A plain block whose forward calls its native child through a method reference. */
public class Block extends Module {
    public final LinearImpl fc = register_module("fc", new LinearImpl(4, 4));

    public Tensor forward(Tensor x) {
        java.util.function.UnaryOperator<Tensor> layer = fc::forward;
        return layer.apply(x).tanh();
    }
}
