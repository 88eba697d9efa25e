package io.nnsight.server.ray.internal;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationTargetException;
import java.net.InetAddress;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * A replica: a Ray actor, in a worker JVM of the cluster, that loads the model once and runs jobs on it: a job
 * alone, several waiting jobs as a batch (traces sharing forward passes, generations one continuous batch), or a
 * generation that joins the replica's running continuous batch and is answered when it leaves. It takes several
 * calls at once ({@code setMaxConcurrency}), which take turns on the model ({@link Replica}). Ray's runtime jar, first on the worker's class path, carries old copies of libraries nnsight
 * needs newer (ASM, Gson, SLF4J, HttpClient), unshaded; so the actor is a shell that loads nnsight, its libraries
 * first, in a class loader of its own ({@link OwnLibrariesFirst}) and talks to it ({@link Replica}) through JDK
 * types only.
 *
 * <p>Its methods never throw: Ray would have to serialize the exception, which it cannot do without the JVM opened
 * to reflection (the worker would crash); failures travel as the {@link Outcome}s of a {@link ReplicaAnswer} and as
 * messages.
 */
public final class ReplicaActor {
    private final Function<byte[], byte[]> replica;
    private final String loadFailure;

    /**
     * Loads the model in its own class loader; a failure is kept for {@link #ready()} to tell.
     *
     * @param classPath nnsight's jars, separated by {@link File#pathSeparator}
     * @param tokenizer a {@code tokenizer.json} other than the model's, or {@code ""}
     * @param dtype {@code float32}, {@code bfloat16}, {@code float16}, or {@code ""} for the checkpoint's
     * @param device {@code cpu}, {@code cuda}, {@code cuda:N}
     */
    @SuppressWarnings("unchecked")
    public ReplicaActor(String classPath, String model, String tokenizer, String dtype, String device) {
        Function<byte[], byte[]> loaded = null;
        String failure = null;
        try {
            ClassLoader loader = new OwnLibrariesFirst(urls(classPath), ReplicaActor.class.getClassLoader());
            Thread.currentThread().setContextClassLoader(loader);
            loaded = (Function<byte[], byte[]>) loader.loadClass(Replica.class.getName())
                    .getConstructor(String.class, String.class, String.class, String.class)
                    .newInstance(model, tokenizer, dtype, device);
        } catch (InvocationTargetException e) {
            failure = "the replica on " + host() + " cannot load " + model + ": " + e.getCause();
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            failure = "the replica on " + host() + " cannot start: " + e;
        }
        this.replica = loaded;
        this.loadFailure = failure;
    }

    /** {@code ""} once the model is loaded, or why it could not be. */
    public String ready() {
        return loadFailure == null ? "" : loadFailure;
    }

    /** The worker process's id. */
    public Long pid() {
        return ProcessHandle.current().pid();
    }

    /** The machine the replica runs on. */
    public String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "an unnamed host";
        }
    }

    /**
     * Runs the jobs of a {@link ReplicaCall} (its bytes): one alone, several as a batch, or one joining the continuous
     * batch, each within its time limit; the {@link ReplicaAnswer}'s bytes. Called on several threads at once.
     */
    public byte[] execute(byte[] call) {
        if (replica == null) {
            int jobs;
            try {
                jobs = ReplicaCall.read(call).jobs().size();
            } catch (IllegalArgumentException e) {
                jobs = 0;
            }
            return ReplicaAnswer.failed(jobs, loadFailure, true, List.of()).write();
        }
        Thread.currentThread().setContextClassLoader(replica.getClass().getClassLoader());
        return replica.apply(call);
    }

    /**
     * How long the call of the job {@code id} has run on the replica's model, in milliseconds: {@code -1} while it
     * waits behind other calls, {@code -2} when no call of the job is here (answered, never called, or the model did
     * not load). Answered at once, beside the calls that run: the front end asks it of a replica late to answer, so
     * that time spent waiting behind other calls is not counted against the job's time limit.
     */
    @SuppressWarnings("unchecked")
    public Long runningMillis(String id) {
        if (replica == null) {
            return -2L;
        }
        long nanos = ((ToLongFunction<String>) replica).applyAsLong(id);
        return nanos < 0 ? nanos : TimeUnit.NANOSECONDS.toMillis(nanos);
    }

    /**
     * What runs trace bodies in this replica ({@code BodyEngine.configured().property()}, asked in the replica's own
     * class loader), or {@code ""} when the model did not load.
     */
    public String engine() {
        if (replica == null) {
            return "";
        }
        try {
            Object engine = replica.getClass().getClassLoader().loadClass("io.nnsight.BodyEngine")
                    .getMethod("configured").invoke(null);
            return (String) engine.getClass().getMethod("property").invoke(engine);
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return "unknown (" + e + ")";
        }
    }

    private static URL[] urls(String classPath) {
        List<URL> urls = new ArrayList<>();
        for (String entry : classPath.split(File.pathSeparator)) {
            try {
                urls.add(Path.of(entry).toUri().toURL());
            } catch (MalformedURLException e) {
                throw new UncheckedIOException(e);
            }
        }
        return urls.toArray(new URL[0]);
    }

    /**
     * Loads a class from its own jars before asking its parent, except the JDK's: the usual order reversed, so that
     * nnsight gets its own versions of the libraries Ray's jar also carries. (A dozen lines the JDK does not
     * offer; an OSGi or JBoss Modules container would be far more than this needs.)
     */
    static final class OwnLibrariesFirst extends URLClassLoader {
        static {
            registerAsParallelCapable();
        }

        OwnLibrariesFirst(URL[] urls, ClassLoader parent) {
            super("nnsight-replica", urls, parent);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (name.startsWith("java.") || name.startsWith("jdk.") || name.startsWith("sun.")) {
                return super.loadClass(name, resolve);
            }
            synchronized (getClassLoadingLock(name)) {
                Class<?> type = findLoadedClass(name);
                if (type == null) {
                    try {
                        type = findClass(name);
                    } catch (ClassNotFoundException notOurs) {
                        return super.loadClass(name, resolve);
                    }
                }
                if (resolve) {
                    resolveClass(type);
                }
                return type;
            }
        }

        @Override
        public URL getResource(String name) {
            URL own = findResource(name);
            return own != null ? own : super.getResource(name);
        }
    }
}
