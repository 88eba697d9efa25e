package io.nnsight.remote.internal.protocol;

import com.github.luben.zstd.RecyclingBufferPool;
import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdInputStreamNoFinalizer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * The zstd compression of request and result payloads (level 6), and decompression that never trusts its
 * input: it streams, stops as soon as the output would pass a limit (a few kilobytes of zstd can claim
 * gigabytes: a decompression bomb), and turns data that is not zstd into a {@link MalformedException}.
 *
 * <pre>{@code
 * byte[] packed = Compression.compress(payload);
 * byte[] payload = Compression.decompress(packed, 256L << 20);   // TooLargeException past 256 MiB
 * }</pre>
 */
public final class Compression {
    /** The zstd level of every payload: a good ratio at a few hundred megabytes per second. */
    public static final int LEVEL = 6;

    private static final int CHUNK = 64 * 1024;

    private Compression() {}

    /** {@code data} as one zstd frame at level {@link #LEVEL}. */
    public static byte[] compress(byte[] data) {
        return Zstd.compress(data, LEVEL);
    }

    /**
     * Decompresses {@code data}.
     *
     * @param maxBytes the most bytes the output may have
     * @throws TooLargeException as soon as the output passes {@code maxBytes}
     * @throws MalformedException when {@code data} is empty, not zstd, truncated or corrupt
     */
    public static byte[] decompress(byte[] data, long maxBytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) Math.min(maxBytes, Math.max(CHUNK, data.length * 4L)));
        inflate(data, maxBytes, out);
        return out.toByteArray();
    }

    /**
     * Decompresses {@code data} without keeping the output, to check it before storing it compressed.
     *
     * @param maxBytes the most bytes the output may have
     * @return the size of the output in bytes
     * @throws TooLargeException as soon as the output passes {@code maxBytes}
     * @throws MalformedException when {@code data} is empty, not zstd, truncated or corrupt
     */
    public static long decompressedSize(byte[] data, long maxBytes) {
        return inflate(data, maxBytes, null);
    }

    private static long inflate(byte[] data, long maxBytes, ByteArrayOutputStream out) {
        if (maxBytes < 0 || maxBytes > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("maxBytes must be between 0 and " + (Integer.MAX_VALUE - 8) + ": " + maxBytes);
        }
        if (data.length == 0) {
            throw new MalformedException("the payload is empty, expected zstd-compressed data");
        }
        if (data.length < 4 || (data[0] & 0xFF) != 0x28 || (data[1] & 0xFF) != 0xB5 || (data[2] & 0xFF) != 0x2F
                || (data[3] & 0xFF) != 0xFD) {
            throw new MalformedException("the payload is not zstd-compressed data (it does not start with zstd's magic number)");
        }
        long total = 0;
        byte[] buffer = new byte[CHUNK];
        // the stream's buffers come from zstd-jni's pool rather than fresh for each payload; closing gives them back
        try (InputStream in = new ZstdInputStreamNoFinalizer(new ByteArrayInputStream(data),
                RecyclingBufferPool.INSTANCE)) {
            for (int n; (n = in.read(buffer)) >= 0; ) {
                total += n;
                if (total > maxBytes) {
                    throw new TooLargeException(maxBytes);
                }
                if (out != null) {
                    out.write(buffer, 0, n);
                }
            }
        } catch (IOException e) {
            throw new MalformedException("the payload is not valid zstd data: " + e.getMessage());
        }
        return total;
    }

    /** Data that is not a complete zstd stream. */
    public static final class MalformedException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        MalformedException(String message) {
            super(message);
        }
    }

    /** Data that decompresses to more bytes than allowed. */
    public static final class TooLargeException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        private final long limit;

        TooLargeException(long limit) {
            super("the payload decompresses to more than " + limit + " bytes, the limit");
            this.limit = limit;
        }

        /** The limit that was passed, in bytes. */
        public long limit() {
            return limit;
        }
    }
}
