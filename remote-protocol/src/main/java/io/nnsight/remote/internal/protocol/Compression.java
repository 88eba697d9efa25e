package io.nnsight.remote.internal.protocol;

import com.github.luben.zstd.RecyclingBufferPool;
import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;
import com.github.luben.zstd.ZstdInputStreamNoFinalizer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.ArrayBlockingQueue;

/**
 * The zstd compression of request and result payloads (level 3), and decompression that never trusts its
 * input: it stops as soon as the output would pass a limit (a few kilobytes of zstd can claim gigabytes: a
 * decompression bomb), and turns data that is not zstd into a {@link MalformedException}.
 *
 * <p>A payload of one frame that declares a content size of at most {@link #DIRECT_BYTES} (every payload
 * {@link #compress} makes up to that size) inflates in one step into an array of exactly that size; zstd checks
 * the declared size against the data, so a frame that lies about it is refused as malformed. Any other payload
 * (no declared size, several frames, or a larger one) streams, growing its output only as the data really
 * inflates. The zstd contexts come from small bounded pools rather than fresh for each payload: a context is
 * reused only by one caller at a time, whatever the thread, and holds no data between uses.
 *
 * <pre>{@code
 * byte[] packed = Compression.compress(payload);
 * byte[] payload = Compression.decompress(packed, 256L << 20);   // TooLargeException past 256 MiB
 * }</pre>
 */
public final class Compression {
    /**
     * The zstd level of every payload: zstd's default, about 370 MB/s here on a 30 KiB request, three times as fast
     * as level 6 for an output 6% larger.
     */
    public static final int LEVEL = 3;

    /**
     * The largest declared content size that is allocated up front and inflated in one step (4 MiB); a larger
     * payload streams, so a frame that lies about its size never costs more than this before zstd refuses it.
     */
    public static final int DIRECT_BYTES = 4 << 20;

    private static final int CHUNK = 64 * 1024;
    /** The most idle contexts of each kind kept: enough for a few concurrent payloads on a small machine. */
    private static final int POOLED = 4;

    private static final ArrayBlockingQueue<ZstdCompressCtx> COMPRESSORS = new ArrayBlockingQueue<>(POOLED);
    private static final ArrayBlockingQueue<Inflater> INFLATERS = new ArrayBlockingQueue<>(POOLED);

    private Compression() {}

    /** {@code data} as one zstd frame at level {@link #LEVEL}, declaring its content size. */
    public static byte[] compress(byte[] data) {
        ZstdCompressCtx ctx = COMPRESSORS.poll();
        if (ctx == null) {
            ctx = new ZstdCompressCtx().setLevel(LEVEL).setContentSize(true);
        }
        try {
            return ctx.compress(data); // starts a new frame whatever the context did before
        } finally {
            if (!COMPRESSORS.offer(ctx)) {
                ctx.close();
            }
        }
    }

    /**
     * Decompresses {@code data}.
     *
     * @param maxBytes the most bytes the output may have
     * @throws TooLargeException as soon as the output passes {@code maxBytes}
     * @throws MalformedException when {@code data} is empty, not zstd, truncated or corrupt, or its declared size
     *     is not its real size
     */
    public static byte[] decompress(byte[] data, long maxBytes) {
        long declared = checkHeader(data, maxBytes);
        if (declared >= 0 && declared <= maxBytes && declared <= DIRECT_BYTES) {
            return inflateExactly(data, (int) declared);
        }
        int initial = (int) Math.min(Math.min(maxBytes, DIRECT_BYTES),
                declared >= 0 ? declared : Math.max(CHUNK, data.length * 4L));
        ByteArrayOutputStream out = new ByteArrayOutputStream(initial);
        stream(data, maxBytes, out);
        return out.toByteArray();
    }

    /**
     * Decompresses {@code data} without keeping the output, to check it before storing it compressed.
     *
     * @param maxBytes the most bytes the output may have
     * @return the size of the output in bytes
     * @throws TooLargeException as soon as the output passes {@code maxBytes}
     * @throws MalformedException when {@code data} is empty, not zstd, truncated or corrupt, or its declared size
     *     is not its real size
     */
    public static long decompressedSize(byte[] data, long maxBytes) {
        long declared = checkHeader(data, maxBytes);
        if (declared >= 0 && declared <= maxBytes && declared <= DIRECT_BYTES) {
            return countPooled(data, maxBytes);
        }
        return stream(data, maxBytes, null);
    }

