package io.nnsight.instrument.statemachine;

import io.nnsight.spi.NnsightPackages;
import io.nnsight.spi.statemachine.StateMachine;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.Handle;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;
import org.objectweb.asm.tree.AbstractInsnNode;
import org.objectweb.asm.tree.ClassNode;
import org.objectweb.asm.tree.InsnList;
import org.objectweb.asm.tree.InvokeDynamicInsnNode;
import org.objectweb.asm.tree.MethodInsnNode;
import org.objectweb.asm.tree.MethodNode;
import org.objectweb.asm.tree.analysis.AnalyzerException;

/**
 * The application's methods as the state-machine compiler sees them, read from class files: for each
 * method, its suspension points, the application methods it calls where the call has one possible target
 * (static, private, final, a constructor, a {@code super} call, or any method of a final class), the lambdas
 * it makes, and what keeps it from being compiled. The graph starts at the methods of the class being
 * compiled and follows calls into the application's other classes, whose class files it reads through the
 * class loader's resources (never by loading them); it stops at library code (the JDK, Bytedeco, nnsight).
 *
 * <p>Two fixed points settle it. A method <em>may suspend</em> when it has a suspension point, calls or
 * makes a lambda of a method that may suspend, or calls code the compiler cannot see (a functional
 * interface, an overridable method, a class without a class file). A method that may suspend is
 * <em>compiled</em> unless something keeps it from it: it is synchronized or holds a monitor, is a
 * constructor, makes a lambda that may suspend (a {@code forEach} body), calls code it cannot see, has an
 * object under construction on its stack at a suspension point, belongs to a class that the compiler does
 * not transform (one that never names nnsight), or calls a method that may suspend and is not compiled.
 * Recursion, direct or through other methods and classes, is fine: frames are chained per call.
 *
 * <p>Whether a method is compiled depends only on the methods it reaches, so the class of a helper, compiled
 * when it loads, comes to the same answer as the caller's class, which predicted it from the helper's class
 * file. The class files read are the result's {@linkplain #dependencies() dependencies}: a cached result is
 * valid while they are unchanged.
 */
final class CallGraph {
    private static final Set<String> CALLBACKS = Set.of("java/lang/Runnable", "java/util/concurrent/Callable",
            "io/nnsight/TraceBody", "io/nnsight/SessionBody");
    private static final Set<String> BODY_INTERFACES = Set.of("io/nnsight/TraceBody", "java/util/function/Supplier",
            "java/lang/Runnable");

    /** One method of the application: what it does that matters, and, once settled, whether it is compiled. */
    static final class Method {
        final ClassNode owner;
        final MethodNode node;
        final List<MethodInsnNode> sites = new ArrayList<>();
        final Map<MethodInsnNode, Method> calls = new LinkedHashMap<>();
        final Map<Method, String> lambdas = new LinkedHashMap<>();
        /** Whether it is the method of a lambda that is an intervention body ({@code TraceBody}...). */
        boolean body;
        /** A call of code the compiler cannot see, which may suspend. */
        String opaque;
        /** What keeps the method from being compiled, should it suspend. */
        String blocker;
        boolean suspending;
        /** After {@link #settle}: why the method is not compiled; {@code null} when it is (or does not suspend). */
        String refusal;
        /** After {@link #settle}, for a compiled method: its suspension points, in code order. */
        List<MethodInsnNode> points = List.of();
        /** Those of its points that call compiled methods, with the callee's {@code StateMachine.methodKey}. */
        Map<MethodInsnNode, Integer> helperPoints = Map.of();
        /** After {@link #settle}, for a method that may be compiled: its checked rewrite, for {@link #rewrite()}. */
        MethodRewrite rewrite;

        Method(ClassNode owner, MethodNode node) {
            this.owner = owner;
            this.node = node;
        }

        boolean compiled() {
            return suspending && refusal == null;
        }

        @Override
        public String toString() {
            return owner.name.replace('/', '.') + "." + node.name + node.desc;
        }
    }

    private final ClassLoader loader;
    private final ClassHierarchy hierarchy;
    private final Predicate<MethodInsnNode> isSite;
    private final ClassNode self;
    private final Set<String> failed;
    private final Map<String, ClassNode> classes = new HashMap<>();
    private final Map<String, Set<MethodNode>> bodyLambdas = new HashMap<>();
    private final Map<String, byte[]> dependencies = new LinkedHashMap<>();
    private final Map<MethodNode, Method> methods = new LinkedHashMap<>();
    /** The methods whose compilation matters: those of the class compiled, and those they call, transitively. */
    private final Set<Method> called = new LinkedHashSet<>();

