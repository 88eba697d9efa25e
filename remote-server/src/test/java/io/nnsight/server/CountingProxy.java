package io.nnsight.server;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A TCP proxy on loopback in front of a server that records each HTTP request passing through it (its request
 * line), to count the exchanges a client makes. It reads requests with a {@code Content-Length} body or none, as
 * {@code HttpTransport} sends them, and passes answers through untouched.
 */
final class CountingProxy implements AutoCloseable {
    private final ServerSocket listener;
    private final int targetPort;
    private final List<Exchange> requests = new ArrayList<>();
    private final List<Socket> sockets = new ArrayList<>();

    /** A proxy to the server listening on {@code targetPort} of loopback. */
    CountingProxy(int targetPort) {
        this.targetPort = targetPort;
        try {
            listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        daemon(this::accept);
    }

    /** The URL that reaches the server through the proxy. */
    String url() {
        return "http://127.0.0.1:" + listener.getLocalPort();
    }

    /** A request that passed: its request line ({@code POST /request HTTP/1.1}) and its header lines. */
    record Exchange(String line, List<String> headers) {
        /** Whether it had the header line {@code header} ({@code "Expect: 100-continue"}), ignoring case. */
        boolean has(String header) {
            return headers.stream().anyMatch(header::equalsIgnoreCase);
        }
    }

    /** The requests since the last call, which forgets them. */
    synchronized List<Exchange> takeRequests() {
        List<Exchange> taken = new ArrayList<>(requests);
        requests.clear();
        return taken;
    }

    /** The request lines of {@link #takeRequests()}. */
    List<String> takeRequestLines() {
        return takeRequests().stream().map(Exchange::line).toList();
    }

    private void accept() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                Socket server = new Socket(InetAddress.getLoopbackAddress(), targetPort);
                synchronized (this) {
                    sockets.add(client);
                    sockets.add(server);
                }
                daemon(() -> pipe(server, client));
                daemon(() -> requests(client, server));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private static void daemon(Runnable task) {
        Thread thread = new Thread(task, "counting-proxy");
        thread.setDaemon(true);
        thread.start();
    }

    private static void pipe(Socket from, Socket to) {
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            in.transferTo(out);
        } catch (IOException e) {
            // one side closed: so does the other
        }
        closeQuietly(to);
    }

    /** Copies requests from {@code client} to {@code server}, recording each request line. */
    private void requests(Socket client, Socket server) {
        try (InputStream in = new BufferedInputStream(client.getInputStream()); OutputStream out = server.getOutputStream()) {
            for (String requestLine; (requestLine = line(in)) != null; ) {
                ByteArrayOutputStream head = new ByteArrayOutputStream();
                head.write((requestLine + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
                List<String> headers = new ArrayList<>();
                long length = 0;
                for (String header; (header = line(in)) != null && !header.isEmpty(); ) {
                    headers.add(header);
                    head.write((header + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
                    String lower = header.toLowerCase(Locale.ROOT);
                    if (lower.startsWith("content-length:")) {
                        length = Long.parseLong(header.substring("content-length:".length()).trim());
                    } else if (lower.startsWith("transfer-encoding:")) {
                        throw new IllegalStateException("the counting proxy reads no chunked requests: " + header);
                    }
                }
                head.write("\r\n".getBytes(StandardCharsets.ISO_8859_1));
                synchronized (this) {
                    requests.add(new Exchange(requestLine, headers));
                }
                out.write(head.toByteArray());
                out.flush(); // the server answers Expect: 100-continue before the body comes
                byte[] buffer = new byte[64 * 1024];
                for (long left = length; left > 0; ) {
                    int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
                    if (n < 0) {
                        return;
                    }
                    out.write(buffer, 0, n);
                    out.flush();
                    left -= n;
                }
            }
        } catch (IOException e) {
            // one side closed: so does the other
        } finally {
            closeQuietly(server);
        }
    }

    /** A line without its CRLF, in ISO-8859-1; {@code null} at the end of the stream. */
    private static String line(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        for (int b; (b = in.read()) >= 0; ) {
            if (b == '\n') {
                int end = line.length() > 0 && line.charAt(line.length() - 1) == '\r' ? line.length() - 1 : line.length();
                return line.substring(0, end);
            }
            line.append((char) b);
        }
        return line.length() == 0 ? null : line.toString();
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException e) {
            // closed already
        }
    }

    /** Breaks every connection open through it, as a network failure would; new ones still go through. */
    synchronized void cut() {
        sockets.forEach(CountingProxy::closeQuietly);
        sockets.clear();
    }

    @Override
    public synchronized void close() throws IOException {
        listener.close();
        sockets.forEach(CountingProxy::closeQuietly);
    }
}