    /**
     * The first {@code bytes} bytes of {@code data} decompressed, or all of it when it is shorter: enough to read a
     * payload's header without inflating (and holding) the rest.
     *
     * @throws MalformedException when {@code data} is empty, not zstd, or corrupt before that many bytes
     */
    public static byte[] decompressPrefix(byte[] data, int bytes) {
        long declared = checkHeader(data, bytes);
        byte[] prefix = new byte[bytes];
        int read = 0;
        if (declared >= 0 && declared <= DIRECT_BYTES) { // a small window: a pooled context stays small
            Inflater inflater = borrow();
            try {
                ByteBuffer in = ByteBuffer.wrap(data);
                ByteBuffer out = ByteBuffer.wrap(prefix);
                while (out.hasRemaining() && !inflater.ctx.decompressByteBufferStream(out, in) && in.hasRemaining()) {
                    // until the prefix is full, the frame ends, or the data does
                }
                read = out.position();
            } catch (ZstdException e) {
                throw malformed(e);
            } finally {
                giveBack(inflater);
            }
        } else {
            try (InputStream in = new ZstdInputStreamNoFinalizer(new ByteArrayInputStream(data),
                    RecyclingBufferPool.INSTANCE)) {
                for (int n; read < bytes && (n = in.read(prefix, read, bytes - read)) >= 0; ) {
                    read += n;
                }
            } catch (IOException e) {
                throw new MalformedException("the payload is not valid zstd data: " + e.getMessage());
            }
        }
        return read == bytes ? prefix : Arrays.copyOf(prefix, read);
    }

    /**
     * Checks the limit and zstd's magic number.
     *
     * @return the content size the payload's only frame declares, or -1 when it declares none or has several
     *     frames (or a frame header zstd cannot read: streaming then says what is wrong)
     */
    private static long checkHeader(byte[] data, long maxBytes) {
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
        long declared = Zstd.getFrameContentSize(data); // negative: unknown, or a header zstd cannot read
        if (declared < 0) {
            return -1;
        }
        try {
            return Zstd.findFrameCompressedSize(data) == data.length ? declared : -1;
        } catch (ZstdException e) {
            return -1;
        }
    }

    /** Inflates a frame that declares {@code size} bytes in one step into an array of that size. */
    private static byte[] inflateExactly(byte[] data, int size) {
        byte[] out = new byte[size];
        Inflater inflater = borrow();
        try {
            int n = inflater.ctx.decompressByteArray(out, 0, size, data, 0, data.length);
            if (n != size) {
                throw new MalformedException("the payload is not valid zstd data: its frame declares " + size
                        + " bytes but holds " + n);
            }
            return out;
        } catch (ZstdException e) {
            throw malformed(e);
        } finally {
            giveBack(inflater);
        }
    }

    /**
     * Streams a frame that declares at most {@link #DIRECT_BYTES} through a pooled context and its chunk,
     * keeping none of the output; such a frame's stream window is no larger than its declared size, so the
     * context's memory stays small when it goes back to the pool.
     */
    private static long countPooled(byte[] data, long maxBytes) {
        Inflater inflater = borrow();
        try {
            ZstdDecompressCtx ctx = inflater.ctx;
            ByteBuffer in = ByteBuffer.wrap(data);
            ByteBuffer out = ByteBuffer.wrap(inflater.chunk);
            long total = 0;
            while (true) {
                out.clear();
                boolean flushed = ctx.decompressByteBufferStream(out, in);
                total += out.position();
                if (total > maxBytes) {
                    throw new TooLargeException(maxBytes);
                }
                if (flushed && !in.hasRemaining()) {
                    return total;
                }
                if (!in.hasRemaining() && out.hasRemaining()) {
                    throw new MalformedException("the payload is not valid zstd data: it ends inside its frame (truncated)");
                }
            }
        } catch (ZstdException e) {
            throw malformed(e);
        } finally {
            giveBack(inflater);
        }
    }

    /**
     * Streams any payload with a fresh decoder (its window can be as large as the frame asks, so it is not
     * pooled), stopping as soon as the output passes {@code maxBytes}.
     */
    private static long stream(byte[] data, long maxBytes, ByteArrayOutputStream out) {
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

    private static MalformedException malformed(ZstdException e) {
        return new MalformedException("the payload is not valid zstd data: " + e.getMessage());
    }

    private static Inflater borrow() {
        Inflater inflater = INFLATERS.poll();
        return inflater != null ? inflater : new Inflater();
    }

    /** Resets the context (a failed frame leaves it mid-stream) and pools it, or frees it when the pool is full. */
    private static void giveBack(Inflater inflater) {
        inflater.ctx.reset();
        if (!INFLATERS.offer(inflater)) {
            inflater.ctx.close();
        }
    }

    /** A decompression context and the chunk its streams inflate into, used by one caller at a time. */
    private static final class Inflater {
        final ZstdDecompressCtx ctx = new ZstdDecompressCtx();
        final byte[] chunk = new byte[CHUNK];
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
