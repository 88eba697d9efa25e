package io.nnsight.instrument.statemachine;

import io.nnsight.spi.AgentExempt;
import io.nnsight.spi.Debug;
import io.nnsight.spi.NnsightPackages;
import io.nnsight.spi.statemachine.StateMachine;
import java.lang.instrument.ClassFileTransformer;
import java.net.URL;
import java.security.ProtectionDomain;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;
import org.objectweb.asm.tree.AbstractInsnNode;
import org.objectweb.asm.tree.ClassNode;
import org.objectweb.asm.tree.InsnList;
import org.objectweb.asm.tree.InsnNode;
import org.objectweb.asm.tree.MethodInsnNode;
import org.objectweb.asm.tree.MethodNode;
import org.objectweb.asm.tree.analysis.AnalyzerException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rewrites intervention bodies into resumable methods for the {@code statemachine} engine (installed with
 * {@code -Dnnsight.engine=statemachine}), the technique of Kotlin's coroutines and EA Async: at each call
 * that may suspend, the method saves its locals into the body's {@code StateMachine} and returns; resumed,
 * it restores them and makes the call again, which then completes with the model's reply. See {@link
 * StateMachine} (in core) for the runtime side.
 *
 * <p>What is compiled: lambdas of the loaded class that implement {@code TraceBody}, {@code Supplier} or
 * {@code Runnable} (the bodies of traces, invokes and edits, and the {@code tr.iter} loops in them), and the
 * application's methods they call that may suspend, in this class or others, when the rewrite is provably
 * safe ({@link CallGraph} decides, and says why not). A suspension point is a direct call of {@code
 * output()}, {@code output(Class)}, {@code input()}, {@code inputs()}, {@code setOutput}, {@code setInput},
 * {@code setInputs}, {@code skip}, {@code grad()}, {@code setGrad}, {@code inputGrad()}, {@code setInputGrad} (on
 * an envoy or operation), {@code Barrier.await()}, {@code Invoke.get()}, or
 * an iterator's {@code hasNext()}/{@code next()} (a {@code tr.iter} loop); or a call of a compiled method (chained frames:
 * the callee saves its frame and returns, then its caller does). Each class's methods are rewritten when it
 * loads ({@link MethodRewrite}); a caller's class predicts from the callee's class file what that rewrite
 * will be. A lambda that cannot be compiled runs on continuations. With {@code -Dnnsight.debug=true} each
 * decision is logged.
 *
 * <p>Each compiled method keeps its original code as the path taken when no state machine drives it (on
 * another engine, outside a trace, or called by code that was not compiled), its line numbers, and its
 * exception handlers. A class that cannot be rewritten is left as it was. Results, rewrites and refusals
 * alike, are kept on disk by the class file's hash with the hashes of the class files they depend on ({@link
 * CompiledClassCache}), so a later start takes them from there.
 */
public final class StateMachineCompiler implements ClassFileTransformer {
    private static final Logger LOG = LoggerFactory.getLogger(StateMachineCompiler.class);
    private static final String SM = Type.getInternalName(StateMachine.class);
    private static final Set<String> ACCESSOR_METHODS = Set.of("output()Lorg/bytedeco/pytorch/Tensor;",
            "output(Ljava/lang/Class;)Ljava/lang/Object;", "setOutput(Ljava/lang/Object;)V",
            "input()Lorg/bytedeco/pytorch/Tensor;", "inputs()Lio/nnsight/Inputs;", "setInput(Ljava/lang/Object;)V",
            "setInputs(Lio/nnsight/Inputs;)V", "skip(Ljava/lang/Object;)V", "grad()Lorg/bytedeco/pytorch/Tensor;",
            "setGrad(Lorg/bytedeco/pytorch/Tensor;)V", "inputGrad()Lorg/bytedeco/pytorch/Tensor;",
            "setInputGrad(Lorg/bytedeco/pytorch/Tensor;)V");

    private final boolean debug = Debug.enabled();
    private final Map<String, Boolean> accessors = new ConcurrentHashMap<>();
    private final CompiledClassCache cache;

    /** A compiler that keeps its results in {@code cache} and takes them from there on later starts. */
    StateMachineCompiler(CompiledClassCache cache) {
        this.cache = cache;
    }

    /**
     * A compiler whose results are kept in the folder of the system properties and environment ({@link
     * CompiledClassCache#configured()}: {@code -Dnnsight.cache.dir}, off with {@code off}).
     */
    public static StateMachineCompiler configured() {
        return new StateMachineCompiler(CompiledClassCache.configured());
    }

