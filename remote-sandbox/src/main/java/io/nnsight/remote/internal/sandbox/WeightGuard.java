package io.nnsight.remote.internal.sandbox;

import io.nnsight.NNsight;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.decoder.DecoderForCausalLM;
import io.nnsight.lm.internal.WeightLoader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Keeps a hosted model's weights as they were loaded, whatever a job does. A job's code may reach a
 * parameter or a buffer (as an operation's input, say) and change it in place. After each job the guard
 * compares what a job could have changed of each one with what it was: its values (libtorch counts every
 * in-place change of a tensor in its version counter), where its values live, its shape and strides, its
 * type, its negation, conjugation and zero flags, whether it requires a gradient, and whether it holds one.
 * It restores what changed: the storage, layout and flags as they were, a language model's parameters from
 * its checkpoint, any other parameter and every buffer from a copy taken when the guard was made, and a
 * gradient a job left behind is dropped (it would reveal that job's inputs to the next).
 *
 * <p>The sandbox refuses what the guard cannot see: the aliases that do not count changes ({@code data()},
 * {@code variable_data()}) and the methods that make one or rebind a tensor's storage in place ({@code
 * set_}). A restore that does not bring a tensor back to its loaded layout is retried once for every
 * parameter and buffer from scratch; if that fails too, {@link #restoreIfChanged()} throws and the model
 * must not serve again.
 *
 * <p>Its tensor handles and copies are its own, outside any {@code PointerScope}: they outlive jobs.
 */
public final class WeightGuard {
    private final NNsight model;
    private final List<Tracked> tracked = new ArrayList<>();
    private List<State> states;

    /**
     * A parameter or buffer: its name, a handle of our own, a copy to restore it from (if kept), and its state
     * as loaded.
     */
    private record Tracked(String name, Tensor tensor, Tensor copy, State loaded) {}

    /** What a job could change of a tensor. */
    private static final class State {
        final long version;
        final long address;
        final long[] sizes;
        final long[] strides;
        /** Its {@code ScalarType}'s value. */
        final int dtype;
        final boolean negative;
        final boolean conjugate;
        final boolean zero;
        final boolean requiresGrad;
        final boolean hasGrad;

        /** {@code tensor}'s state now. */
        State(Tensor tensor) {
            version = tensor._version();
            address = address(tensor);
            int dims = (int) tensor.dim();
            sizes = new long[dims];
            strides = new long[dims];
            for (int d = 0; d < dims; d++) {
                sizes[d] = tensor.size(d);
                strides[d] = tensor.stride(d);
            }
            dtype = tensor.scalar_type().value;
            negative = tensor.is_neg();
            conjugate = tensor.is_conj();
            zero = tensor._is_zerotensor();
            requiresGrad = tensor.requires_grad();
            hasGrad = tensor.grad().defined();
        }

        /** Where the tensor's values live; 0 for a tensor without elements. */
        private static long address(Tensor tensor) {
            Pointer data = tensor.data_ptr();
            return data == null ? 0 : data.address();
        }

        /**
         * Whether {@code tensor} is still in this state: every field of its state now is equal to this one's, read a
         * field at a time up to the first difference. It reads with calls that make no native object (sizes and
         * strides one by one rather than as {@code LongArrayRef}s and vectors), so a check of every parameter and
         * buffer after each batch allocates nothing native.
         */
        boolean holds(Tensor tensor) {
            if (tensor._version() != version || tensor.dim() != sizes.length) {
                return false;
            }
            for (int d = 0; d < sizes.length; d++) {
                if (tensor.size(d) != sizes[d] || tensor.stride(d) != strides[d]) {
                    return false;
                }
            }
            return address(tensor) == address && tensor.scalar_type().value == dtype && tensor.is_neg() == negative
                    && tensor.is_conj() == conjugate && tensor._is_zerotensor() == zero
                    && tensor.requires_grad() == requiresGrad && tensor.grad().defined() == hasGrad;
        }

        /** Whether the layout and flags are those of {@code loaded}, wherever the values live. */
        boolean laidOutAs(State loaded) {
            return Arrays.equals(sizes, loaded.sizes) && Arrays.equals(strides, loaded.strides) && dtype == loaded.dtype
                    && negative == loaded.negative && conjugate == loaded.conjugate && zero == loaded.zero
                    && requiresGrad == loaded.requiresGrad && !hasGrad;
        }

        @Override
        public String toString() {
            String type = String.valueOf(dtype);
            for (ScalarType candidate : ScalarType.values()) {
                type = candidate.value == dtype ? candidate.name() : type;
            }
            return "State[version=" + version + ", address=" + address + ", sizes=" + Arrays.toString(sizes)
                    + ", strides=" + Arrays.toString(strides) + ", dtype=" + type + ", negative=" + negative
                    + ", conjugate=" + conjugate + ", zero=" + zero + ", requiresGrad=" + requiresGrad + ", hasGrad="
                    + hasGrad + "]";
        }
    }

    public WeightGuard(NNsight model) {
        this.model = model;
        Module module = model.module();
        // A language model's parameters come back from its checkpoint; everything else from a copy.
        track(module.named_parameters(true), !(model instanceof LanguageModel));
        track(module.named_buffers(true), true);
        states = states();
    }

    private void track(StringTensorDict named, boolean copied) {
        try (NoGradGuard noGrad = new NoGradGuard()) {
            for (long i = 0; i < named.size(); i++) {
                // A handle of our own: the dictionary's entries die with the dictionary.
                Tensor tensor = kept(new Tensor(named.get(i).value()));
                Tensor copy = copied ? kept(tensor.clone()) : null;
                tracked.add(new Tracked(named.get(i).key().getString(), tensor, copy, new State(tensor)));
            }
        }
    }

    /** Takes a tensor out of the caller's {@link PointerScope}, if any: the guard outlives it. */
    private static Tensor kept(Tensor tensor) {
        PointerScope scope = PointerScope.getInnerScope();
        if (scope != null) {
            tensor.retainReference();
            scope.detach(tensor);
        }
        return tensor;
    }

    /**
     * Restores the weights if a job changed them.
     *
     * @return the names of the parameters and buffers that had changed; empty when none had
     * @throws IllegalStateException when the weights could not be restored: the model must not serve again
     */
    public List<String> restoreIfChanged() {
        List<Integer> changed = new ArrayList<>(0);
        for (int i = 0; i < tracked.size(); i++) {
            if (!states.get(i).holds(tracked.get(i).tensor())) {
                changed.add(i);
            }
        }
        if (changed.isEmpty()) {
            return List.of();
        }
        List<State> now = states();
        try {
            restore(changed, now);
        } catch (RuntimeException first) {
            List<Integer> all = new ArrayList<>();
            for (int i = 0; i < tracked.size(); i++) {
                all.add(i);
            }
            try {
                restore(all, null);
            } catch (RuntimeException second) {
                second.addSuppressed(first);
                throw new IllegalStateException("the model's weights could not be restored after a job changed "
                        + names(changed) + " (" + second.getMessage() + ")", second);
            }
        }
        return names(changed);
    }

    /**
     * Restores the tensors at {@code indices} (their states {@code now}, or {@code null} to rebuild them all
     * from scratch), then checks that every tensor is laid out as loaded.
     */
    private void restore(List<Integer> indices, List<State> now) {
        boolean reload = false;
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            for (int i : indices) {
                Tracked entry = tracked.get(i);
                State loaded = entry.loaded();
                State found = now == null ? null : now.get(i);
                Tensor tensor = entry.tensor();
                if (found == null || found.address != states.get(i).address || !Arrays.equals(found.sizes, loaded.sizes)
                        || !Arrays.equals(found.strides, loaded.strides)) {
                    rebind(entry);
                }
                tensor._set_neg(loaded.negative);
                tensor._set_conj(loaded.conjugate);
                tensor._set_zero(loaded.zero);
                tensor.set_requires_grad(loaded.requiresGrad);
                if (tensor.grad().defined()) {
                    tensor.mutable_grad().reset();
                }
                if (entry.copy() != null) {
                    tensor.copy_(entry.copy());
                } else {
                    reload = true;
                }
            }
        }
        if (reload) {
            LanguageModel language = (LanguageModel) model;
            WeightLoader.load((DecoderForCausalLM) language.module(), language.family(), language.folder());
        }
        List<State> after = states();
        for (int i = 0; i < after.size(); i++) {
            if (!after.get(i).laidOutAs(tracked.get(i).loaded())) {
                throw new IllegalStateException(tracked.get(i).name() + " is " + after.get(i) + " after the restore, "
                        + "not " + tracked.get(i).loaded());
            }
        }
        states = after;
    }

    /** Gives the tensor storage of its own again, of its loaded shape and strides. */
    private static void rebind(Tracked entry) {
        Tensor tensor = entry.tensor();
        tensor.set_requires_grad(false); // libtorch resizes no tensor that requires gradients; restored after
        if (entry.copy() != null) {
            tensor.set_(entry.copy().clone());
        } else {
            tensor.set_();
            tensor.resize_(entry.loaded().sizes);
        }
    }

    private List<String> names(List<Integer> indices) {
        return indices.stream().map(i -> tracked.get(i).name()).toList();
    }

    private List<State> states() {
        List<State> now = new ArrayList<>(tracked.size());
        for (Tracked entry : tracked) {
            now.add(new State(entry.tensor()));
        }
        return now;
    }
}
