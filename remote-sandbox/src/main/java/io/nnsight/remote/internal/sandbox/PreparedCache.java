package io.nnsight.remote.internal.sandbox;

import io.nnsight.remote.internal.wire.LambdaSpec;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The class files a {@link Sandbox} prepared from shipped code it accepted, kept for the next job that ships
 * exactly the same code: clients of one program ship identical classes with every job, and checking them is most
 * of what a small job costs the server.
 *
 * <pre>{@code
 * String key = PreparedCache.key(classes, lambdas.specs());
 * Sandbox.Prepared prepared = cache.get(key);      // null: check, rewrite, then cache.put(key, prepared)
 * }</pre>
 *
 * <p>The key is the SHA-256 digest of everything the preparation reads from the request, each part prefixed with its
 * length so that no two different requests write the same stream: the binary name and every byte of every class
 * file, in the request's order, and every field of every lambda spec, in order (a spec's index names its factory).
 * What else the preparation depends on, the allow-list, the server's classes and the JVM, is fixed for one {@link
 * Sandbox}, which owns its cache. A request that differs from a cached one in any byte has another key, and is
 * checked as if nothing were cached.
 *
 * <p>Only accepted code is kept, never a refusal, and only the rewritten class files (and whether they can use
 * autograd): a job defines them in a {@link JobClassLoader} of its own, or takes one that a job of the same code gave
 * back ({@link LoaderPool}), so no two running jobs share classes or static fields. The maps handed out are
 * unmodifiable and shared by every job that hits; nothing writes to their arrays ({@link JobClassLoader} only reads
 * them to define classes).
 *
 * <p>Bounded: at most {@code maxEntries} entries and {@code maxBytes} bytes of class files and names; the least
 * recently used entries are dropped first, and code larger than the whole bound is not kept.
 */
final class PreparedCache {
    /**
     * A digest never updated, cloned for each key: cloning is much cheaper than looking the algorithm up among the
     * security providers, as {@code MessageDigest.getInstance} does each time.
     */
    private static final MessageDigest SHA_256 = sha256();

    private final int maxEntries;
    private final long maxBytes;
    private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>(16, 0.75f, true);
    private long bytes;
    private long hits;

    /** The prepared classes of one request and how many bytes they count for. */
    private record Entry(Sandbox.Prepared prepared, long bytes) {}

    PreparedCache(int maxEntries, long maxBytes) {
        if (maxEntries < 0 || maxBytes < 0) {
            throw new IllegalArgumentException("the bounds of the cache must not be negative: " + maxEntries
                    + " entries, " + maxBytes + " bytes");
        }
        this.maxEntries = maxEntries;
        this.maxBytes = maxBytes;
    }

    /**
     * The key of shipped {@code classes} with the server's factories for {@code lambdas} (see the class comment).
     */
    static String key(Map<String, byte[]> classes, List<LambdaSpec> lambdas) {
        MessageDigest digest;
        try {
            digest = (MessageDigest) SHA_256.clone();
        } catch (CloneNotSupportedException e) {
            throw new IllegalStateException("the SHA-256 of every Java runtime can be cloned", e);
        }
        number(digest, classes.size());
        for (Map.Entry<String, byte[]> shipped : classes.entrySet()) {
            text(digest, shipped.getKey());
            bytes(digest, shipped.getValue());
        }
        number(digest, lambdas.size());
        for (LambdaSpec spec : lambdas) {
            text(digest, spec.capturingClass());
            text(digest, spec.functionalInterface());
            text(digest, spec.interfaceMethod());
            text(digest, spec.interfaceMethodType());
            number(digest, spec.implKind());
            text(digest, spec.implClass());
            text(digest, spec.implName());
            text(digest, spec.implDescriptor());
            text(digest, spec.instantiatedType());
            number(digest, spec.capturedCount());
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /** The classes prepared from the request of this key, or {@code null} when they are not kept. */
    synchronized Sandbox.Prepared get(String key) {
        Entry entry = entries.get(key);
        if (entry == null) {
            return null;
        }
        hits++;
        return entry.prepared();
    }

    /** Keeps {@code prepared} for the request of this key, dropping the least recently used. */
    synchronized void put(String key, Sandbox.Prepared prepared) {
        long size = 0;
        for (Map.Entry<String, byte[]> type : prepared.classes().entrySet()) {
            size += type.getKey().length() + type.getValue().length;
        }
        if (size > maxBytes || maxEntries == 0) {
            return;
        }
        Entry previous = entries.put(key, new Entry(prepared, size));
        bytes += size - (previous == null ? 0 : previous.bytes());
        Iterator<Entry> eldest = entries.values().iterator();
        while (entries.size() > maxEntries || bytes > maxBytes) {
            bytes -= eldest.next().bytes();
            eldest.remove();
        }
    }

    /** How many requests' classes are kept. */
    synchronized int size() {
        return entries.size();
    }

    /** How many times {@link #get} found what it was asked for. */
    synchronized long hits() {
        return hits;
    }

    /** How many bytes of class files and names are kept. */
    synchronized long bytes() {
        return bytes;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }

    private static void number(MessageDigest digest, int value) {
        digest.update(new byte[] {(byte) (value >>> 24), (byte) (value >>> 16), (byte) (value >>> 8), (byte) value});
    }

    private static void bytes(MessageDigest digest, byte[] value) {
        number(digest, value.length);
        digest.update(value);
    }

    private static void text(MessageDigest digest, String value) {
        if (value == null) {
            number(digest, -1);
        } else {
            bytes(digest, value.getBytes(StandardCharsets.UTF_8));
        }
    }
}
