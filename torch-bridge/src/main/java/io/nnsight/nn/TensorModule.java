package io.nnsight.nn;

import org.bytedeco.pytorch.Tensor;

/** A module that maps one tensor to one tensor: what {@link Sequential} chains. */
public interface TensorModule {
    /** Runs the module on {@code input}. */
    Tensor forward(Tensor input);
}
