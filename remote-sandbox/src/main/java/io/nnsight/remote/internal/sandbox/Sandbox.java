package io.nnsight.remote.internal.sandbox;

import io.nnsight.remote.internal.allowlist.Policy;
import io.nnsight.remote.internal.allowlist.ServerClasses;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ConstantDynamic;
import org.objectweb.asm.Type;
import org.objectweb.asm.tree.AbstractInsnNode;
import org.objectweb.asm.tree.ClassNode;
import org.objectweb.asm.tree.InvokeDynamicInsnNode;
import org.objectweb.asm.tree.LdcInsnNode;
import org.objectweb.asm.tree.MethodNode;

/**
 * Checks the class files of shipped intervention code before a server defines them, and rewrites those that
 * pass so that they run under the job's deadline and print to the job's log.
 *
 * <pre>{@code
 * Sandbox.Prepared prepared = Sandbox.server().prepare(shippedClasses);   // or SandboxException
 * ClassLoader loader = new JobClassLoader(prepared.classes(), serverLoader);
 * Object result = JobOutput.capturing(log, () -> Deadline.within(limit, () -> run(loader)));
 * }</pre>
 *
 * <h2>What {@link #prepare} does</h2>
 *
 * <ol>
 *   <li><b>Reads</b> each class file. A class compiled for a newer Java than the server runs is read as if it
 *       were compiled for the server's: the class-file format of one Java release differs from the next
 *       mostly in the version number. Classes that use preview features are refused, since the server's
 *       Java may not have those features or may have changed them.
 *   <li><b>Checks</b> every class against the standard allow-list ({@link StandardPolicy}) and every reference
 *       to the server's classes for existence (see {@link ClassCheck}). A class compiled for a newer Java thus
 *       passes only if every JDK class, method and field it uses exists in the server's; otherwise the
 *       message names both versions and what is missing. All classes are checked and all violations
 *       reported at once, in a {@link SandboxException}.
 *   <li><b>Rewrites</b> the classes, all or none: deadline checks, output redirection, and the class-file
 *       version lowered to the server's where it was newer (see {@link Rewriter}).
 *   <li><b>Tells</b> whether the code can use autograd ({@link AutogradUse}): the executor runs code that cannot
 *       with autograd off.
 * </ol>
 *
 * <p>A shipped class may use every other shipped class, but not a name that the server provides to shipped
 * code ({@code io.nnsight.NNsight}, {@code java.util.List}, and any name in those packages): the job's class
 * loader would hand out the server's class instead, and a shipped {@code Deadline} would otherwise replace
 * the one the rewritten code calls.
 *
 * <p>Pitfall: preparing a class neither loads nor initializes it (it is not even defined), so a refused class
 * has run no code. But the checks look at the server's classes by loading them without initializing them, the
 * first time with reflection over all their members; the first jobs pay for that once per JVM.
 */
public final class Sandbox {
    private static final int SERVER_JAVA = Runtime.version().feature();
    private static final int SERVER_CLASS_FILE = SERVER_JAVA + 44;
    private static final int PREVIEW_MINOR_VERSION = 0xFFFF;
    private static final String POLICY_HINT = "Intervention code may use the nnsight API, tensor operations, "
            + "java.lang basics, collections, streams and math; compute such values before the trace and capture them.";
    private static final int CACHED_REQUESTS = 256;
    private static final int CACHED_MIB = 64;
    private static final int IDLE_LOADERS = 64;
    private static final ClassLoader SERVER_LOADER = Sandbox.class.getClassLoader();
    private static final Sandbox SERVER = new Sandbox(new ServerClasses(SERVER_LOADER), CACHED_REQUESTS,
            (long) CACHED_MIB << 20, IDLE_LOADERS);

    private final ServerClasses server;
    private final Policy policy;
    private final PreparedCache cache;
    private final LoaderPool loaders;

    /**
     * A sandbox over the server's classes {@code server}, keeping the code of up to {@code cachedRequests} requests
     * and {@code cachedBytes} bytes of class files ({@link PreparedCache}), and up to {@code idleLoaders} class
     * loaders of jobs that ended well ({@link LoaderPool}).
     */
    Sandbox(ServerClasses server, int cachedRequests, long cachedBytes, int idleLoaders) {
        this.server = server;
        this.policy = policy(server);
        this.cache = new PreparedCache(cachedRequests, cachedBytes);
        this.loaders = new LoaderPool(idleLoaders);
    }

    /**
     * The standard allow-list over the server's classes {@code server}, with the classes rewritten shipped code
     * calls: the job's class loader hands them out although shipped code may not name them.
     */
    static Policy policy(ServerClasses server) {
        return Policy.standard(server).alsoLinking(Deadline.class, JobOutput.class, AddressFree.class);
    }

    /**
     * The policy of a job's class loader whose parent is {@code parent}: for nnsight's class loader, the server
     * sandbox's own, whose verdicts on names are remembered from job to job.
     */
    static Policy policy(ClassLoader parent) {
        return parent == SERVER_LOADER ? SERVER.policy : policy(new ServerClasses(parent));
    }