    /**
     * A graph rooted at every method of the class being compiled, whose class file as the transform got it
     * is {@code selfBytes}.
     *
     * @param isSite whether a call is a suspension point: a call of nnsight's API that makes a request
     * @param failed methods ({@link Method#toString()}) whose rewrite did not verify in an earlier attempt
     */
    CallGraph(ClassLoader loader, ClassHierarchy hierarchy, Predicate<MethodInsnNode> isSite, byte[] selfBytes,
            Set<String> failed) {
        this.loader = loader;
        this.hierarchy = hierarchy;
        this.isSite = isSite;
        this.failed = failed;
        this.self = parse(selfBytes);
        classes.put(self.name, self);
        Deque<Method> work = new ArrayDeque<>();
        for (MethodNode method : self.methods) {
            if (method.instructions.size() > 0) {
                Method root = method(self, method, work);
                called.add(root);
            }
        }
        explore(work);
    }

    /** The class being compiled, with the methods that {@link #rewrite()} rewrote. */
    ClassNode self() {
        return self;
    }

    /** The methods of the class being compiled, in class-file order. */
    List<Method> selfMethods() {
        List<Method> own = new ArrayList<>();
        for (MethodNode method : self.methods) {
            Method known = methods.get(method);
            if (known != null) {
                own.add(known);
            }
        }
        return own;
    }

    /** The method of the class being compiled that {@code insn} makes an intervention body of, or {@code null}. */
    Method bodyLambda(AbstractInsnNode insn) {
        MethodNode impl = lambdaImpl(self, insn);
        Method method = impl == null ? null : methods.get(impl);
        return method != null && method.body ? method : null;
    }

    /** The class files of other classes that the result depends on, by internal name. */
    Map<String, byte[]> dependencies() {
        return dependencies;
    }

    // ---- building ----

    private static ClassNode parse(byte[] bytes) {
        ClassNode node = new ClassNode();
        new ClassReader(bytes).accept(node, 0);
        return node;
    }

    /**
     * The class node of application class {@code name}, or {@code null} when its class file cannot be read or
     * never names nnsight (then the agent leaves it as it is, and it is library code to the graph).
     */
    private ClassNode classNode(String name) {
        if (classes.containsKey(name)) {
            return classes.get(name);
        }
        ClassNode node = null;
        URL url = loader.getResource(name + ".class");
        if (url != null) {
            try (InputStream in = url.openStream()) {
                byte[] bytes = in.readAllBytes();
                dependencies.put(name, bytes);
                node = LibraryCode.namesNnsight(bytes) ? parse(bytes) : null;
            } catch (IOException | RuntimeException e) {
                node = null;
            }
        }
        classes.put(name, node);
        return node;
    }

    private Method method(ClassNode owner, MethodNode node, Deque<Method> work) {
        Method known = methods.get(node);
        if (known == null) {
            known = new Method(owner, node);
            methods.put(node, known);
            work.add(known);
        }
        return known;
    }

    private void explore(Deque<Method> work) {
        while (!work.isEmpty()) {
            describe(work.poll(), work);
        }
        Deque<Method> reached = new ArrayDeque<>(called);
        while (!reached.isEmpty()) {
            for (Method callee : reached.poll().calls.values()) {
                if (called.add(callee)) {
                    reached.add(callee);
                }
            }
        }
    }

    private void describe(Method method, Deque<Method> work) {
        MethodNode node = method.node;
        boolean lambda = node.name.startsWith("lambda$");
        method.body = lambda && bodyLambdasOf(method.owner).contains(node);
        if ((node.access & Opcodes.ACC_SYNCHRONIZED) != 0) {
            method.blocker = "it is synchronized";
        } else if (node.name.equals("<init>")) {
            method.blocker = "it is a constructor";
        } else if (node.name.equals("<clinit>")) {
            method.blocker = "it is a static initializer";
        } else if (lambda && !method.body) {
            method.blocker = "it is a lambda that is not an intervention body";
        } else if (failed.contains(method.toString())) {
            method.blocker = "its rewrite does not verify";
        }
        for (AbstractInsnNode insn : node.instructions) {
            if (insn.getOpcode() == Opcodes.MONITORENTER && method.blocker == null) {
                method.blocker = "it holds a monitor (synchronized)";
            } else if (insn instanceof MethodInsnNode) {
                MethodInsnNode call = (MethodInsnNode) insn;
                if (isSite.test(call)) {
                    method.sites.add(call);
                } else {
                    classify(method, call, work);
                }
            } else if (insn instanceof InvokeDynamicInsnNode) {
                lambda(method, (InvokeDynamicInsnNode) insn, work);
            }
        }
    }

