package io.nnsight.remote.internal.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.luben.zstd.ZstdOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CompressionTest {
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
}
