package io.nnsight.remote.internal.shipping;

import io.nnsight.Job;
import io.nnsight.NNsight;
import io.nnsight.remote.internal.allowlist.ValueClassLoader;
import io.nnsight.remote.internal.wire.ClassPlan;
import io.nnsight.remote.internal.wire.Envelope;
import io.nnsight.remote.internal.wire.JobForm;
import io.nnsight.remote.internal.wire.LambdaFactory;
import io.nnsight.remote.internal.wire.LambdaSerializer;
import io.nnsight.remote.internal.wire.Packing;
import io.nnsight.remote.internal.wire.ResultPayload;
import io.nnsight.remote.internal.wire.ValueGraphs;
import java.lang.invoke.SerializedLambda;

/**
 * A job made ready to ship: its request payload ({@link Envelope}), and what is needed to take its result
 * back: the class loader of the caller's code and the values the body captured, which receive what the
 * body did to them on the server ({@link WriteBack}).
 *
 * <p>The graph is {@code [input, options, body, edits, renames, statics]}: the job's values, its model's edits and
 * aliases, and the values of the static fields the shipped code uses ({@link Packing}).
 */
public final class Shipment {
    private final Envelope envelope;
    private final NNsight model;
    private final ClassLoader loader;
    private final Object[] captured;

    private Shipment(Envelope envelope, NNsight model, ClassLoader loader, Object[] captured) {
        this.envelope = envelope;
        this.model = model;
        this.loader = loader;
        this.captured = captured;
    }

    /** Ships the classes of every package under {@code prefix} too, though they come from a library jar. */
    public static void register(String prefix) {
        ClassPlan.register(prefix);
    }

    /**
     * Prepares {@code job}, with the edits and aliases of its model: the graph is {@code [input, options, body,
     * edits, renames, statics]} (see {@link Packing}).
     *
     * @throws IllegalArgumentException when something the body uses cannot be shipped, saying what and why
     */
    public static Shipment of(Job<?> job) {
        JobForm form = JobForm.of(job);
        Object body = form.body();
        ClassLoader loader = body.getClass().getClassLoader();
        Envelope envelope = Packing.pack(form.kind(), job.model(),
                new Object[] {form.input(), form.options(), body, form.edits(), form.renames()}, loader);
        return new Shipment(envelope, job.model(), loader, capturedBy(body));
    }

    /** What the body captured: a lambda's captured values, or a body of a class of its own itself. */
    private static Object[] capturedBy(Object body) {
        if (!body.getClass().isSynthetic() && !body.getClass().isHidden()) {
            return new Object[] {body};
        }
        SerializedLambda form = LambdaSerializer.serializedForm(body);
        Object[] values = new Object[form.getCapturedArgCount()];
        for (int i = 0; i < values.length; i++) {
            values[i] = form.getCapturedArg(i);
        }
        return values;
    }

    /** The request payload. */
    public Envelope envelope() {
        return envelope;
    }

    /**
     * Takes a result payload back: reads its graph with the caller's classes, copies what the body did to
     * its captured values into the caller's, and returns the body's result.
     */
    public Object result(byte[] payload) {
        // Only what the job's code could make: a server cannot make this JVM instantiate anything else.
        ClassLoader values = new ValueClassLoader(loader, envelope.classes().keySet());
        Object[] root = (Object[]) ValueGraphs.read(ResultPayload.graph(payload), values, model,
                LambdaFactory.DESERIALIZE_LAMBDA);
        WriteBack.copy((Object[]) root[1], captured);
        return root[0];
    }
}
