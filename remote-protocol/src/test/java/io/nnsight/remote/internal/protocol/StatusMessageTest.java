package io.nnsight.remote.internal.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class StatusMessageTest {
    @Test
    void toJson_roundTrips() {
        StatusMessage queued = new StatusMessage("a-b", JobStatus.QUEUED, "note <x> & \"y\"\nnext", 2, null, 1764172800000L, null);
        assertEquals(queued, StatusMessage.fromJson(queued.toJson()));
        StatusMessage completed = StatusMessage.completed("a-b", 1234);
        assertEquals(completed, StatusMessage.fromJson(completed.toJson()));
    }

    @Test
    void toJson_sameTextAsGsonsReflection() {
        Gson gson = new GsonBuilder().disableHtmlEscaping().create();
        StatusMessage[] messages = {
            new StatusMessage("a-b", JobStatus.QUEUED, "note <x> & 'y' \"z\"\n\t\u0001 \u2028 \u00e9 \ud83d\ude00 \\", 0,
                    null, 1764172800000L, null),
            new StatusMessage("a-b", JobStatus.LOG, "", Integer.MAX_VALUE, Long.MAX_VALUE, -1, null),
            StatusMessage.queued("q", 3),
            StatusMessage.completed("c", 0).withResult(new byte[] {1, 2, 3, -1}),
            StatusMessage.of("e", JobStatus.ERROR, "failed: </script>"),
        };
        for (StatusMessage message : messages) {
            assertEquals(gson.toJson(message), message.toJson());
        }
    }

    @Test
    void toJson_leavesOutNulls() {
        String json = new StatusMessage("id1", JobStatus.RUNNING, null, null, null, 5, null).toJson();
        assertEquals("{\"id\":\"id1\",\"status\":\"RUNNING\",\"time\":5}", json);
    }

    @Test
    void withResult_base64FieldLast_roundTrips() {
        byte[] payload = Compression.compress("the result".getBytes(StandardCharsets.UTF_8));
        StatusMessage completed = new StatusMessage("id1", JobStatus.COMPLETED, null, null, 10L, 5, null).withResult(payload);
        String json = completed.toJson();
        assertEquals("{\"id\":\"id1\",\"status\":\"COMPLETED\",\"size\":10,\"time\":5,\"result\":\""
                + Base64.getEncoder().encodeToString(payload) + "\"}", json);
        StatusMessage read = StatusMessage.fromJson(json);
        assertEquals(completed, read);
        assertArrayEquals(payload, read.inlineResult());
        assertNull(StatusMessage.completed("id1", 10).inlineResult());
    }

    @Test
    void inlineResult_notBase64_refused() {
        StatusMessage broken = StatusMessage.fromJson("{\"id\":\"x\",\"status\":\"COMPLETED\",\"time\":5,\"result\":\"@@\"}");
        assertThrows(IllegalArgumentException.class, broken::inlineResult);
    }

    @Test
    void toJson_isOneLine() {
        assertFalse(StatusMessage.of("id", JobStatus.LOG, "two\nlines\r").toJson().contains("\n"));
    }

    @Test
    void fromJson_protocolExample() {
        StatusMessage message = StatusMessage.fromJson("{\"id\": \"x\", \"status\": \"QUEUED\", \"description\": \"d\","
                + " \"position\": 2, \"size\": 1234, \"time\": 1764172800000}");
        assertEquals(new StatusMessage("x", JobStatus.QUEUED, "d", 2, 1234L, 1764172800000L, null), message);
    }

    @Test
    void fromJson_malformed() {
        for (String json : new String[] {"", "[]", "not json", "{\"status\": \"RUNNING\"}", "{\"id\": \"x\"}",
                "{\"id\": \"x\", \"status\": \"DANCING\"}", "{\"id\": \"x\", \"status\": \"RUNNING\", \"time\": \"soon\"}"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> StatusMessage.fromJson(json), json);
            assertTrue(e.getMessage().startsWith("not a status message"), e.getMessage());
        }
    }

    @Test
    void terminal_completedAndErrorOnly() {
        for (JobStatus status : JobStatus.values()) {
            assertEquals(status == JobStatus.COMPLETED || status == JobStatus.ERROR, StatusMessage.of("x", status, null).terminal());
        }
    }
}
