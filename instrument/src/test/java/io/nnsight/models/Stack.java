package io.nnsight.models;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.ModuleListImpl;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/** A plain model holding plain blocks in a native ModuleList, called by method reference. */
public class Stack extends Module {
    public final List<Block> blocks = new ArrayList<>();
    public final ModuleListImpl layers = register_module("layers", new ModuleListImpl());

    public Stack() {
        for (int i = 0; i < 3; i++) {
            Block block = new Block();
            blocks.add(block);
            layers.push_back(block);
        }
    }

    public Tensor forward(Tensor x) {
        for (Block block : blocks) {
            x = block.forward(x);
        }
        return x;
    }
}
