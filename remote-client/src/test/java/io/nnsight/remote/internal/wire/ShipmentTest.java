package io.nnsight.remote.internal.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.Job;
import io.nnsight.lm.LanguageModel;
import io.nnsight.remote.Stories;
import java.net.URI;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@link Shipment#result}: the client takes back only what the job's code could have made. */
class ShipmentTest {
    private static LanguageModel lm;

    @BeforeAll
    static void load() {
        lm = Stories.load();
    }

    private static byte[] answer(Object result) {
        return ResultPayload.write(Graphs.write(new Object[] {result, new Object[0]}, ShipmentTest.class.getClassLoader(),
                lm));
    }

    @Test
    void result_ofValuesTheJobCouldMake_isRead() {
        Shipment shipment = Shipment.of(Job.trace(lm, Stories.PROMPT, tr -> List.of(1L, 2L)));

        assertEquals(List.of(1L, 2L), shipment.result(answer(List.of(1L, 2L))));
    }

    @Test
    void result_namingAClassTheJobCouldNotMake_isRefused() throws Exception {
        Shipment shipment = Shipment.of(Job.trace(lm, Stories.PROMPT, tr -> null));
        byte[] forged = answer(URI.create("http://example.com").toURL());

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> shipment.result(forged));

        assertTrue(error.getMessage().contains("java.net.URL cannot be a value of a job"), error.getMessage());
    }
}
