package io.nnsight.remote.internal.shipping;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.TraceBody;
import io.nnsight.TraceJob;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Shared;
import io.nnsight.remote.internal.wire.Envelope;
import io.nnsight.remote.internal.wire.ValueGraphs;
import io.nnsight.remote.internal.wire.ResultPayload;
import java.net.URI;
import java.util.List;
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
