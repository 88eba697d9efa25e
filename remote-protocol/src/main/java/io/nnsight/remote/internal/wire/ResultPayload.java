package io.nnsight.remote.internal.wire;

import java.nio.ByteBuffer;
import java.util.Arrays;

/** The result payload of a job: a marker and the result's object graph ({@link ValueGraphs}). */
public final class ResultPayload {
    private static final int MAGIC = 0x4e4e5352; // "NNSR"

    private ResultPayload() {}

    /** Frames a result graph. */
    public static byte[] write(byte[] graph) {
        return ByteBuffer.allocate(4 + graph.length).putInt(MAGIC).put(graph).array();
    }

    /**
     * The result graph of a payload.
     *
     * @throws IllegalArgumentException when the bytes are not a result payload
     */
    public static byte[] graph(byte[] payload) {
        if (payload.length < 4 || ByteBuffer.wrap(payload).getInt() != MAGIC) {
            throw new IllegalArgumentException("the server's answer is not an nnsight result");
        }
        return Arrays.copyOfRange(payload, 4, payload.length);
    }
}
