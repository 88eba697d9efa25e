package io.nnsight.remote.internal.sandbox;

import java.util.Locale;

/**
 * Tells the references through which shipped code can use autograd: run a backward pass, read or set a gradient,
 * or ask whether a tensor requires one or is on the graph. Code that makes none of them cannot tell whether
 * libtorch records its forward passes for a backward pass; the executor then runs them with autograd off, which
 * costs the pass about a fifth less on a small model (a hosted model's weights require gradients).
 *
 * <p>A reference counts when its owner, or the class that declares the member, is nnsight's or Bytedeco PyTorch's,
 * and the member's name holds {@code grad} or {@code backward} in any case ({@code Tracer.backward}, {@code
 * Accessor.grad}, {@code setInputGrad}, {@code Tensor.requires_grad}, {@code grad_fn}, {@code
 * TensorOptions.requires_grad}, {@code torch.autograd_*}) or is {@code is_leaf} or {@code output_nr}. The rule errs
 * on the side of autograd: a name such as {@code torch.gradient} counts too, and only makes its job run with
 * autograd on.
 *
 * <p>Pitfall: without autograd, libtorch also skips the checks that only protect a backward pass, such as its
 * refusal to change in place one of several views that {@code chunk} or {@code unbind} returned of a tensor that
 * requires a gradient. Code that does so runs where it would fail with autograd on; NDIF's servers, whose models
 * require no gradients, run it too.
 */
final class AutogradUse {
    private AutogradUse() {}

    /**
     * Whether a reference to {@code member} of {@code className} (a binary name, {@code org.bytedeco.pytorch.Tensor})
     * can use autograd.
     */
    static boolean named(String className, String member) {
        if (!className.startsWith("io.nnsight.") && !className.startsWith("org.bytedeco.pytorch.")) {
            return false;
        }
        String name = member.toLowerCase(Locale.ROOT);
        return name.contains("grad") || name.contains("backward") || name.equals("is_leaf")
                || name.equals("output_nr");
    }
}