    private Set<MethodNode> bodyLambdasOf(ClassNode owner) {
        return bodyLambdas.computeIfAbsent(owner.name, name -> {
            Set<MethodNode> bodies = new LinkedHashSet<>();
            for (MethodNode method : owner.methods) {
                for (AbstractInsnNode insn : method.instructions) {
                    MethodNode impl = lambdaImpl(owner, insn);
                    if (impl != null && impl.name.startsWith("lambda$") && BODY_INTERFACES.contains(
                            Type.getReturnType(((InvokeDynamicInsnNode) insn).desc).getInternalName())) {
                        bodies.add(impl);
                    }
                }
            }
            return bodies;
        });
    }

    /** The method of {@code owner} that {@code insn} makes a lambda of, or {@code null}. */
    private static MethodNode lambdaImpl(ClassNode owner, AbstractInsnNode insn) {
        Handle impl = lambdaHandle(insn);
        return impl == null || !impl.getOwner().equals(owner.name) ? null : find(owner, impl.getName(), impl.getDesc());
    }

    private static Handle lambdaHandle(AbstractInsnNode insn) {
        if (!(insn instanceof InvokeDynamicInsnNode)) {
            return null;
        }
        InvokeDynamicInsnNode indy = (InvokeDynamicInsnNode) insn;
        if (!indy.bsm.getOwner().equals("java/lang/invoke/LambdaMetafactory") || indy.bsmArgs.length < 2
                || !(indy.bsmArgs[1] instanceof Handle)) {
            return null;
        }
        return (Handle) indy.bsmArgs[1];
    }

    private static MethodNode find(ClassNode owner, String name, String desc) {
        for (MethodNode method : owner.methods) {
            if (method.name.equals(name) && method.desc.equals(desc)) {
                return method;
            }
        }
        return null;
    }

    /** A lambda or method reference made by {@code method}: its target may suspend through it. */
    private void lambda(Method method, InvokeDynamicInsnNode indy, Deque<Method> work) {
        Handle impl = lambdaHandle(indy);
        if (impl == null || isLibrary(impl.getOwner())) {
            return;
        }
        ClassNode owner = classNode(impl.getOwner());
        if (owner == null && dependencies.containsKey(impl.getOwner())) {
            return; // a class that never names nnsight: library code
        }
        MethodNode target = owner == null ? null : find(owner, impl.getName(), impl.getDesc());
        if (target == null) {
            opaque(method, "it makes a method reference to " + simple(impl.getOwner(), impl.getName())
                    + ", which the agent cannot read");
            return;
        }
        method.lambdas.putIfAbsent(method(owner, target, work), target.name);
    }

    private void classify(Method method, MethodInsnNode call, Deque<Method> work) {
        if (isLibrary(call.owner)) {
            if (CALLBACKS.contains(call.owner) || call.owner.startsWith("java/util/function/")) {
                opaque(method, "it calls " + simple(call.owner, call.name) + ", which may run code that suspends");
            }
            return;
        }
        ClassNode owner = classNode(call.owner);
        if (owner == null) {
            if (!dependencies.containsKey(call.owner)) {
                opaque(method, "it calls " + simple(call.owner, call.name)
                        + ", whose class file the agent cannot read");
            }
            return; // a class that never names nnsight: library code
        }
        boolean virtual = call.getOpcode() == Opcodes.INVOKEVIRTUAL || call.getOpcode() == Opcodes.INVOKEINTERFACE;
        boolean sealedReceiver = (owner.access & Opcodes.ACC_FINAL) != 0;
        String overridable = "it calls " + simple(call.owner, call.name) + ", which a subclass may override";
        // Resolve the call as the JVM does: the owner's method, else a superclass's.
        ClassNode declaring = owner;
        MethodNode target = find(declaring, call.name, call.desc);
        while (target == null) {
            String superName = declaring.superName;
            declaring = superName == null || isLibrary(superName) ? null : classNode(superName);
            if (declaring == null) {
                // Declared by library code (or an interface's default): fixed only when nothing can override it.
                if (virtual && !sealedReceiver) {
                    opaque(method, overridable);
                }
                return;
            }
            target = find(declaring, call.name, call.desc);
        }
        int fixedAccess = Opcodes.ACC_PRIVATE | Opcodes.ACC_FINAL | Opcodes.ACC_STATIC;
        if (!virtual || sealedReceiver || (target.access & fixedAccess) != 0) {
            method.calls.put(call, method(declaring, target, work));
        } else {
            opaque(method, overridable);
        }
    }

