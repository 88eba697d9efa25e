package io.nnsight.remote.internal.shipping;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.TraceBody;
import io.nnsight.TraceJob;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Shared;
import io.nnsight.remote.internal.allowlist.ValueClassLoader;
import io.nnsight.remote.internal.wire.Envelope;
import io.nnsight.remote.internal.wire.ValueGraphs;
import io.nnsight.remote.internal.wire.ResultPayload;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.util.List;
import javax.management.ObjectName;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@link Shipment#result}: the client takes back only what the job's code could have made. */
class ShipmentTest {
    private static LanguageModel lm;

    @BeforeAll
    static void load() {
        lm = Shared.stories();
    }

    private static byte[] answer(Object result) {
        return ResultPayload.write(ValueGraphs.write(new Object[] {result, new Object[0]}, ShipmentTest.class.getClassLoader(),
                lm));
    }

    @Test
    void result_ofValuesTheJobCouldMake_isRead() {
        Shipment shipment = Shipment.of(new TraceJob<>(lm, Shared.STORIES_PROMPT, tr -> List.of(1L, 2L)));

        assertEquals(List.of(1L, 2L), shipment.result(answer(List.of(1L, 2L))));
    }

    @Test
    void result_namingAClassTheJobCouldNotMake_isRefused() throws Exception {
        Shipment shipment = Shipment.of(new TraceJob<>(lm, Shared.STORIES_PROMPT, tr -> null));
        byte[] forged = answer(URI.create("http://example.com").toURL());

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> shipment.result(forged));

        assertTrue(error.getMessage().contains("java.net.URL cannot be a value of a job"), error.getMessage());
    }

    @Test
    void result_ofManyJobsOfTheSameCode_leavesNoClassLoaderBehindEach() throws Exception {
        TraceBody<List<Long>> body = tr -> List.of(1L, 2L);
        long before = valueLoadersKnownToTheJvm();

        for (int i = 0; i < 100; i++) {
            Shipment shipment = Shipment.of(new TraceJob<>(lm, Shared.STORIES_PROMPT, body));
            assertEquals(List.of(1L, 2L), shipment.result(answer(List.of(1L, 2L))));
        }

        // each loader that resolves a class keeps native memory in the JVM until classes are unloaded
        long made = valueLoadersKnownToTheJvm() - before;
        assertTrue(made <= 1, made + " loaders for the values of 100 results of one body");
    }

    /** The JVM's count of class loaders of job values ({@code jcmd VM.classloader_stats}): each costs native memory. */
    private static long valueLoadersKnownToTheJvm() throws Exception {
        String stats = (String) ManagementFactory.getPlatformMBeanServer().invoke(
                new ObjectName("com.sun.management:type=DiagnosticCommand"), "vmClassloaderStats", new Object[] {null},
                new String[] {String[].class.getName()});
        return stats.lines().filter(line -> line.endsWith(ValueClassLoader.class.getName())).count();
    }

    @Test
    void shipmentOfARealJob_roundTrips() {
        TraceBody<Tensor> body = tr -> lm.get("lm_head").output();
        Envelope envelope = Shipment.of(new TraceJob<>(lm, Shared.STORIES_PROMPT, body)).envelope();

        Envelope read = Envelope.read(envelope.write());

        assertEquals(envelope.classes().keySet(), read.classes().keySet());
        assertArrayEquals(envelope.graph(), read.graph());
        assertEquals("TRACE", read.kind());
        assertEquals(lm.key(), read.modelKey());
        assertEquals(Runtime.version().feature(), read.javaFeature());
        assertTrue(read.classes().containsKey(ShipmentTest.class.getName()), read.classes().keySet().toString());
    }

}
