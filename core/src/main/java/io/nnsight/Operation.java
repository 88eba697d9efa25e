package io.nnsight;

import io.nnsight.spi.SourceMap;

/**
 * One call inside a module's code ({@code softmax_0} of an attention's {@code forward}), read and changed
 * inside a trace like a module's output: nnsight's {@code .source} operations. Calls are numbered per
 * module run, so the call in a loop's third pass is iteration 2 of its operation.
 */
public final class Operation extends Accessor {
    private final NNsight root;
    private final String module;
    private final String className;
    private final SourceMap.Site site;

    Operation(NNsight root, String module, String className, SourceMap.Site site, int index) {
        super(index);
        this.root = root;
        this.module = module;
        this.className = className;
        this.site = site;
    }

    @Override
    NNsight root() {
        return root;
    }

    @Override
    String describe() {
        return (module.isEmpty() ? "model" : module) + ".source().op(\"" + site.name() + "\")";
    }

    @Override
    String untraceable() {
        return "the operations of " + className + " cannot be traced";
    }

    /** The module whose code makes this call. */
    public Envoy envoy() {
        return module.isEmpty() ? root : root.get(module);
    }

    /** The name, like {@code softmax_0}. */
    public String name() {
        return site.name();
    }

    /** The source line of the call, or -1 when the class has no line numbers. */
    public int line() {
        return site.line();
    }

    /** What is called, like {@code torch.softmax}. */
    public String call() {
        return site.call();
    }

    @Override
    public String toString() {
        return site.name() + " (line " + site.line() + ": " + site.call() + ")";
    }
}
