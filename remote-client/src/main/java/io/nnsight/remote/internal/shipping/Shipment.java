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
import java.util.concurrent.atomic.AtomicReference;

/**
 * A job made ready to ship: its request payload ({@link Envelope}), and what is needed to take its result
 * back: the class loader of the caller's code and the values the body captured, which receive what the
 * body did to them on the server ({@link WriteBack}).
 *
 * <p>The graph is the values of the static fields the shipped code uses, and then {@code [input, options, body,
 * edits, renames]}: the job's values, and its model's edits and aliases ({@link Packing}).
 */
public final class Shipment {
    /**
     * The loader that the results of a body's class resolve their values through, kept for the next result of the same
     * code. The JVM gives each class loader that resolves a class native bookkeeping of its own (a {@code
     * ClassLoaderData}, a few kilobytes) and frees it only when it unloads classes, which a client that defines none
     * may never do: a loader per result grew a client's native memory by that much for every job (5 MB/s at 2,000
     * jobs/s). Kept by the body's class, whose loader it reads through, so both go together.
     */
    private static final ClassValue<AtomicReference<ValueClassLoader>> VALUE_LOADERS = new ClassValue<>() {
        @Override
        protected AtomicReference<ValueClassLoader> computeValue(Class<?> type) {
            return new AtomicReference<>();
        }
    };

    private final Envelope envelope;
    private final NNsight model;
    private final Class<?> bodyClass;
    private final Object[] captured;

    private Shipment(Envelope envelope, NNsight model, Class<?> bodyClass, Object[] captured) {
        this.envelope = envelope;
        this.model = model;
        this.bodyClass = bodyClass;
        this.captured = captured;
    }

    /** Ships the classes of every package under {@code prefix} too, though they come from a library jar. */
    public static void register(String prefix) {
        ClassPlan.register(prefix);
    }

    /**
     * Prepares {@code job}, with the edits and aliases of its model: the graph is the static fields' values and then
     * {@code [input, options, body, edits, renames]} (see {@link Packing}).
     *
     * @throws IllegalArgumentException when something the body uses cannot be shipped, saying what and why
     */
    public static Shipment of(Job<?> job) {
        JobForm form = JobForm.of(job);
        Object body = form.body();
        ClassLoader loader = body.getClass().getClassLoader();
        Envelope envelope = Packing.pack(form.kind(), job.model(),
                new Object[] {form.input(), form.options(), body, form.edits(), form.renames()}, loader);
        return new Shipment(envelope, job.model(), body.getClass(), capturedBy(body));
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
        Object[] root = (Object[]) ValueGraphs.read(ResultPayload.graph(payload), valueLoader(), model,
                LambdaFactory.DESERIALIZE_LAMBDA);
        WriteBack.copy((Object[]) root[1], captured);
        return root[0];
    }

    /**
     * The loader the result's values resolve through: only what the job's code could make, the classes it ships and
     * those shipped code may name, so that a server cannot make this JVM instantiate anything else. The one the last
     * result of the same code used, when it shipped the same classes.
     */
    private ValueClassLoader valueLoader() {
        AtomicReference<ValueClassLoader> kept = VALUE_LOADERS.get(bodyClass); // reads through the class's own loader
        ValueClassLoader values = kept.get();
        if (values == null || !values.ships(envelope.classes().keySet())) {
            values = new ValueClassLoader(bodyClass.getClassLoader(), envelope.classes().keySet());
            kept.set(values);
        }
        return values;
    }
}