    @Override
    public byte[] transform(ClassLoader loader, String className, Class<?> redefined, ProtectionDomain domain,
            byte[] bytes) {
        if (loader == null || redefined != null || className == null || loader instanceof AgentExempt
                || LibraryCode.byName(className) || !LibraryCode.namesNnsight(bytes)
                || NnsightPackages.contains(className, locationOf(domain))) {
            return null;
        }
        // With -Dnnsight.debug=true every class is compiled again, so that each decision is logged.
        Optional<byte[]> earlier = debug ? Optional.empty() : cache.get(bytes, loader);
        if (earlier.isPresent()) {
            return earlier.get().length == 0 ? null : earlier.get();
        }
        try {
            Compiled compiled = compile(loader, bytes);
            cache.put(bytes, compiled.bytes(), compiled.dependencies());
            return compiled.bytes();
        } catch (RuntimeException | LinkageError | AnalyzerException e) {
            LOG.debug("nnsight agent: the bodies of {} are not compiled: {}", className, e.toString());
            return null;
        }
    }

    private static URL locationOf(ProtectionDomain domain) {
        return domain == null || domain.getCodeSource() == null ? null : domain.getCodeSource().getLocation();
    }

    /**
     * A class's compilation: its rewritten class file ({@code null} when no method of it is compiled) and the
     * other classes' files it depends on.
     */
    record Compiled(byte[] bytes, Map<String, byte[]> dependencies) {}

    /** Compiles the class of class file {@code bytes}, loaded by {@code loader}. */
    Compiled compile(ClassLoader loader, byte[] bytes) throws AnalyzerException {
        ClassHierarchy hierarchy = new ClassHierarchy(loader);
        Set<String> failed = new HashSet<>();
        CallGraph graph;
        while (true) {
            graph = new CallGraph(loader, hierarchy, call -> isSite(call, hierarchy), bytes, failed);
            graph.settle();
            CallGraph.Method unverified = graph.rewrite();
            if (unverified == null) {
                break;
            }
            // A rewrite that does not verify is a gap of the compiler: that method stays as written, and the
            // graph is settled again without it, from fresh copies.
            LOG.debug("nnsight agent: {} is not compiled: {}", unverified, unverified.refusal);
            failed.add(unverified.toString());
        }
        ClassNode node = graph.self();
        boolean any = false;
        for (CallGraph.Method method : graph.selfMethods()) {
            any |= method.compiled();
            log(method);
        }
        if (!any) {
            return new Compiled(null, graph.dependencies());
        }
        for (MethodNode method : node.methods) {
            for (AbstractInsnNode insn : method.instructions.toArray()) {
                CallGraph.Method body = graph.bodyLambda(insn);
                if (body != null && body.compiled()) {
                    InsnList mark = new InsnList();
                    mark.add(new InsnNode(Opcodes.DUP));
                    mark.add(new MethodInsnNode(Opcodes.INVOKESTATIC, SM, "compiled", "(Ljava/lang/Object;)V", false));
                    method.instructions.insert(insn, mark);
                }
            }
        }
        ClassWriter writer = new FrameWriter(node, hierarchy);
        node.accept(writer);
        return new Compiled(writer.toByteArray(), graph.dependencies());
    }

    private void log(CallGraph.Method method) {
        if (!debug || !method.suspending || !(method.body || method.compiled())) {
            return;
        }
        String name = method.owner.name.replace('/', '.') + "." + method.node.name;
        if (method.compiled()) {
            Debug.log(LOG, "nnsight agent: {}{} compiled into a state machine ({} suspension points)",
                    method.body ? "" : "method ", name, method.points.size());
        } else {
            Debug.log(LOG, "nnsight agent: {} stays on continuations: {}", name, method.refusal);
        }
    }

    /** Whether {@code call} may suspend the body: a call of nnsight's API that makes a request. */
    boolean isSite(MethodInsnNode call, ClassHierarchy hierarchy) {
        if (call.owner.equals("java/util/Iterator")) {
            return call.name.equals("hasNext") && call.desc.equals("()Z")
                    || call.name.equals("next") && call.desc.equals("()Ljava/lang/Object;");
        }
        if (call.owner.equals("io/nnsight/Barrier")) {
            return call.name.equals("await") && call.desc.equals("()V");
        }
        if (call.owner.equals("io/nnsight/Invoke")) { // inside another invoke, waits for that invoke's result
            return call.name.equals("get") && call.desc.equals("()Ljava/lang/Object;");
        }
        return call.getOpcode() == Opcodes.INVOKEVIRTUAL && ACCESSOR_METHODS.contains(call.name + call.desc)
                && isAccessor(call.owner, hierarchy);
    }

    private boolean isAccessor(String owner, ClassHierarchy hierarchy) {
        return accessors.computeIfAbsent(owner, name -> {
            try {
                return hierarchy.isSubtype(name, "io/nnsight/Accessor");
            } catch (TypeNotPresentException e) {
                return false;
            }
        });
    }

}
