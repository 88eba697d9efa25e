package io.nnsight.nn.internal;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * The operations of the library's modules for which libtorch's C++ build has no kernel on the meta device, computed
 * there by their result's shape and type alone. PyTorch registers these "meta kernels" in Python ({@code
 * torch._meta_registrations}), which a JVM does not load; a scan runs a model on the meta device, so the modules
 * call these in place of the operation. On any other device each is the operation itself.
 */
public final class MetaKernels {
    private MetaKernels() {}

    /** {@code torch.embedding(table, ids)}: the rows of {@code table} at {@code ids}, {@code ids.shape + [dim]}. */
    public static Tensor embedding(Tensor table, Tensor ids) {
        if (!table.is_meta()) {
            return torch.embedding(table, ids);
        }
        long[] idsShape = ids.sizes().vec().get();
        long[] shape = java.util.Arrays.copyOf(idsShape, idsShape.length + 1);
        shape[idsShape.length] = table.size(1);
        return torch.empty(shape, table.options(), null);
    }

    /** {@code x.roll(shifts, dims)}: a tensor like {@code x}. */
    public static Tensor roll(Tensor x, long[] shifts, long[] dims) {
        return x.is_meta() ? torch.empty_like(x) : x.roll(shifts, dims);
    }

    /** {@code torch.layer_norm} over the last dimensions {@code shape} of {@code x}: a tensor like {@code x}. */
    public static Tensor layerNorm(Tensor x, long[] shape, TensorOptional weight, TensorOptional bias, double eps) {
        return x.is_meta() ? torch.empty_like(x) : torch.layer_norm(x, shape, weight, bias, eps, false);
    }
}
