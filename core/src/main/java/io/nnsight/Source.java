package io.nnsight;

import io.nnsight.spi.SourceMap;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The operations inside one module's code, from {@link Envoy#source()}: each call its {@code forward}
 * makes, directly or through the methods and lambdas of its class, named by the method called and its
 * occurrence ({@code linear_0}, {@code view_1}, {@code forward_0} for a child's forward).
 *
 * <pre>{@code
 * System.out.println(lm.get("model.layers.0.self_attn").source());   // the operations, with their lines
 * Tensor scores = lm.trace(prompt, tr ->
 *         lm.get("model.layers.0.self_attn").source().op("scaled_dot_product_attention_0").output());
 * }</pre>
 */
public final class Source {
    private final NNsight root;
    private final String module;
    private final Map<String, Operation> operations = new LinkedHashMap<>();

    Source(NNsight root, String module, String className, List<SourceMap.Site> sites, int firstIndex) {
        this.root = root;
        this.module = module;
        int index = firstIndex;
        for (SourceMap.Site site : sites) {
            operations.put(site.name(), new Operation(root, module, className, site, index++));
        }
    }

    /** Adds the operations of another class of the module's code (a superclass). */
    void add(NNsight root, String className, List<SourceMap.Site> sites, int firstIndex) {
        int index = firstIndex;
        for (SourceMap.Site site : sites) {
            operations.putIfAbsent(site.name(), new Operation(root, module, className, site, index++));
        }
    }

    /** The module whose code this is. */
    public Envoy envoy() {
        return module.isEmpty() ? root : root.get(module);
    }

    /** The operations, in the order of the code. */
    public List<Operation> operations() {
        return Collections.unmodifiableList(new ArrayList<>(operations.values()));
    }

    /**
     * The operation named {@code name}, like {@code "softmax_0"}.
     *
     * @throws IllegalArgumentException when there is none; the message names the close matches
     */
    public Operation op(String name) {
        Operation operation = operations.get(name);
        if (operation == null) {
            List<String> close = Envoy.closeMatches(name, operations.keySet());
            throw new IllegalArgumentException("the code of " + (module.isEmpty() ? "model" : module) + " has no operation '"
                    + name + "'" + (close.isEmpty() ? "; see source() for its operations" : ". Close matches: "
                            + String.join(", ", close)));
        }
        return operation;
    }

    /** The operations, one per line: the name, the source line, and what is called. */
    @Override
    public String toString() {
        StringBuilder text = new StringBuilder((module.isEmpty() ? "model" : module) + ".source():\n");
        for (Operation operation : operations.values()) {
            text.append(String.format("  %-32s line %-5s %s%n", operation.name(),
                    operation.line() < 0 ? "?" : Integer.toString(operation.line()), operation.call()));
        }
        return text.toString();
    }
}
