package io.nnsight.server;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.TraceBody;
import io.nnsight.TraceJob;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Shared;
import io.nnsight.remote.internal.shipping.Shipment;
import io.nnsight.remote.internal.wire.Envelope;
import io.nnsight.remote.internal.wire.GraphClasses;
import io.nnsight.remote.internal.wire.LambdaFactory;
import io.nnsight.remote.internal.wire.ValueGraphs;
import io.nnsight.remote.sandbox.SandboxedExecutor;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobFailedException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Well-formed requests whose contents do not make a job: the sandboxed executor refuses each with a {@link
 * JobFailedException} that says what is wrong.
 */
class ExecutorRefusalsTest {
    private static LanguageModel lm;

    @BeforeAll
    static void load() {
        lm = Shared.stories();
    }

    private static JobFailedException assertExecutorRefuses(Envelope envelope, String... parts) {
        JobContext context = new JobContext("test", Duration.ofSeconds(30), line -> {});
        JobFailedException error = assertThrows(JobFailedException.class,
                () -> new SandboxedExecutor().execute(lm, envelope.write(), context));
        for (String part : parts) {
            assertTrue(error.getMessage().contains(part), "missing \"" + part + "\" in: " + error.getMessage());
        }
        return error;
    }

    private static Envelope realEnvelope() {
        TraceBody<Tensor> body = tr -> lm.get("lm_head").output();
        return Shipment.of(new TraceJob<>(lm, Shared.STORIES_PROMPT, body)).envelope();
    }

    @Test
    void malformedPayload_isRefusedByTheExecutor() {
        JobContext context = new JobContext("test", Duration.ofSeconds(30), line -> {});
        JobFailedException error = assertThrows(JobFailedException.class,
                () -> new SandboxedExecutor().execute(lm, new byte[] {1, 2, 3}, context));

        assertTrue(error.getMessage().contains("not an nnsight job"), error.getMessage());
    }

    @Test
    void unknownKind_isRefusedByTheExecutor() {
        Envelope real = realEnvelope();
        Envelope envelope = new Envelope("TRAIN", real.modelKey(), real.javaFeature(), real.classes(), real.lambdas(),
                real.graph());

        assertExecutorRefuses(envelope, "unknown kind of job: TRAIN");
    }

    @Test
    void kindTheBodyCannotRun_isRefusedByTheExecutor() {
        Envelope real = realEnvelope();
        Envelope envelope = new Envelope("SESSION", real.modelKey(), real.javaFeature(), real.classes(),
                real.lambdas(), real.graph());

        assertExecutorRefuses(envelope, "cannot run a SESSION job");
    }

    @Test
    void lambdaWhoseClassIsNotShipped_isRefusedByTheExecutor() {
        Envelope real = realEnvelope();
        Envelope envelope = new Envelope(real.kind(), real.modelKey(), real.javaFeature(), Map.of(), real.lambdas(),
                real.graph());

        assertExecutorRefuses(envelope, "a class it does not ship");
    }

    @Test
    void graphThatIsNotAJob_isRefusedByTheExecutor() {
        Envelope real = realEnvelope();
        Envelope notAJob = new Envelope(real.kind(), real.modelKey(), real.javaFeature(), real.classes(),
                real.lambdas(), ValueGraphs.write(List.of("not", "a", "job"), ExecutorRefusalsTest.class.getClassLoader(), lm));
        Envelope garbage = new Envelope(real.kind(), real.modelKey(), real.javaFeature(), real.classes(),
                real.lambdas(), new byte[0]);

        assertExecutorRefuses(notAJob, "not a job's [input, options, body, edits, renames]");
        assertExecutorRefuses(garbage, "cannot read the values");
    }

    @Test
    void graphNamingAServerClass_isRefusedByTheExecutor_namingTheClass() throws Exception {
        // Kryo used to fall back to its own class loader for a name the job's refused, and made the URL
        Envelope real = realEnvelope();
        Envelope envelope = withGraph(real, Map.of(),
                new Object[] {null, null, java.net.URI.create("http://example.com").toURL(), List.of(), Map.of()});

        assertExecutorRefuses(envelope, "java.net.URL", "cannot be a value of a job");
    }

    @Test
    void staticFieldOfAClassNotShipped_isRefusedByTheExecutor() {
        Envelope real = realEnvelope();
        Envelope envelope = withGraph(real, Map.of("java/lang/Integer#MAX_VALUE", 3), valuesOf(real));

        assertExecutorRefuses(envelope, "java/lang/Integer#MAX_VALUE", "a class that does not ship with them");
    }

    @Test
    void editsThatAreNotBodies_areRefusedByTheExecutor() {
        Envelope real = realEnvelope();
        Object[] job = valuesOf(real);
        job[3] = "zero layer 2";
        Envelope notAList = withGraph(real, Map.of(), job);
        job[3] = List.of(7);
        Envelope notABody = withGraph(real, Map.of(), job);

        assertExecutorRefuses(notAList, "the request's edits are", "not a list");
        assertExecutorRefuses(notABody, "an edit in the request is", "not a TraceBody");
    }

    @Test
    void aliasesThatAreNotPathsToNames_areRefusedByTheExecutor() {
        Envelope real = realEnvelope();
        Object[] job = valuesOf(real);
        job[4] = List.of("model.layers", "blocks");
        Envelope notAMap = withGraph(real, Map.of(), job);
        job[4] = Map.of("model.layers", List.of(7));
        Envelope notAName = withGraph(real, Map.of(), job);

        assertExecutorRefuses(notAMap, "the request's aliases are", "not a map of module paths to lists of aliases");
        assertExecutorRefuses(notAName, "the request's aliases of model.layers hold", "not a name");
    }

    /** The values of {@code envelope}'s graph, {@code [input, options, body, edits, renames]}, read here. */
    private static Object[] valuesOf(Envelope envelope) {
        return (Object[]) ValueGraphs.read(envelope.graph(), ExecutorRefusalsTest.class.getClassLoader(), lm,
                LambdaFactory.DESERIALIZE_LAMBDA, statics -> {});
    }

    /** {@code envelope} with the graph of {@code statics} and then {@code values} instead of its own. */
    private static Envelope withGraph(Envelope envelope, Map<String, ?> statics, Object[] values) {
        byte[] graph = ValueGraphs.write(statics, values, ExecutorRefusalsTest.class.getClassLoader(), lm,
                new GraphClasses());
        return new Envelope(envelope.kind(), envelope.modelKey(), envelope.javaFeature(), envelope.classes(),
                envelope.lambdas(), graph);
    }
}
