package io.nnsight.remote.internal.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.remote.RemoteException;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The transport without a server; {@code remote-server}'s tests run it against real servers. */
class HttpTransportTest {
    @Test
    void ping_nothingListening() throws IOException {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        String url = "http://127.0.0.1:" + port;
        try (HttpTransport http = new HttpTransport(url, "key")) {
            RemoteException e = assertTimeoutPreemptively(Duration.ofSeconds(20),
                    () -> assertThrows(RemoteException.class, http::ping));
            assertTrue(e.getMessage().contains("cannot reach the nnsight server at " + url), e.getMessage());
            assertTrue(e.getMessage().contains("is `nnsight serve` running there"), e.getMessage());
        }
    }

    @Test
    void constructor_notAnHttpUrl() {
        for (String url : new String[] {"localhost:8642", "ftp://host/", "http://", "::"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new HttpTransport(url, null), url);
            assertTrue(e.getMessage().contains(url), e.getMessage());
        }
    }

    @Test
    void url_withoutTrailingSlash() {
        try (HttpTransport http = new HttpTransport("http://example.org:8642/nnsight/", null)) {
            assertEquals("http://example.org:8642/nnsight", http.url());
        }
    }
}
