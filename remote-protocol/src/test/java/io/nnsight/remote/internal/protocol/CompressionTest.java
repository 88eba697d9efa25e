package io.nnsight.remote.internal.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.luben.zstd.EndDirective;
import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class CompressionTest {
    /** {@code size} zero bytes as one frame that declares its size, compressed as they stream in. */
    static byte[] declaredBomb(long size) {
        ByteBuffer zeros = ByteBuffer.allocate(1 << 20);
        ByteBuffer out = ByteBuffer.allocate(1 << 20);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZstdCompressCtx ctx = new ZstdCompressCtx().setLevel(Compression.LEVEL)) {
            ctx.setPledgedSrcSize(size);
            for (long written = 0; written < size; ) {
                zeros.clear().limit((int) Math.min(zeros.capacity(), size - written));
                written += zeros.remaining();
                EndDirective end = written == size ? EndDirective.END : EndDirective.CONTINUE;
                boolean done;
                do {
                    out.clear();
                    done = ctx.compressByteBufferStream(out, zeros, end);
                    bytes.write(out.array(), 0, out.position());
                } while (zeros.hasRemaining() || (end == EndDirective.END && !done));
            }
        }
        return bytes.toByteArray();
    }

    /** {@code frame} with the content size its header declares replaced by {@code size} (same field width). */
    static byte[] declaring(byte[] frame, long size) {
        int descriptor = frame[4] & 0xFF;
        boolean singleSegment = (descriptor & 0x20) != 0;
        int sizeBytes = new int[] {singleSegment ? 1 : 0, 2, 4, 8}[descriptor >>> 6];
        int at = 5 + (singleSegment ? 0 : 1) + new int[] {0, 1, 2, 4}[descriptor & 3];
        long field = sizeBytes == 2 ? size - 256 : size;
        assertTrue(sizeBytes > 0 && (sizeBytes == 8 || field >>> (8 * sizeBytes) == 0) && field >= 0,
                "the frame's size field (" + sizeBytes + " bytes) cannot hold " + size);
        byte[] patched = frame.clone();
        for (int i = 0; i < sizeBytes; i++) {
            patched[at + i] = (byte) (field >>> (8 * i));
        }
        assertEquals(size, Zstd.getFrameContentSize(patched));
        return patched;
    }

    /** {@code data} as a frame that declares no content size, as a stream compressor writes it. */
    static byte[] undeclared(byte[] data) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZstdOutputStream out = new ZstdOutputStream(bytes, Compression.LEVEL)) {
            out.write(data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        byte[] frame = bytes.toByteArray();
        assertTrue(Zstd.getFrameContentSize(frame) < 0, "declares " + Zstd.getFrameContentSize(frame));
        return frame;
    }

    static byte[] randomish(int size, long seed) {
        byte[] data = new byte[size];
        new Random(seed).nextBytes(data);
        Arrays.fill(data, size / 10, size / 2, (byte) 7);
        return data;
    }

    /** A zstd stream of {@code size} zero bytes, without holding them: a few kilobytes per gigabyte. */
    static byte[] bomb(long size) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        byte[] zeros = new byte[1 << 20];
        try (ZstdOutputStream out = new ZstdOutputStream(bytes, Compression.LEVEL)) {
            for (long written = 0; written < size; written += zeros.length) {
                out.write(zeros, 0, (int) Math.min(zeros.length, size - written));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    @Test
    void decompressPrefix_longPayload_givesItsFirstBytesOnly() {
        byte[] payload = new byte[100_000];
        new Random(7).nextBytes(payload);

        byte[] prefix = Compression.decompressPrefix(Compression.compress(payload), 64);

        assertArrayEquals(Arrays.copyOf(payload, 64), prefix);
    }

    @Test
    void decompressPrefix_shortPayload_givesAllOfIt() {
        byte[] payload = "NNSJ".getBytes(StandardCharsets.US_ASCII);

        assertArrayEquals(payload, Compression.decompressPrefix(Compression.compress(payload), 64));
    }

    @Test
    void decompressPrefix_bomb_readsTheStartWithoutInflatingTheRest() {
        byte[] bomb = Compression.compress(new byte[Compression.DIRECT_BYTES * 16]); // 64 MiB of zeros, a few KiB packed

        byte[] prefix = assertTimeoutPreemptively(Duration.ofSeconds(5), () -> Compression.decompressPrefix(bomb, 64));

        assertArrayEquals(new byte[64], prefix);
    }

    @Test
    void decompressPrefix_notZstd_isMalformed() {
        assertThrows(Compression.MalformedException.class,
                () -> Compression.decompressPrefix("plain text".getBytes(StandardCharsets.US_ASCII), 64));
    }

    @Test
    void decompress_roundTrips() {
        byte[] data = new byte[300_000];
        new Random(1).nextBytes(data);
        Arrays.fill(data, 1000, 200_000, (byte) 7);
        byte[] packed = Compression.compress(data);
        assertTrue(packed.length < data.length);
        assertArrayEquals(data, Compression.decompress(packed, data.length));
        assertEquals(data.length, Compression.decompressedSize(packed, data.length));
        assertArrayEquals(new byte[0], Compression.decompress(Compression.compress(new byte[0]), 0));
    }

    @Test
    void decompress_pastLimit() {
        byte[] packed = Compression.compress(new byte[1001]);
        Compression.TooLargeException e = assertThrows(Compression.TooLargeException.class,
                () -> Compression.decompress(packed, 1000));
        assertEquals(1000, e.limit());
        assertTrue(e.getMessage().contains("more than 1000 bytes"), e.getMessage());
    }

    @Test
    void decompressedSize_bombStopsAtLimit() {
        byte[] bomb = bomb(1L << 30);
        assertTrue(bomb.length < 1 << 20, "1 GiB of zeros is " + bomb.length + " bytes compressed");
        // Streams: refused after the limit, without a gigabyte of memory or the time to inflate it all.
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            assertThrows(Compression.TooLargeException.class, () -> Compression.decompressedSize(bomb, 8L << 20));
            assertThrows(Compression.TooLargeException.class, () -> Compression.decompress(bomb, 8L << 20));
        });
    }

    @Test
    void decompress_notZstd() {
        Compression.MalformedException e = assertThrows(Compression.MalformedException.class,
                () -> Compression.decompress("hello, world".getBytes(StandardCharsets.UTF_8), 1000));
        assertTrue(e.getMessage().contains("not zstd-compressed"), e.getMessage());
    }

    @Test
    void decompress_empty() {
        Compression.MalformedException e = assertThrows(Compression.MalformedException.class,
                () -> Compression.decompress(new byte[0], 1000));
        assertTrue(e.getMessage().contains("empty"), e.getMessage());
    }

    @Test
    void decompress_truncated() {
        byte[] data = new byte[100_000];
        new Random(2).nextBytes(data);
        byte[] packed = Compression.compress(data);
        byte[] truncated = Arrays.copyOf(packed, packed.length / 2);
        Compression.MalformedException e = assertThrows(Compression.MalformedException.class,
                () -> Compression.decompress(truncated, 1 << 20));
        assertTrue(e.getMessage().contains("not valid zstd"), e.getMessage());
    }

    @Test
    void decompress_corrupt() {
        byte[] data = new byte[100_000];
        new Random(3).nextBytes(data);
        byte[] packed = Compression.compress(data);
        byte[] trailing = Arrays.copyOf(packed, packed.length + 16);
        Arrays.fill(trailing, packed.length, trailing.length, (byte) 0x5A);
        assertThrows(Compression.MalformedException.class, () -> Compression.decompress(trailing, 1 << 20));
        byte[] header = packed.clone();
        header[4] = (byte) 0xFF; // the frame header's descriptor: reserved bit set
        assertThrows(Compression.MalformedException.class, () -> Compression.decompress(header, 1 << 20));
    }

    @Test
    void decompress_declaredSizeClaimsMore_isMalformed() {
        byte[] data = randomish(100_000, 4);
        byte[] lie = declaring(Compression.compress(data), 150_000);
        Compression.MalformedException e = assertThrows(Compression.MalformedException.class,
                () -> Compression.decompress(lie, 1 << 20));
        assertTrue(e.getMessage().contains("not valid zstd"), e.getMessage());
        assertThrows(Compression.MalformedException.class, () -> Compression.decompressedSize(lie, 1 << 20));
        // claiming more than the limit streams, and the stream ends short of the claim
        assertThrows(Compression.MalformedException.class, () -> Compression.decompress(lie, 120_000));
        assertThrows(Compression.MalformedException.class, () -> Compression.decompressedSize(lie, 120_000));
    }

    @Test
    void decompress_declaredSizeClaimsLess_isMalformed() {
        byte[] data = randomish(100_000, 5);
        byte[] lie = declaring(Compression.compress(data), 70_000);
        assertThrows(Compression.MalformedException.class, () -> Compression.decompress(lie, 1 << 20));
        assertThrows(Compression.MalformedException.class, () -> Compression.decompressedSize(lie, 1 << 20));
        // the pooled contexts that met the lie still inflate honest payloads, more of them than the pool holds
        for (int i = 0; i < 10; i++) {
            assertArrayEquals(data, Compression.decompress(Compression.compress(data), data.length));
            assertEquals(data.length, Compression.decompressedSize(Compression.compress(data), data.length));
        }
    }

    @Test
    void decompress_bombDeclaringASmallSize_isMalformedWithoutInflatingIt() {
        byte[] bomb = declaring(declaredBomb(1L << 30), 1000);
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            assertThrows(Compression.MalformedException.class, () -> Compression.decompress(bomb, 8L << 20));
            assertThrows(Compression.MalformedException.class, () -> Compression.decompressedSize(bomb, 8L << 20));
        });
    }

    @Test
    void decompress_bombDeclaringItsSize_stopsAtLimit() {
        byte[] bomb = declaredBomb(1L << 30);
        assertEquals(1L << 30, Zstd.getFrameContentSize(bomb));
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            assertThrows(Compression.TooLargeException.class, () -> Compression.decompress(bomb, 8L << 20));
            assertThrows(Compression.TooLargeException.class, () -> Compression.decompressedSize(bomb, 8L << 20));
        });
    }

    @Test
    void decompress_withoutDeclaredSize_streams() {
        byte[] data = randomish(300_000, 6);
        byte[] frame = undeclared(data);
        assertArrayEquals(data, Compression.decompress(frame, data.length));
        assertEquals(data.length, Compression.decompressedSize(frame, data.length));
        assertThrows(Compression.TooLargeException.class, () -> Compression.decompress(frame, data.length - 1));
        assertThrows(Compression.TooLargeException.class, () -> Compression.decompressedSize(frame, data.length - 1));
        byte[] truncated = Arrays.copyOf(frame, frame.length / 2);
        assertThrows(Compression.MalformedException.class, () -> Compression.decompress(truncated, 1 << 20));
        assertThrows(Compression.MalformedException.class, () -> Compression.decompressedSize(truncated, 1 << 20));
    }

    @Test
    void decompress_atExactlyTheLimit() {
        for (int size : new int[] {1, 65_536, 65_537, 1_000_000, Compression.DIRECT_BYTES + 1}) {
            byte[] data = randomish(size, size);
            byte[] packed = Compression.compress(data);
            assertArrayEquals(data, Compression.decompress(packed, size), "size " + size);
            assertEquals(size, Compression.decompressedSize(packed, size), "size " + size);
            assertThrows(Compression.TooLargeException.class, () -> Compression.decompress(packed, size - 1));
            assertThrows(Compression.TooLargeException.class, () -> Compression.decompressedSize(packed, size - 1));
        }
    }

    @Test
    void decompress_twoFrames_streamsBoth() {
        byte[] first = randomish(50_000, 7);
        byte[] second = randomish(70_000, 8);
        byte[] a = Compression.compress(first);
        byte[] b = Compression.compress(second);
        byte[] both = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, both, a.length, b.length);
        byte[] expected = Arrays.copyOf(first, first.length + second.length);
        System.arraycopy(second, 0, expected, first.length, second.length);
        assertArrayEquals(expected, Compression.decompress(both, expected.length));
        assertEquals(expected.length, Compression.decompressedSize(both, expected.length));
        assertThrows(Compression.TooLargeException.class, () -> Compression.decompress(both, expected.length - 1));
    }

    @Test
    void decompress_concurrently_eachCallerGetsItsOwnPayload() throws Exception {
        List<byte[]> payloads = IntStream.range(0, 8).mapToObj(i -> randomish(20_000 + 5_000 * i, 100 + i)).toList();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Object>> runs = IntStream.range(0, 8).mapToObj(i -> pool.submit(() -> {
                byte[] data = payloads.get(i);
                for (int round = 0; round < 200; round++) {
                    byte[] packed = Compression.compress(data);
                    assertArrayEquals(data, Compression.decompress(packed, data.length));
                    assertEquals(data.length, Compression.decompressedSize(packed, data.length));
                }
                return null;
            })).toList();
            for (Future<Object> run : runs) {
                run.get();
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