    /** The code of the requests this sandbox keeps, for tests. */
    PreparedCache cache() {
        return cache;
    }

    /** The class loaders of jobs that ended well this sandbox keeps, for tests. */
    LoaderPool loaders() {
        return loaders;
    }

    /** The sandbox of the model server: the standard allow-list over the classes of nnsight's class loader. */
    public static Sandbox server() {
        return SERVER;
    }

    /**
     * Shipped code as a {@link Sandbox} accepted it.
     *
     * @param classes the rewritten class files, under their binary names; unmodifiable
     * @param usesAutograd whether the code references a member through which it can use autograd ({@link
     *     AutogradUse}); without one it cannot tell whether autograd is on
     * @param reusable whether the code keeps no state in its classes but their static fields: no class has a static
     *     initializer or uses a dynamic constant (a value its class keeps once made). The class loader of a job of
     *     such code can serve the next job of the same code once its static fields are cleared ({@link
     *     #recycle})
     */
    public record Prepared(Map<String, byte[]> classes, boolean usesAutograd, boolean reusable) {}

    /**
     * A class loader of {@code code} for a job, whose parent is nnsight's: one that a job of the same code gave back
     * ({@link #recycle}), its classes defined and its static fields cleared, or else a new one.
     */
    public JobClassLoader loader(Prepared code) {
        JobClassLoader idle = loaders.take(code);
        return idle != null ? idle : new JobClassLoader(code.classes(), SERVER_LOADER);
    }

    /**
     * Gives back the class loader of a job of {@code code} that succeeded, once its code has returned and its result
     * is written, for the next job of the same code if the code is {@linkplain Prepared#reusable() reusable}: up to
     * {@value #IDLE_LOADERS} loaders wait, their static fields cleared ({@link LoaderPool}). The job must not use
     * the loader or its classes again.
     */
    public void recycle(Prepared code, JobClassLoader loader) {
        loaders.give(code, loader);
    }

    /**
     * Checks the shipped classes and rewrites them to run as a job.
     *
     * @param classes binary class names ({@code com.example.Probe}, {@code com.example.Probe$1}) to their class
     *     files
     * @return the rewritten class files, under the same names, and whether they can use autograd
     * @throws SandboxException when a class is refused; none of the classes has been defined or run
     */
    public Prepared prepare(Map<String, byte[]> classes) {
        return prepare(classes, LambdaFactories.of(List.of(), classes.keySet()));
    }

    /**
     * Checks the shipped classes with the factories of their lambdas added ({@link LambdaFactories#addTo}) and the
     * classes of their lambdas ({@link LambdaFactories#classesOf}), and rewrites them to run as a job. The
     * factories and lambda classes are checked like the shipped classes, so the check vets the methods they bind.
     *
     * <p>Accepted code is kept ({@link PreparedCache}: up to {@value #CACHED_REQUESTS} requests or {@value
     * #CACHED_MIB} MiB of class files, least recently used dropped first), keyed by the SHA-256 digest of every
     * byte of every class file and every field of every lambda spec: the same classes and lambdas shipped again,
     * byte for byte, get the same classes back without being checked again. Anything else is checked in full; a
     * refusal is never kept. A job defines the classes in a {@link JobClassLoader} of its own ({@link #loader}), or
     * takes one that a job of the same code gave back ({@link #recycle}).
     *
     * @param lambdas the factories of the request's lambdas; a class whose lambda's implementation it does not
     *     declare as the request says is refused with the message of the {@link IllegalArgumentException}
     * @throws SandboxException when a class is refused; none of the classes has been defined or run
     */
    public Prepared prepare(Map<String, byte[]> classes, LambdaFactories lambdas) {
        String key = PreparedCache.key(classes, lambdas.specs());
        Prepared cached = cache.get(key);
        if (cached != null) {
            return cached;
        }
        List<Violation> violations = new ArrayList<>();
        Map<String, Shipped> shipped = new LinkedHashMap<>();
        classes.forEach((name, classFile) -> read(name, classFile, violations)
                .flatMap(read -> added(name, read, lambdas, violations)).ifPresent(added -> {
                    shipped.put(name, added);
                    // the classes of its lambdas, once its factories are in (they cannot fail then)
                    lambdas.classesOf(name, added.classFile()).forEach((lambda, lambdaFile) ->
                            read(lambda, lambdaFile, violations).ifPresent(read -> shipped.put(lambda, read)));
                }));

        Map<String, ClassNode> nodes = new LinkedHashMap<>();
        shipped.forEach((name, read) -> nodes.put(name, read.node()));
        Linkage linkage = new Linkage(nodes, server);
        boolean usesAutograd = false;
        for (Shipped read : shipped.values()) {
            ClassCheck.Findings findings = ClassCheck.check(policy, linkage, read.node(), read.compiledFor());
            violations.addAll(findings.violations());
            usesAutograd |= findings.usesAutograd();
        }
        if (!violations.isEmpty()) {
            throw refusal(violations);
        }

        Map<String, byte[]> prepared = new LinkedHashMap<>();
        shipped.forEach((name, read) -> prepared.put(name, Rewriter.rewrite(read.classFile())));
        boolean reusable = nodes.values().stream().noneMatch(Sandbox::keepsState);
        Prepared result = new Prepared(Collections.unmodifiableMap(prepared), usesAutograd, reusable);
        cache.put(key, result);
        return result;
    }

