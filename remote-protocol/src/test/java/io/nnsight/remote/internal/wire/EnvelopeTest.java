package io.nnsight.remote.internal.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.TraceBody;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Shared;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The request payload ({@link Envelope}): it round-trips, and every malformed or oversized payload is refused
 * with an {@link IllegalArgumentException} that says what is wrong, before anything large is allocated.
 */
class EnvelopeTest {
    private static final int MAGIC = 0x4e4e534a;
    private static final LambdaSpec SPEC = new LambdaSpec("com/example/Probe", "io/nnsight/TraceBody", "run",
            "(Lio/nnsight/Tracer;)Ljava/lang/Object;", 6, "com/example/Probe", "lambda$main$0",
            "(Lio/nnsight/Tracer;)Lorg/bytedeco/pytorch/Tensor;", "(Lio/nnsight/Tracer;)Lorg/bytedeco/pytorch/Tensor;", 0);

    private static LanguageModel lm;

    @BeforeAll
    static void load() {
        lm = Shared.stories();
    }

    private static Envelope sample() {
        Map<String, byte[]> classes = new LinkedHashMap<>();
        classes.put("com.example.Probe", new byte[] {(byte) 0xCA, (byte) 0xFE, 1, 2});
        classes.put("com.example.Probe$Inner", new byte[0]);
        classes.put("com.example.ünïcode.Ok", new byte[] {7});
        return new Envelope("TRACE", "stories260K", 21, classes, List.of(SPEC), new byte[] {1, 2, 3});
    }

    private static void assertSameEnvelope(Envelope expected, Envelope actual) {
        assertEquals(expected.kind(), actual.kind());
        assertEquals(expected.modelKey(), actual.modelKey());
        assertEquals(expected.javaFeature(), actual.javaFeature());
        assertEquals(List.copyOf(expected.classes().keySet()), List.copyOf(actual.classes().keySet()));
        expected.classes().forEach((name, bytes) -> assertArrayEquals(bytes, actual.classes().get(name), name));
        assertEquals(expected.lambdas(), actual.lambdas());
        assertArrayEquals(expected.graph(), actual.graph());
    }

    /** Writes a payload field by field, as {@link Envelope#write} lays it out, so tests can break any field. */
    private static final class Payload {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final DataOutputStream out = new DataOutputStream(bytes);

        Payload header() {
            return integer(MAGIC).integer(Envelope.FORMAT).text("TRACE").text("stories260K").integer(21);
        }

        Payload integer(int value) {
            try {
                out.writeInt(value);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return this;
        }

        Payload text(String value) {
            try {
                out.writeUTF(value);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return this;
        }

        Payload raw(byte... value) {
            try {
                out.write(value, 0, value.length);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return this;
        }

        byte[] bytes() {
            return bytes.toByteArray();
        }
    }

    private static IllegalArgumentException assertRefused(byte[] payload, String... parts) {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> Envelope.read(payload));
        for (String part : parts) {
            assertTrue(error.getMessage().contains(part), "missing \"" + part + "\" in: " + error.getMessage());
        }
        return error;
    }

    // ---- round trips ----

    @Test
    void envelope_roundTrips() {
        Envelope envelope = sample();

        assertSameEnvelope(envelope, Envelope.read(envelope.write()));
    }

    @Test
    void emptyEnvelope_roundTrips() {
        Envelope envelope = new Envelope("SESSION", "", 17, Map.of(), List.of(), new byte[0]);

        assertSameEnvelope(envelope, Envelope.read(envelope.write()));
    }

    @Test
    void envelope_copiesWhatItIsGiven() {
        Map<String, byte[]> classes = new LinkedHashMap<>(Map.of("a.B", new byte[] {1}));
        List<LambdaSpec> lambdas = new ArrayList<>(List.of(SPEC));
        Envelope envelope = new Envelope("TRACE", "m", 17, classes, lambdas, new byte[0]);
        classes.clear();
        lambdas.clear();

        assertEquals(1, envelope.classes().size());
        assertEquals(1, envelope.lambdas().size());
        assertThrows(UnsupportedOperationException.class, () -> envelope.classes().put("c.D", new byte[0]));
    }

    // ---- malformed payloads ----

    @Test
    void kind_readsTheHeaderOnly() {
        Envelope envelope = sample();
        byte[] payload = envelope.write();
        byte[] truncated = Arrays.copyOf(payload, payload.length - 1);

        assertEquals(envelope.kind(), Envelope.kind(payload));
        assertEquals(envelope.kind(), Envelope.kind(truncated), "the kind is read without the rest of the payload");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Envelope.read(truncated)).getMessage()
                .contains("ends early"));
    }

    @Test
    void kind_ofOtherFormatOrMagic_isRefusedAsRead() {
        byte[] payload = sample().write();
        ByteBuffer.wrap(payload).putInt(4, Envelope.FORMAT + 1);
        byte[] empty = new byte[0];

        assertEquals(assertThrows(IllegalArgumentException.class, () -> Envelope.read(payload)).getMessage(),
                assertThrows(IllegalArgumentException.class, () -> Envelope.kind(payload)).getMessage());
        assertEquals(assertThrows(IllegalArgumentException.class, () -> Envelope.read(empty)).getMessage(),
                assertThrows(IllegalArgumentException.class, () -> Envelope.kind(empty)).getMessage());
        payload[0] = 'P';
        assertEquals(assertThrows(IllegalArgumentException.class, () -> Envelope.read(payload)).getMessage(),
                assertThrows(IllegalArgumentException.class, () -> Envelope.kind(payload)).getMessage());
    }