    private static void opaque(Method method, String why) {
        if (method.opaque == null) {
            method.opaque = why;
        }
    }

    private static String simple(String owner, String name) {
        return owner.substring(owner.lastIndexOf('/') + 1) + "." + name;
    }

    /**
     * Whether {@code owner} is library code by its name or place ({@link LibraryCode}), whose calls reach no
     * intervention code except through the callbacks handled apart. Classes that never name nnsight are
     * library code too ({@link #classNode} tells them by their class file).
     */
    private boolean isLibrary(String owner) {
        if (LibraryCode.byName(owner)) {
            return true;
        }
        try {
            return owner.startsWith("io/nnsight/")
                    && NnsightPackages.contains(owner, hierarchy.info(owner).location());
        } catch (TypeNotPresentException e) {
            return false;
        }
    }

    // ---- settling ----

    /**
     * Decides which methods may suspend and which of those are compiled, checking each compiled one's
     * suspension points ({@link MethodRewrite#check()}).
     */
    void settle() throws AnalyzerException {
        Collection<Method> all = methods.values();
        boolean changed = true;
        while (changed) {
            changed = false;
            for (Method method : all) {
                if (!method.suspending && (!method.sites.isEmpty() || method.opaque != null
                        || method.calls.values().stream().anyMatch(m -> m.suspending)
                        || method.lambdas.keySet().stream().anyMatch(m -> m.suspending))) {
                    method.suspending = true;
                    changed = true;
                }
            }
        }
        for (Method method : all) {
            if (!method.suspending) {
                continue;
            }
            if (!called.contains(method)) {
                method.refusal = "it is reached only as a lambda made elsewhere";
            } else if (method.opaque != null) {
                method.refusal = method.opaque;
            } else if (method.blocker != null) {
                method.refusal = method.blocker;
            } else {
                for (Map.Entry<Method, String> lambda : method.lambdas.entrySet()) {
                    if (lambda.getKey().suspending) {
                        method.refusal = "it makes a lambda (" + lambda.getValue() + ") that suspends, which would run "
                                + "through frames the agent cannot compile";
                        break;
                    }
                }
            }
        }
        for (Method method : all) {
            if (method.compiled()) {
                method.rewrite = plan(method);
                method.refusal = method.rewrite.check();
            }
        }
        // Greatest fixed point: a method stays compiled while every method it calls that may suspend does.
        changed = true;
        while (changed) {
            changed = false;
            for (Method method : all) {
                if (!method.compiled()) {
                    continue;
                }
                for (Method callee : method.calls.values()) {
                    if (callee.suspending && !callee.compiled()) {
                        method.refusal = "it calls " + simple(callee.owner.name, callee.node.name)
                                + ", which may suspend but is not compiled: " + callee.refusal;
                        changed = true;
                        break;
                    }
                }
            }
        }
    }

    /**
     * Rewrites every compiled method, those of other classes too (in copies read for this graph, to learn
     * whether their rewrite verifies, as it will when they load).
     *
     * @return the compiled method whose rewrite did not verify, or {@code null} when all did
     */
    Method rewrite() throws AnalyzerException {
        for (Method method : methods.values()) {
            if (method.compiled()) {
                String problem = method.rewrite.apply();
                if (problem != null) {
                    method.refusal = problem;
                    return method;
                }
            }
        }
        return null;
    }

    /** The rewrite of {@code method}, at its own suspension points and its calls of methods that may suspend. */
    private MethodRewrite plan(Method method) {
        List<MethodInsnNode> points = new ArrayList<>(method.sites);
        Map<MethodInsnNode, Integer> helperPoints = new LinkedHashMap<>();
        for (Map.Entry<MethodInsnNode, Method> call : method.calls.entrySet()) {
            Method callee = call.getValue();
            if (callee.suspending) {
                points.add(call.getKey());
                helperPoints.put(call.getKey(),
                        StateMachine.methodKey(callee.owner.name, callee.node.name, callee.node.desc));
            }
        }
        InsnList code = method.node.instructions;
        points.sort((a, b) -> Integer.compare(code.indexOf(a), code.indexOf(b)));
        method.points = points;
        method.helperPoints = helperPoints;
        return new MethodRewrite(method.owner, method.node, points, helperPoints, hierarchy);
    }
}
