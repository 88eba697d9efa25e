package io.nnsight.remote.internal.sandbox;

import io.nnsight.NNsight;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.decoder.DecoderForCausalLM;
import io.nnsight.lm.internal.WeightLoader;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;

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
    private record State(long version, long address, List<Long> sizes, List<Long> strides, String dtype,
            boolean negative, boolean conjugate, boolean zero, boolean requiresGrad, boolean hasGrad) {
        static State of(Tensor tensor) {
            try (PointerScope scope = new PointerScope()) {
                Pointer data = tensor.data_ptr(); // null for a tensor without elements
                // JavaCPP makes enum values of native ones: only intern() gives the constant, with its name
                return new State(tensor._version(), data == null ? 0 : data.address(), longs(tensor.sizes().vec().get()),
                        longs(tensor.strides().vec().get()), tensor.scalar_type().intern().name(), tensor.is_neg(),
                        tensor.is_conj(), tensor._is_zerotensor(), tensor.requires_grad(), tensor.grad().defined());
            }
        }

        /** Whether the layout and flags are those of {@code loaded}, wherever the values live. */
        boolean laidOutAs(State loaded) {
            return sizes.equals(loaded.sizes) && strides.equals(loaded.strides) && dtype.equals(loaded.dtype)
                    && negative == loaded.negative && conjugate == loaded.conjugate && zero == loaded.zero
                    && requiresGrad == loaded.requiresGrad && !hasGrad;
        }

        private static List<Long> longs(long[] values) {
            List<Long> list = new ArrayList<>(values.length);
            for (long value : values) {
                list.add(value);
            }
            return List.copyOf(list);
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
                tracked.add(new Tracked(named.get(i).key().getString(), tensor, copy, State.of(tensor)));
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
        List<State> now = states();
        List<Integer> changed = new ArrayList<>();
        for (int i = 0; i < now.size(); i++) {
            if (!now.get(i).equals(states.get(i))) {
                changed.add(i);
            }
        }
        if (changed.isEmpty()) {
            return List.of();
        }
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
                if (found == null || found.address() != states.get(i).address() || !found.sizes().equals(loaded.sizes())
                        || !found.strides().equals(loaded.strides())) {
                    rebind(entry);
                }
                tensor._set_neg(loaded.negative());
                tensor._set_conj(loaded.conjugate());
                tensor._set_zero(loaded.zero());
                tensor.set_requires_grad(loaded.requiresGrad());
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
            long[] sizes = entry.loaded().sizes().stream().mapToLong(Long::longValue).toArray();
            tensor.set_();
            tensor.resize_(sizes);
        }
    }

    private List<String> names(List<Integer> indices) {
        return indices.stream().map(i -> tracked.get(i).name()).toList();
    }

    private List<State> states() {
        List<State> now = new ArrayList<>(tracked.size());
        for (Tracked entry : tracked) {
            now.add(State.of(entry.tensor()));
        }
        return now;
    }
}