    @Test
    void emptyPayload_isRefused_asTruncated() {
        assertRefused(new byte[0], "ends early");
    }

    @Test
    void otherMagic_isRefused_asNotAJob() {
        byte[] payload = sample().write();
        payload[0] = 'P';

        assertRefused(payload, "not an nnsight job");
        assertRefused("GET / HTTP/1.1\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII), "not an nnsight job");
    }

    @Test
    void otherFormat_isRefused_namingBothFormats_andWhichBuildIsOlder() {
        byte[] older = sample().write();
        ByteBuffer.wrap(older).putInt(4, Envelope.FORMAT - 1);
        byte[] newer = sample().write();
        ByteBuffer.wrap(newer).putInt(4, Envelope.FORMAT + 1);

        assertRefused(older, "payload format " + (Envelope.FORMAT - 1), "reads " + Envelope.FORMAT,
                "client's nnsight build is older");
        assertRefused(newer, "payload format " + (Envelope.FORMAT + 1), "reads " + Envelope.FORMAT,
                "client's nnsight build is newer");
    }

    @Test
    void everyTruncation_isRefused() {
        byte[] payload = sample().write();

        for (int length = 0; length < payload.length; length++) {
            byte[] cut = Arrays.copyOf(payload, length);
            IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> Envelope.read(cut),
                    "cut at " + length);
            assertTrue(error.getMessage().contains("ends early") || error.getMessage().contains("bytes in"),
                    "cut at " + length + ": " + error.getMessage());
        }
    }

    @Test
    void trailingBytes_areRefused() {
        byte[] payload = Arrays.copyOf(sample().write(), sample().write().length + 1);

        assertRefused(payload, "bytes after its end");
    }

    @ParameterizedTest
    @ValueSource(ints = {-1, 10_001, Integer.MAX_VALUE, Integer.MIN_VALUE})
    void absurdClassCount_isRefused(int count) {
        assertRefused(new Payload().header().integer(count).bytes(), "lists " + count + " classes", "at most 10000");
    }

    @ParameterizedTest
    @ValueSource(ints = {-1, 10_001, Integer.MAX_VALUE})
    void absurdLambdaCount_isRefused(int count) {
        assertRefused(new Payload().header().integer(0).integer(count).bytes(), "lists " + count + " lambdas");
    }

    @ParameterizedTest
    @ValueSource(ints = {-1, Integer.MIN_VALUE, 1 << 30, Integer.MAX_VALUE})
    void classPartLongerThanThePayload_isRefused_withoutAllocatingIt(int length) {
        byte[] payload = new Payload().header().integer(1).text("a.B").integer(length).raw(new byte[8]).bytes();

        assertRefused(payload, "a part of " + length + " bytes");
    }

    @Test
    void graphPartLongerThanThePayload_isRefused() {
        byte[] payload = new Payload().header().integer(0).integer(0).integer(Integer.MAX_VALUE).bytes();

        assertRefused(payload, "a part of " + Integer.MAX_VALUE + " bytes");
    }

    @Test
    void partLongerThanWhatIsLeft_isRefused_asTruncated() {
        byte[] payload = new Payload().header().integer(1).text("a.B").integer(30).raw(new byte[8]).bytes();

        assertRefused(payload, "ends early");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "com/example/Probe", "../etc/passwd", "com.example.", ".Probe", "com..Probe",
            "com.example.Pro be", "1com.Probe", "com.example.Probe;"})
    void invalidClassName_isRefused_namingIt(String name) {
        byte[] payload = new Payload().header().integer(1).text(name).integer(0).integer(0).integer(0).bytes();

        assertRefused(payload, "invalid or repeated name: " + name);
    }

    @Test
    void repeatedClassName_isRefused() {
        byte[] payload = new Payload().header().integer(2).text("a.B").integer(0).text("a.B").integer(0).integer(0)
                .integer(0).bytes();

        assertRefused(payload, "invalid or repeated name: a.B");
    }

    @Test
    void malformedText_isRefused() {
        // a modified UTF-8 length of 2 followed by a byte that starts no character
        byte[] payload = new Payload().integer(MAGIC).integer(Envelope.FORMAT).raw((byte) 0, (byte) 2, (byte) 0xFF, (byte) 0xFF)
                .bytes();

        assertRefused(payload, "cannot be read");
    }

    @Test
    void manyEmptyLambdaSpecs_withinTheLimit_areRead() {
        Payload payload = new Payload().header().integer(0).integer(3);
        for (int i = 0; i < 3; i++) {
            payload.text("a/B").text("io/nnsight/TraceBody").text("run").text("()V").integer(6).text("a/B")
                    .text("lambda$" + i).text("()V").text("()V").integer(0);
        }
        payload.integer(0);

        assertEquals(3, Envelope.read(payload.bytes()).lambdas().size());
    }

    // ---- result payloads ----

    @Test
    void resultPayload_roundTripsItsGraph() {
        byte[] graph = ValueGraphs.write(new Object[] {"result", new Object[0]}, EnvelopeTest.class.getClassLoader(), lm);

        assertArrayEquals(graph, ResultPayload.graph(ResultPayload.write(graph)));
        assertArrayEquals(new byte[0], ResultPayload.graph(ResultPayload.write(new byte[0])));
    }

    @Test
    void resultPayload_refusesWhatIsNotAResult() {
        for (byte[] payload : List.of(new byte[0], new byte[] {'N', 'N', 'S'}, sample().write(),
                "{\"error\": \"x\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8))) {
            IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                    () -> ResultPayload.graph(payload));
            assertTrue(error.getMessage().contains("not an nnsight result"), error.getMessage());
        }
    }
}
