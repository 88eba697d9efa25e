package io.nnsight.internal.engine;

import java.lang.reflect.Method;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * Runs each body on its own thread, with a strict hand-off through two volatile slots and {@link
 * LockSupport#park park}/{@link LockSupport#unpark unpark}: no busy waiting, no locks. On JDK 21 and
 * later the threads are virtual threads (looked up at run time, as this library compiles for Java 17);
 * before that they are platform daemon threads. Each thread ends with its body; none outlives a trace.
 */
public final class ThreadEngine implements Engine {
    /** The one instance. */
    public static final ThreadEngine INSTANCE = new ThreadEngine();

    private static final ThreadFactory VIRTUAL_THREADS = virtualThreadFactory();
    private static final AtomicInteger LIVE_BODIES = new AtomicInteger();

    private ThreadEngine() {}

    @Override
    public String name() {
        return "threads";
    }

    /** The number of body threads running now, across all traces: 0 whenever no trace runs. */
    public static int liveBodies() {
        return LIVE_BODIES.get();
    }

    @Override
    public Coroutine create(String name, Class<?> bodyType, Supplier<Object> body) {
        return new ThreadCoroutine(name, body);
    }

    private static Thread newThread(String name, Runnable task) {
        Thread thread;
        if (VIRTUAL_THREADS != null) {
            thread = VIRTUAL_THREADS.newThread(task);
        } else {
            thread = new Thread(task);
            thread.setDaemon(true);
        }
        thread.setName(name);
        return thread;
    }

    private static ThreadFactory virtualThreadFactory() {
        try {
            Method ofVirtual = Thread.class.getMethod("ofVirtual");
            Object builder = ofVirtual.invoke(null);
            Method factory = ofVirtual.getReturnType().getMethod("factory");
            return (ThreadFactory) factory.invoke(builder);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null; // before JDK 21: platform threads
        }
    }

    /**
     * A one-value mailbox between two threads: {@code put} stores a value and wakes the receiver, {@code
     * take} parks until a value is there. Interrupts do not end the wait (the other side will answer); the
     * interrupt status is kept for the caller.
     */
    private static final class Mailbox {
        private static final Object NULL = new Object();

        private volatile Object value;

        void put(Object message, Thread receiver) {
            value = message == null ? NULL : message;
            LockSupport.unpark(receiver);
        }

        Object take() {
            boolean interrupted = false;
            Object message;
            while ((message = value) == null) {
                LockSupport.park(this);
                interrupted |= Thread.interrupted();
            }
            value = null;
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            return message == NULL ? null : message;
        }
    }

    private static final class ThreadCoroutine implements Coroutine {
        private final Thread worker;
        private final Mailbox toBody = new Mailbox();
        private final Mailbox toCaller = new Mailbox();
        private volatile Thread caller;
        private volatile boolean done;
        private boolean started;

        ThreadCoroutine(String name, Supplier<Object> body) {
            this.worker = newThread(name, () -> run(body));
        }

        private void run(Supplier<Object> body) {
            LIVE_BODIES.incrementAndGet();
            try {
                toBody.take();
                Object result;
                try {
                    result = body.get();
                } catch (Throwable failure) {
                    result = failure; // bodies report their own failures; this only guards the hand-off
                } finally {
                    done = true;
                }
                toCaller.put(result, caller);
            } finally {
                LIVE_BODIES.decrementAndGet();
            }
        }

        @Override
        public String engine() {
            return "threads";
        }

        @Override
        public Object resume(Object reply) {
            if (done) {
                throw new IllegalStateException("the body has already ended");
            }
            caller = Thread.currentThread();
            if (started) {
                toBody.put(reply, worker);
            } else {
                started = true;
                toBody.put(reply, null);
                worker.start();
            }
            return toCaller.take();
        }

        @Override
        public Object suspend(Object signal) {
            if (Thread.currentThread() != worker) {
                throw new IllegalStateException("suspend() called outside the coroutine's body");
            }
            toCaller.put(signal, caller);
            return toBody.take();
        }

        @Override
        public boolean isDone() {
            return done;
        }

        @Override
        public boolean isCurrent() {
            return Thread.currentThread() == worker;
        }

        @Override
        public void close() {
            if (!started) {
                return;
            }
            if (!done) {
                throw new IllegalStateException("the body of " + worker.getName() + " has not ended");
            }
            boolean interrupted = false;
            while (true) {
                try {
                    worker.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
