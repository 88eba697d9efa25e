package io.nnsight.hub;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Holds the exclusive right to download one blob, against other threads and other JVMs that share the cache.
 * A file lock alone cannot exclude the threads of one JVM, so a JVM-wide lock per file is taken first.
 */
final class BlobLock implements AutoCloseable {
    private static final ConcurrentMap<Path, ReentrantLock> THREAD_LOCKS = new ConcurrentHashMap<>();

    private final ReentrantLock threadLock;
    private final FileChannel channel;

    private BlobLock(ReentrantLock threadLock, FileChannel channel) {
        this.threadLock = threadLock;
        this.channel = channel;
    }

    /** Waits until no other thread or JVM holds the lock file, then holds it. */
    static BlobLock acquire(Path lockFile) throws IOException {
        ReentrantLock threadLock = THREAD_LOCKS.computeIfAbsent(lockFile.toAbsolutePath().normalize(),
                key -> new ReentrantLock());
        threadLock.lock();
        try {
            Files.createDirectories(lockFile.getParent());
            FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            try {
                channel.lock();
            } catch (IOException | RuntimeException e) {
                channel.close();
                throw e;
            }
            return new BlobLock(threadLock, channel);
        } catch (IOException | RuntimeException e) {
            threadLock.unlock();
            throw e;
        }
    }

    /** Releases the file lock (closing its channel releases it) and then the JVM-wide lock. */
    @Override
    public void close() throws IOException {
        try {
            channel.close();
        } finally {
            threadLock.unlock();
        }
    }
}