    /**
     * A shipped class as read.
     *
     * @param classFile its class file, with the version lowered to the server's where it was newer
     * @param node its contents
     * @param compiledFor the Java version (feature number) it was compiled for
     */
    private record Shipped(byte[] classFile, ClassNode node, int compiledFor) {}

    /**
     * Whether a class keeps state of its own beyond its static fields: a static initializer (which runs once per
     * class loader), or a dynamic constant (whose value its class keeps once made; {@code ConstantBootstraps.invoke}
     * can make a mutable one).
     */
    private static boolean keepsState(ClassNode node) {
        for (MethodNode method : node.methods) {
            if (method.name.equals("<clinit>")) {
                return true;
            }
            for (AbstractInsnNode instruction : method.instructions) {
                if (instruction instanceof LdcInsnNode ldc && ldc.cst instanceof ConstantDynamic) {
                    return true;
                }
                if (instruction instanceof InvokeDynamicInsnNode dynamic) {
                    for (Object argument : dynamic.bsmArgs) {
                        if (argument instanceof ConstantDynamic) {
                            return true;
                        }
                    }
                }
            }
        }
        return false;
    }

    private static Optional<Shipped> added(String name, Shipped read, LambdaFactories lambdas,
            List<Violation> violations) {
        byte[] classFile;
        try {
            classFile = lambdas.addTo(name, read.classFile());
        } catch (IllegalArgumentException e) {
            violations.add(new Violation(name, "its lambdas", e.getMessage(), false));
            return Optional.empty();
        }
        if (classFile == read.classFile()) {
            return Optional.of(read);
        }
        ClassNode node = new ClassNode();
        new ClassReader(classFile).accept(node, ClassReader.SKIP_FRAMES);
        return Optional.of(new Shipped(classFile, node, read.compiledFor()));
    }

    private Optional<Shipped> read(String name, byte[] classFile, List<Violation> violations) {
        if (classFile.length < 10 || readInt(classFile, 0) != 0xCAFEBABE) {
            violations.add(new Violation(name, "its bytes", "they are not a class file", false));
            return Optional.empty();
        }
        int minorVersion = readUnsignedShort(classFile, 4);
        int majorVersion = readUnsignedShort(classFile, 6);
        int compiledFor = majorVersion - 44;
        if (minorVersion == PREVIEW_MINOR_VERSION) {
            violations.add(new Violation(name, "preview features of Java " + compiledFor,
                    "preview features are not supported; compile without --enable-preview", false));
            return Optional.empty();
        }
        boolean newer = majorVersion > SERVER_CLASS_FILE;
        byte[] runnable = newer ? withVersion(classFile, SERVER_CLASS_FILE) : classFile;
        ClassNode node = new ClassNode();
        try {
            new ClassReader(runnable).accept(node, ClassReader.SKIP_FRAMES);
        } catch (RuntimeException unreadable) {
            violations.add(new Violation(name, "its class file", newer
                    ? "compiled for Java " + compiledFor + ", it uses class-file features that Java " + SERVER_JAVA
                            + " on this server cannot read (" + unreadable + ")"
                    : "it is malformed (" + unreadable + ")", newer));
            return Optional.empty();
        }
        String declared = Type.getObjectType(node.name).getClassName();
        if (!declared.equals(name)) {
            violations.add(new Violation(name, "its class file", "it holds " + declared + ", not " + name, false));
            return Optional.empty();
        }
        if (name.startsWith("java.") || policy.visible(name)) {
            violations.add(new Violation(name, "its name", "the server provides this name to shipped code; "
                    + "move the class to a package of your own", false));
        }
        return Optional.of(new Shipped(runnable, node, compiledFor));
    }

    private static SandboxException refusal(List<Violation> violations) {
        List<String> hints = new ArrayList<>();
        if (violations.stream().anyMatch(violation -> !violation.newerJava())) {
            hints.add(POLICY_HINT);
        }
        if (violations.stream().anyMatch(Violation::newerJava)) {
            hints.add("Compile for Java " + SERVER_JAVA + " (javac --release " + SERVER_JAVA + ") to run on this "
                    + "server.");
        }
        return new SandboxException(violations.stream().map(Violation::toString).toList(), String.join(" ", hints));
    }

    private static byte[] withVersion(byte[] classFile, int majorVersion) {
        byte[] copy = classFile.clone();
        copy[6] = (byte) (majorVersion >>> 8);
        copy[7] = (byte) majorVersion;
        return copy;
    }

    private static int readUnsignedShort(byte[] bytes, int offset) {
        return (bytes[offset] & 0xFF) << 8 | (bytes[offset + 1] & 0xFF);
    }

    private static int readInt(byte[] bytes, int offset) {
        return readUnsignedShort(bytes, offset) << 16 | readUnsignedShort(bytes, offset + 2);
    }
}
