package io.nnsight;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.bytedeco.pytorch.Tensor;

/**
 * Every module's output (and, on request, inputs) as one invoke saw them, recorded as the model runs: nnsight's
 * {@code tracer.cache()}, TransformerLens's {@code run_with_cache}.
 *
 * <pre>{@code
 * Cache cache = lm.trace("Once upon a time", tr -> tr.cache());            // every module
 * Tensor hidden = cache.output("model.layers.3");                         // [1, tokens, 64]
 * Cache some = lm.generate(prompt, Generation.maxNewTokens(5), tr -> tr.cache("lm_head"));
 * List<Cache.Call> steps = some.calls("lm_head");                        // one call per step
 * }</pre>
 *
 * <p>{@link Tracer#cache(String...)} starts recording in the invoke that calls it, for the invoke's rows: each call
 * of each module made from then on adds a {@link Call}, so a module called once per generation step has one call
 * per step. The values are detached copies: later edits do not change them, and they are not on an autograd
 * graph. They belong to the trace like any value it makes: returned from the trace (or saved with {@link
 * NNsight#save}) they outlive it, else they are freed with it. The operations inside modules ({@code .source}) are
 * not recorded.
 *
 * <p>A module may be named by an alias of {@link NNsight#rename} too ({@code cache.output("layers.3")} for a
 * language model's {@code model.layers.3}).
 *
 * @param modules the calls of each module recorded, by path, in the order the model called the modules
 * @param aliases the aliased paths of the model's modules that differ from their paths, to those paths
 */
public record Cache(Map<String, List<Call>> modules, Map<String, String> aliases) {
    /**
     * One call of a module.
     *
     * @param inputs its arguments (this invoke's rows), or {@code null} when the cache records outputs only
     * @param output its output (this invoke's rows), or {@code null} when the cache records inputs only
     */
    public record Call(Inputs inputs, Object output) {}

    /** What a cache records of each call. */
    public enum Include {
        /** The outputs. */
        OUTPUTS,
        /** The inputs. */
        INPUTS,
        /** Both. */
        BOTH
    }

    public Cache {
        modules = Collections.unmodifiableMap(Objects.requireNonNull(modules, "modules"));
        aliases = Collections.unmodifiableMap(Objects.requireNonNull(aliases, "aliases"));
    }

    /**
     * Every call of the module at {@code path} the cache recorded, in order.
     *
     * @throws IllegalArgumentException when the cache does not record {@code path}
     */
    public List<Call> calls(String path) {
        List<Call> calls = modules.get(Objects.requireNonNull(path, "path"));
        if (calls == null && aliases.containsKey(path)) {
            calls = modules.get(aliases.get(path));
        }
        if (calls == null) {
            throw new IllegalArgumentException("the cache holds no module at '" + path + "'; it holds "
                    + (modules.isEmpty() ? "none" : String.join(", ", modules.keySet())));
        }
        return Collections.unmodifiableList(calls);
    }

    /**
     * The output of the first call of the module at {@code path}.
     *
     * @throws IllegalArgumentException when the cache does not record it, or the module was not called
     * @throws ClassCastException when the output is not a tensor (read it from {@link #calls})
     */
    public Tensor output(String path) {
        Object output = first(path).output();
        if (output instanceof Tensor tensor) {
            return tensor;
        }
        throw new ClassCastException("the cached output of " + path + " is " + Tensors.describe(output)
                + ", not a Tensor; read it with calls(\"" + path + "\")");
    }

    /**
     * The inputs of the first call of the module at {@code path}.
     *
     * @throws IllegalArgumentException when the cache does not record them, or the module was not called
     */
    public Inputs inputs(String path) {
        Inputs inputs = first(path).inputs();
        if (inputs == null) {
            throw new IllegalArgumentException("the cache records no inputs: ask for them with tr.cache(Include.BOTH, "
                    + "...) or tr.cache(Include.INPUTS, ...)");
        }
        return inputs;
    }

    private Call first(String path) {
        List<Call> calls = calls(path);
        if (calls.isEmpty()) {
            throw new IllegalArgumentException(path + " was not called while the cache recorded (the cache started "
                    + "after its call, or the model did not call it)");
        }
        return calls.get(0);
    }
}
