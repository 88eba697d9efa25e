package io.nnsight.remote.internal.shipping;

import io.nnsight.Job;
import io.nnsight.NNsight;
import io.nnsight.remote.internal.allowlist.ValueClassLoader;
import io.nnsight.remote.internal.wire.EditsDoNotTravel;
import io.nnsight.remote.internal.wire.Envelope;
import io.nnsight.remote.internal.wire.GraphClasses;
import io.nnsight.remote.internal.wire.ValueGraphs;
import io.nnsight.remote.internal.wire.JobForm;
import io.nnsight.remote.internal.wire.LambdaFactory;
import io.nnsight.remote.internal.wire.LambdaSerializer;
import io.nnsight.remote.internal.wire.LambdaSpec;
import io.nnsight.remote.internal.wire.ResultPayload;
import java.lang.invoke.SerializedLambda;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A job made ready to ship: its request payload ({@link Envelope}), and what is needed to take its result
 * back: the class loader of the caller's code and the values the body captured, which receive what the
 * body did to them on the server ({@link WriteBack}).
 *
 * <p>The graph is {@code [input, options, body, statics]}, where {@code statics} maps {@code
 * "owner#field"} (internal owner name) to the value of each static field the shipped code uses. Writing
 * it reveals classes to ship, whose code may use more static fields, whose values may hold more classes:
 * the graph is written again until nothing new turns up.
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
     * Prepares {@code job}.
     *
     * @throws IllegalArgumentException when something the body uses cannot be shipped, saying what and why
     * @throws IllegalStateException when the job's model, or a model its values refer to, has edits
     */
    public static Shipment of(Job<?> job) {
        if (!job.model().edits().isEmpty()) {
            throw EditsDoNotTravel.of(job.model().key());
        }
        JobForm form = JobForm.of(job);
        Object body = form.body();
        ClassLoader loader = body.getClass().getClassLoader();
        Map<String, Object> statics = new LinkedHashMap<>();
        while (true) {
            GraphClasses seen = new GraphClasses();
            byte[] graph = ValueGraphs.write(new Object[] {form.input(), form.options(), body, statics}, loader, job.model(), seen);
            ClassPlan plan = ClassPlan.of(seen, loader);
            boolean added = false;
            for (Map.Entry<String, Set<String>> owner : plan.staticFields().entrySet()) {
                for (String field : owner.getValue()) {
                    String key = owner.getKey() + "#" + field;
                    if (!statics.containsKey(key)) {
                        statics.put(key, plan.staticValue(owner.getKey(), field));
                        added = true;
                    }
                }
            }
            if (!added) {
                List<LambdaSpec> lambdas = new ArrayList<>(seen.lambdas().keySet());
                Map<String, byte[]> classes = plan.classFiles();
                for (LambdaSpec lambda : lambdas) {
                    String owner = lambda.implClass().replace('/', '.');
                    if (!classes.containsKey(owner)) {
                        // a server makes a lambda in the shipped class of its code, which it has checked
                        throw new IllegalArgumentException("the lambda " + owner + "::" + lambda.implName() + " cannot "
                                + "be shipped: it is a method reference to a class that does not ship (the JDK's, "
                                + "nnsight's or a library's). Write it as a lambda instead, such as x -> x."
                                + lambda.implName() + "(...)");
                    }
                }
                Envelope envelope = new Envelope(form.kind(), job.model().key(), Runtime.version().feature(),
                        classes, lambdas, graph);
                return new Shipment(envelope, job.model(), loader, capturedBy(body));
            }
        }
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
