package io.nnsight.remote.internal.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class StatusMessageTest {
    @Test
    void toJson_roundTrips() {
        StatusMessage queued = new StatusMessage("a-b", JobStatus.QUEUED, "note <x> & \"y\"\nnext", 2, null, 1764172800000L);
        assertEquals(queued, StatusMessage.fromJson(queued.toJson()));
        StatusMessage completed = StatusMessage.completed("a-b", 1234);
        assertEquals(completed, StatusMessage.fromJson(completed.toJson()));
    }

    @Test
    void toJson_leavesOutNulls() {
        String json = new StatusMessage("id1", JobStatus.RUNNING, null, null, null, 5).toJson();
        assertEquals("{\"id\":\"id1\",\"status\":\"RUNNING\",\"time\":5}", json);
    }

    @Test
    void toJson_isOneLine() {
        assertFalse(StatusMessage.of("id", JobStatus.LOG, "two\nlines\r").toJson().contains("\n"));
    }

    @Test
    void fromJson_protocolExample() {
        StatusMessage message = StatusMessage.fromJson("{\"id\": \"x\", \"status\": \"QUEUED\", \"description\": \"d\","
                + " \"position\": 2, \"size\": 1234, \"time\": 1764172800000}");
        assertEquals(new StatusMessage("x", JobStatus.QUEUED, "d", 2, 1234L, 1764172800000L), message);
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
