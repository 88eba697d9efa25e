package io.nnsight.internal.engine;

import io.nnsight.TraceException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Collections;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs each body as a JDK continuation ({@code jdk.internal.vm.Continuation}, JDK 21+) on the thread that
 * resumes it, the model's own thread: a suspension saves the body's frames on the heap and returns to the
 * model in about a microsecond, with no thread switch. It works through any frames of the body (helper
 * methods, lambdas passed to {@code forEach}, streams).
 *
 * <p>The class is internal to {@code java.base}; it is usable when its package is exported to this
 * library: the nnsight agent does that at start-up, or pass {@code --add-exports
 * java.base/jdk.internal.vm=ALL-UNNAMED}. {@link #available()} says whether it is.
 *
 * <p>The JDK cannot suspend a continuation inside a static initializer, a native frame, or (before JDK 24)
 * a {@code synchronized} block. A request made there cannot be served (the model's frames lie under the
 * body's on the same thread), so it fails with a {@link TraceException} saying so, and the engine
 * remembers the body's class: from the next trace on, bodies of that class run on the {@link ThreadEngine},
 * where any frame can wait.
 */
public final class ContinuationEngine implements Engine {
    private static final Logger LOG = LoggerFactory.getLogger(ContinuationEngine.class);
    private static final Api API = Api.find();
    private static final Set<Class<?>> PINNED_BODIES = Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap<>()));

    /** The one instance, or {@code null} when continuations are not available. */
    public static final ContinuationEngine INSTANCE = API == null ? null : new ContinuationEngine();

    private ContinuationEngine() {}

    /** Whether JDK continuations can be used: JDK 21 or later, with {@code jdk.internal.vm} exported to us. */
    public static boolean available() {
        return API != null;
    }

    /** Why continuations are not available, for messages; {@code null} when they are. */
    public static String unavailableReason() {
        return API != null ? null : Api.reason;
    }

    @Override
    public String name() {
        return "continuations";
    }

    @Override
    public Coroutine create(String name, Class<?> bodyType, Supplier<Object> body) {
        if (PINNED_BODIES.contains(bodyType)) {
            LOG.debug("{} ({}) could not suspend as a continuation before; it runs on a thread", name, bodyType.getName());
            return ThreadEngine.INSTANCE.create(name, bodyType, body);
        }
        return new ContinuationCoroutine(bodyType, body);
    }

    /** The method handles of {@code Continuation} and {@code ContinuationScope}, found at run time. */
    private static final class Api {
        static String reason;

        final Object scope;
        final MethodHandle create;
        final MethodHandle run;
        final MethodHandle yield;
        final MethodHandle current;

        private Api(Object scope, MethodHandle create, MethodHandle run, MethodHandle yield, MethodHandle current) {
            this.scope = scope;
            this.create = create;
            this.run = run;
            this.yield = yield;
            this.current = current;
        }

        static Api find() {
            try {
                Class<?> continuation = Class.forName("jdk.internal.vm.Continuation");
                Class<?> scopeType = Class.forName("jdk.internal.vm.ContinuationScope");
                if (!Object.class.getModule().isExported("jdk.internal.vm", Api.class.getModule())) {
                    reason = "java.base does not export jdk.internal.vm to nnsight (run with the nnsight agent, or with "
                            + "--add-exports java.base/jdk.internal.vm=ALL-UNNAMED)";
                    return null;
                }
                MethodHandles.Lookup lookup = MethodHandles.lookup();
                Object scope = lookup.findConstructor(scopeType, MethodType.methodType(void.class, String.class))
                        .invoke("nnsight");
                MethodHandle create = lookup.findConstructor(continuation,
                                MethodType.methodType(void.class, scopeType, Runnable.class))
                        .asType(MethodType.methodType(Object.class, Object.class, Runnable.class));
                MethodHandle run = lookup.findVirtual(continuation, "run", MethodType.methodType(void.class))
                        .asType(MethodType.methodType(void.class, Object.class));
                MethodHandle yield = lookup.findStatic(continuation, "yield", MethodType.methodType(boolean.class, scopeType))
                        .asType(MethodType.methodType(boolean.class, Object.class));
                MethodHandle current = lookup.findStatic(continuation, "getCurrentContinuation",
                                MethodType.methodType(continuation, scopeType))
                        .asType(MethodType.methodType(Object.class, Object.class));
                return new Api(scope, create, run, yield, current);
            } catch (ClassNotFoundException e) {
                reason = "this JDK (" + Runtime.version() + ") has no jdk.internal.vm.Continuation; JDK 21 or later has";
                return null;
            } catch (Throwable e) {
                reason = "jdk.internal.vm.Continuation cannot be used: " + e;
                return null;
            }
        }
    }

    private static final class ContinuationCoroutine implements Coroutine {
        private static final Object NULL = new Object();

        private final Class<?> bodyType;
        private final Object continuation;
        private Object toBody;
        private Object toCaller;
        private boolean done;

        @Override
        public String engine() {
            return "continuations";
        }

        ContinuationCoroutine(Class<?> bodyType, Supplier<Object> body) {
            this.bodyType = bodyType;
            Runnable task = () -> {
                Object result;
                try {
                    result = body.get();
                } catch (Throwable failure) {
                    result = failure; // bodies report their own failures; this only guards the hand-off
                }
                done = true;
                toCaller = result;
            };
            try {
                this.continuation = API.create.invokeExact(API.scope, task);
            } catch (Throwable e) {
                throw new IllegalStateException("cannot create a JDK continuation", e);
            }
        }

        @Override
        public Object resume(Object reply) {
            if (done) {
                throw new IllegalStateException("the body has already ended");
            }
            toBody = reply == null ? NULL : reply;
            toCaller = null;
            try {
                API.run.invokeExact(continuation);
            } catch (Throwable e) {
                throw new IllegalStateException("the JDK continuation failed", e);
            }
            Object signal = toCaller;
            toCaller = null;
            return signal == NULL ? null : signal;
        }

        @Override
        public Object suspend(Object signal) {
            try {
                if (!isCurrent()) {
                    throw new IllegalStateException("suspend() called outside the coroutine's body");
                }
                toCaller = signal == null ? NULL : signal;
                boolean yielded;
                try {
                    yielded = (boolean) API.yield.invokeExact(API.scope);
                } catch (IllegalStateException pinned) {
                    toCaller = null;
                    PINNED_BODIES.add(bodyType);
                    throw new TraceException("this request cannot suspend the intervention (" + pinned.getMessage()
                            + "): it runs inside a static initializer, a native frame or (before JDK 24) a synchronized "
                            + "block, where the JDK cannot suspend a continuation. From the next trace on, this body ("
                            + bodyType.getName() + ") runs on a thread, where it can; or move the request out of there, "
                            + "or run every body on threads with -Dnnsight.engine=threads");
                }
                if (!yielded) {
                    throw new IllegalStateException("the JDK continuation did not suspend");
                }
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable e) {
                throw new IllegalStateException(e);
            }
            Object reply = toBody;
            toBody = null;
            return reply == NULL ? null : reply;
        }

        @Override
        public boolean isDone() {
            return done;
        }

        @Override
        public boolean isCurrent() {
            try {
                return API.current.invokeExact(API.scope) == continuation;
            } catch (Throwable e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void close() {
            // Nothing to release: a continuation holds no thread.
        }
    }
}
