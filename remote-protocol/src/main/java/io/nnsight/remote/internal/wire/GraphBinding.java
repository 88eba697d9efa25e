package io.nnsight.remote.internal.wire;

import io.nnsight.NNsight;

/**
 * What the serializers of one graph refer to: the job's model (for models, envoys and tokenizers, which travel as
 * references to it), the factory of its lambdas, and where a writer notes the classes it writes. A Kryo that
 * {@link ValueGraphs} reuses from graph to graph is bound to each graph's in turn, and to nothing between graphs.
 */
final class GraphBinding {
    private NNsight model;
    private LambdaFactory lambdas;
    private GraphClasses seen;

    /** Binds the serializers to one graph's model, lambda factory and record of classes (each may be null). */
    void bind(NNsight model, LambdaFactory lambdas, GraphClasses seen) {
        this.model = model;
        this.lambdas = lambdas;
        this.seen = seen;
    }

    /** The model the graph's references resolve to. */
    NNsight model() {
        return model;
    }

    /** The factory that makes the graph's lambdas when read, and tells how those it made were made. */
    LambdaFactory lambdas() {
        return lambdas;
    }

    /** Where a writer notes the classes and lambdas it writes; {@code null} when reading. */
    GraphClasses seen() {
        return seen;
    }
}
