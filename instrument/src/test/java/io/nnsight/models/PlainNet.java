package io.nnsight.models;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.ModuleListImpl;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/** A plain Bytedeco model: native children in fields, called directly. */
public class PlainNet extends Module {
    public final LinearImpl fc1 = register_module("fc1", new LinearImpl(5, 10));
    public final LinearImpl fc2 = register_module("fc2", new LinearImpl(10, 2));

    public Tensor forward(Tensor x) {
        return fc2.forward(torch.relu(fc1.forward(x)));
    }
}
