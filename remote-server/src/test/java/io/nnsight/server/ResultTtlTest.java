package io.nnsight.server;

import static io.nnsight.server.TestServers.ALICE;
import static io.nnsight.server.TestServers.payload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.http.HttpTransport;
import io.nnsight.remote.internal.protocol.JobStatus;
import io.nnsight.remote.internal.protocol.Protocol;
import io.nnsight.remote.internal.protocol.StatusMessage;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Finished jobs are forgotten once their time to live has passed. */
class ResultTtlTest {
    @Test
    void result_expires() throws Exception {
        try (ModelServer server = TestServers.builder(new ScriptExecutor()).resultTtl(Duration.ofMillis(300)).start();
                HttpTransport http = new HttpTransport(server.url(), ALICE);
                RawHttp raw = new RawHttp(server.url())) {
            StatusMessage received = http.submit("tiny", payload("echo soon gone"));
            assertEquals(JobStatus.COMPLETED, http.stream(received.id(), m -> {}).status());
            Thread.sleep(600);
            for (String path : new String[] {Protocol.RESULT, Protocol.RESPONSE, Protocol.STREAM}) {
                RawHttp.Answer answer = raw.get(path + received.id(), Protocol.API_KEY_HEADER, ALICE);
                assertEquals(404, answer.code(), path);
                assertTrue(answer.error().endsWith("the id is unknown, or the job ended more than 300 ms ago"), answer.body());
            }
            assertThrows(RemoteException.class, () -> http.download(received.id(), 100));
        }
    }

    @Test
    void result_unfinishedJobNeverExpires() throws Exception {
        ScriptExecutor executor = new ScriptExecutor();
        try (ModelServer server = TestServers.builder(executor).resultTtl(Duration.ofMillis(100)).start();
                HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            StatusMessage received = http.submit("tiny", payload("wait patient"));
            Thread.sleep(400);
            assertEquals(JobStatus.RUNNING, http.poll(received.id()).status());
            executor.gate.countDown();
            assertEquals(JobStatus.COMPLETED, http.stream(received.id(), m -> {}).status());
            assertEquals("patient", TestServers.text(http.download(received.id(), 100)));
        }
    }
}
