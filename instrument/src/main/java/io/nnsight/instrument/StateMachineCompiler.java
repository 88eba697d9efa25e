package io.nnsight.instrument;

import io.nnsight.internal.Debug;
import io.nnsight.spi.AgentExempt;
import java.lang.instrument.ClassFileTransformer;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.security.ProtectionDomain;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Handle;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;
import org.objectweb.asm.tree.AbstractInsnNode;
import org.objectweb.asm.tree.ClassNode;
import org.objectweb.asm.tree.FieldInsnNode;
import org.objectweb.asm.tree.InsnList;
import org.objectweb.asm.tree.InsnNode;
import org.objectweb.asm.tree.IntInsnNode;
import org.objectweb.asm.tree.InvokeDynamicInsnNode;
import org.objectweb.asm.tree.JumpInsnNode;
import org.objectweb.asm.tree.LabelNode;
import org.objectweb.asm.tree.LdcInsnNode;
import org.objectweb.asm.tree.MethodInsnNode;
import org.objectweb.asm.tree.MethodNode;
import org.objectweb.asm.tree.TableSwitchInsnNode;
import org.objectweb.asm.tree.TryCatchBlockNode;
import org.objectweb.asm.tree.TypeInsnNode;
import org.objectweb.asm.tree.VarInsnNode;
import org.objectweb.asm.tree.analysis.Analyzer;
import org.objectweb.asm.tree.analysis.AnalyzerException;
import org.objectweb.asm.tree.analysis.BasicValue;
import org.objectweb.asm.tree.analysis.Frame;
import org.objectweb.asm.tree.analysis.SimpleVerifier;
import org.objectweb.asm.tree.analysis.SourceInterpreter;
import org.objectweb.asm.tree.analysis.SourceValue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rewrites intervention bodies into resumable methods for the {@code statemachine} engine (installed with
 * {@code -Dnnsight.engine=statemachine}), the technique of Kotlin's coroutines and EA Async: at each call
 * that may suspend, the method saves its locals into the body's {@code StateMachine} and returns; resumed,
 * it restores them and makes the call again, which then completes with the model's reply. See {@code
 * io.nnsight.internal.engine.StateMachine} for the runtime side.
 *
 * <p>What is compiled: lambdas of the loaded class that implement {@code TraceBody}, {@code Supplier} or
 * {@code Runnable} (the bodies of traces and invokes, and the {@code tr.iter} loops in them), when the
 * rewrite is provably safe, and the helper methods they call. A suspension point is a direct call of {@code
 * output()}, {@code output(Class)}, {@code input()}, {@code inputs()}, {@code setOutput}, {@code setInput},
 * {@code setInputs}, {@code skip} (on an envoy or operation), {@code Barrier.await()}, or an iterator's
 * {@code hasNext()}/{@code next()} (a {@code tr.iter} loop); or a call of a helper: a private, static or
 * final method of the same class that may suspend, compiled by the same rules (chained frames: the helper
 * saves its frame and returns, then its caller does). A lambda or helper is refused, and the lambda's body
 * runs on continuations, when it is {@code synchronized} or holds a monitor; calls a helper that is refused
 * or recursive (directly or through other helpers), a constructor of its class that may suspend, a
 * functional interface ({@code Runnable.run}, {@code Function.apply}...), an overridable method, or a method
 * of another application class; creates a lambda that may suspend (a {@code forEach} body); or has an object
 * under construction on the stack at a suspension point. With {@code -Dnnsight.debug=true} each decision is
 * logged.
 *
 * <p>Each compiled method keeps its original code as the path taken when no state machine drives it (on
 * another engine, outside a trace, or a helper called by code that was not compiled), its line numbers, and
 * its exception handlers. A class that cannot be rewritten or whose result does not verify is left as it
 * was. Results, rewrites and refusals alike, are kept on disk by the class file's hash ({@link
 * CompiledClassCache}), so a later start takes them from there.
 */
final class StateMachineCompiler implements ClassFileTransformer {
    private static final Logger LOG = LoggerFactory.getLogger(StateMachineCompiler.class);
    private static final String SM = "io/nnsight/internal/engine/StateMachine";
    private static final String SM_DESC = "L" + SM + ";";
    private static final String SUSPENSION = SM + "$Suspension";
    private static final byte[] NNSIGHT = "io/nnsight/".getBytes(StandardCharsets.US_ASCII);
    private static final Set<String> BODY_INTERFACES = Set.of("io/nnsight/TraceBody", "java/util/function/Supplier",
            "java/lang/Runnable");
    private static final Set<String> ACCESSOR_METHODS = Set.of("output()Lorg/bytedeco/pytorch/Tensor;",
            "output(Ljava/lang/Class;)Ljava/lang/Object;", "setOutput(Ljava/lang/Object;)V",
            "input()Lorg/bytedeco/pytorch/Tensor;", "inputs()Lio/nnsight/Inputs;", "setInput(Ljava/lang/Object;)V",
            "setInputs(Lio/nnsight/Inputs;)V", "skip(Ljava/lang/Object;)V");
    private static final List<String> LIBRARIES = List.of("java/", "javax/", "jdk/", "sun/", "org/bytedeco/");
    private static final Set<String> CALLBACKS = Set.of("java/lang/Runnable", "java/util/concurrent/Callable",
            "io/nnsight/TraceBody", "io/nnsight/SessionBody");

    private final boolean debug = Debug.enabled();
    private final Map<String, Boolean> accessors = new ConcurrentHashMap<>();
    private final CompiledClassCache cache;

    /** A compiler that keeps its results in {@code cache} and takes them from there on later starts. */
    StateMachineCompiler(CompiledClassCache cache) {
        this.cache = cache;
    }

    @Override
    public byte[] transform(ClassLoader loader, String className, Class<?> redefined, ProtectionDomain domain,
            byte[] bytes) {
        if (loader == null || redefined != null || className == null || loader instanceof AgentExempt
                || isLibrary(className) || !contains(bytes, NNSIGHT)) {
            return null;
        }
        // With -Dnnsight.debug=true every class is compiled again, so that each decision is logged.
        Optional<byte[]> earlier = debug ? Optional.empty() : cache.get(bytes);
        if (earlier.isPresent()) {
            return earlier.get().length == 0 ? null : earlier.get();
        }
        try {
            byte[] rewritten = compile(loader, domain, bytes);
            cache.put(bytes, rewritten);
            return rewritten;
        } catch (RuntimeException | LinkageError | AnalyzerException e) {
            LOG.debug("nnsight agent: the bodies of {} are not compiled: {}", className, e.toString());
            return null;
        }
    }

    private static boolean isLibrary(String className) {
        return className.startsWith("io/nnsight/internal/") || className.startsWith("io/nnsight/instrument/")
                || className.startsWith("io/nnsight/agent/") || className.startsWith("io/nnsight/shaded/")
                || className.startsWith("java/") || className.startsWith("jdk/") || className.startsWith("sun/")
                || className.startsWith("org/bytedeco/");
    }

    private static boolean contains(byte[] bytes, byte[] part) {
        outer:
        for (int i = 0; i + part.length <= bytes.length; i++) {
            for (int j = 0; j < part.length; j++) {
                if (bytes[i + j] != part[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    /** The rewritten class file, or {@code null} when no body of the class is compiled. */
    byte[] compile(ClassLoader loader, ProtectionDomain domain, byte[] bytes) throws AnalyzerException {
        URL home = domain == null || domain.getCodeSource() == null ? null : domain.getCodeSource().getLocation();
        ClassHierarchy hierarchy = new ClassHierarchy(loader);
        ClassNode node = new ClassNode();
        new ClassReader(bytes).accept(node, 0);
        Map<String, MethodNode> methods = new HashMap<>();
        for (MethodNode method : node.methods) {
            methods.put(method.name + method.desc, method);
        }
        Map<MethodNode, Facts> facts = new HashMap<>();
        for (MethodNode method : node.methods) {
            facts.put(method, new Facts(node, method, methods, hierarchy, home));
        }
        settleSuspending(facts);

        Set<MethodNode> candidates = new LinkedHashSet<>();
        for (MethodNode method : node.methods) {
            for (AbstractInsnNode insn : method.instructions) {
                MethodNode impl = lambdaImpl(node, methods, insn);
                if (impl != null && impl.name.startsWith("lambda$")
                        && BODY_INTERFACES.contains(Type.getReturnType(((InvokeDynamicInsnNode) insn).desc).getInternalName())) {
                    candidates.add(impl);
                }
            }
        }
        Set<MethodNode> compiled = new LinkedHashSet<>();
        Settler settler = new Settler(node, facts, hierarchy);
        for (MethodNode candidate : candidates) {
            String refusal = settler.settle(candidate);
            if (refusal == null) {
                compiled.add(candidate);
                if (debug) {
                    LOG.info("nnsight agent: {}.{} compiled into a state machine ({} suspension points)",
                            node.name.replace('/', '.'), candidate.name, settler.siteCount(candidate));
                }
            } else if (debug) {
                LOG.info("nnsight agent: {}.{} stays on continuations: {}", node.name.replace('/', '.'), candidate.name,
                        refusal);
            }
        }
        if (compiled.isEmpty()) {
            return null;
        }
        for (MethodNode method : node.methods) {
            for (AbstractInsnNode insn : method.instructions.toArray()) {
                if (compiled.contains(lambdaImpl(node, methods, insn))) {
                    InsnList mark = new InsnList();
                    mark.add(new InsnNode(Opcodes.DUP));
                    mark.add(new MethodInsnNode(Opcodes.INVOKESTATIC, SM, "compiled", "(Ljava/lang/Object;)V", false));
                    method.instructions.insert(insn, mark);
                }
            }
        }
        ClassWriter writer = new FrameWriter(node, hierarchy);
        node.accept(writer);
        return writer.toByteArray();
    }

    /** The method of this class that {@code insn} makes a lambda of, or {@code null}. */
    private static MethodNode lambdaImpl(ClassNode node, Map<String, MethodNode> methods, AbstractInsnNode insn) {
        if (!(insn instanceof InvokeDynamicInsnNode)) {
            return null;
        }
        InvokeDynamicInsnNode indy = (InvokeDynamicInsnNode) insn;
        if (!indy.bsm.getOwner().equals("java/lang/invoke/LambdaMetafactory") || indy.bsmArgs.length < 2
                || !(indy.bsmArgs[1] instanceof Handle)) {
            return null;
        }
        Handle impl = (Handle) indy.bsmArgs[1];
        return impl.getOwner().equals(node.name) ? methods.get(impl.getName() + impl.getDesc()) : null;
    }

    /** Marks the methods that may suspend: directly, or through the methods and lambdas of the class they use. */
    private static void settleSuspending(Map<MethodNode, Facts> facts) {
        boolean changed = true;
        while (changed) {
            changed = false;
            for (Facts fact : facts.values()) {
                if (!fact.suspending) {
                    for (MethodNode used : fact.uses) {
                        Facts other = facts.get(used);
                        if (other != null && other.suspending) {
                            fact.suspending = true;
                            changed = true;
                            break;
                        }
                    }
                }
            }
        }
    }

    /**
     * Decides, once per method, whether it is compiled, and rewrites it: a lambda or helper method is compiled
     * when nothing in it is unsafe and every helper it calls that may suspend is compiled too (recursion is
     * refused). The calls of those helpers are suspension points of their callers (chained frames).
     */
    private final class Settler {
        private final ClassNode node;
        private final Map<MethodNode, Facts> facts;
        private final ClassHierarchy hierarchy;
        private final Map<MethodNode, String> settled = new HashMap<>();
        private final Map<MethodNode, Integer> siteCounts = new HashMap<>();
        private final Set<MethodNode> visiting = new LinkedHashSet<>();

        Settler(ClassNode node, Map<MethodNode, Facts> facts, ClassHierarchy hierarchy) {
            this.node = node;
            this.facts = facts;
            this.hierarchy = hierarchy;
        }

        int siteCount(MethodNode method) {
            return siteCounts.getOrDefault(method, 0);
        }

        /** Why {@code method} is not compiled, or {@code null} when it is (rewritten, if it has suspension points). */
        String settle(MethodNode method) throws AnalyzerException {
            if (settled.containsKey(method)) {
                return settled.get(method);
            }
            if (!visiting.add(method)) {
                return "it is recursive (recursive helpers are not compiled yet)";
            }
            String refusal;
            try {
                refusal = decide(method);
            } finally {
                visiting.remove(method);
            }
            settled.put(method, refusal);
            return refusal;
        }

        private String decide(MethodNode method) throws AnalyzerException {
            Facts fact = facts.get(method);
            if (fact.unsafe != null) {
                return fact.unsafe;
            }
            List<MethodInsnNode> sites = new ArrayList<>(fact.sites);
            Set<MethodInsnNode> helperSites = new LinkedHashSet<>();
            for (Map.Entry<MethodInsnNode, MethodNode> call : fact.helperCalls.entrySet()) {
                MethodNode helper = call.getValue();
                if (!facts.get(helper).suspending) {
                    continue;
                }
                if (helper.name.equals("<init>")) {
                    return "it calls a constructor of its class, which reaches a suspension";
                }
                if (visiting.contains(helper)) {
                    return "it calls " + helper.name + " recursively (recursive helpers are not compiled yet)";
                }
                String refusal = settle(helper);
                if (refusal != null) {
                    return "it calls " + helper.name + ", which may suspend but is not compiled: " + refusal;
                }
                sites.add(call.getKey());
                helperSites.add(call.getKey());
            }
            for (Map.Entry<MethodNode, String> lambda : fact.lambdas.entrySet()) {
                if (facts.get(lambda.getKey()).suspending) {
                    return "it makes a lambda (" + lambda.getValue() + ") that suspends, which would run through "
                            + "frames the agent cannot compile";
                }
            }
            sites.sort((a, b) -> Integer.compare(method.instructions.indexOf(a), method.instructions.indexOf(b)));
            siteCounts.put(method, sites.size());
            if (sites.isEmpty()) {
                return null;
            }
            String refusal = new Rewrite(node, method, sites, helperSites, hierarchy).apply();
            if (refusal == null && debug && !method.name.startsWith("lambda$")) {
                LOG.info("nnsight agent: helper {}.{} compiled into a state machine ({} suspension points)",
                        node.name.replace('/', '.'), method.name, sites.size());
            }
            return refusal;
        }
    }

    /** What one method of the class does that matters for the rewrite. */
    private final class Facts {
        final List<MethodInsnNode> sites = new ArrayList<>();
        final Set<MethodNode> uses = new LinkedHashSet<>();
        final Map<MethodInsnNode, MethodNode> helperCalls = new LinkedHashMap<>();
        final Map<MethodNode, String> lambdas = new LinkedHashMap<>();
        final MethodNode method;
        String unsafe;
        boolean suspending;

        Facts(ClassNode node, MethodNode method, Map<String, MethodNode> methods, ClassHierarchy hierarchy, URL home) {
            this.method = method;
            if ((method.access & Opcodes.ACC_SYNCHRONIZED) != 0) {
                unsafe = "it is synchronized";
            }
            for (AbstractInsnNode insn : method.instructions) {
                if (insn.getOpcode() == Opcodes.MONITORENTER && unsafe == null) {
                    unsafe = "it holds a monitor (synchronized)";
                } else if (insn instanceof MethodInsnNode) {
                    MethodInsnNode call = (MethodInsnNode) insn;
                    if (isSite(call, hierarchy)) {
                        sites.add(call);
                    } else {
                        classify(node, methods, call, hierarchy, home);
                    }
                } else {
                    MethodNode impl = lambdaImpl(node, methods, insn);
                    if (impl != null) {
                        uses.add(impl);
                        lambdas.putIfAbsent(impl, impl.name);
                    }
                }
            }
            suspending = !sites.isEmpty() || unsafe != null;
        }

        private void classify(ClassNode node, Map<String, MethodNode> methods, MethodInsnNode call, ClassHierarchy hierarchy,
                URL home) {
            if (call.owner.equals(node.name)) {
                MethodNode target = methods.get(call.name + call.desc);
                boolean fixed = target != null && (call.getOpcode() == Opcodes.INVOKESTATIC
                        || (target.access & (Opcodes.ACC_PRIVATE | Opcodes.ACC_FINAL)) != 0
                        || (node.access & Opcodes.ACC_FINAL) != 0 || target.name.equals("<init>"));
                if (fixed) {
                    uses.add(target);
                    helperCalls.put(call, target);
                } else if (unsafe == null) {
                    unsafe = "it calls " + call.name + ", which a subclass may override";
                }
                return;
            }
            if (unsafe != null) {
                return;
            }
            String simple = call.owner.substring(call.owner.lastIndexOf('/') + 1) + "." + call.name;
            if (CALLBACKS.contains(call.owner) || call.owner.startsWith("java/util/function/")) {
                unsafe = "it calls " + simple + ", which may run code that suspends";
            } else if (!isLibrary(call.owner, hierarchy, home)) {
                unsafe = "it calls " + simple + ", which the agent does not analyse";
            }
        }
    }

    /**
     * Whether {@code owner} is library code, whose calls reach no intervention code except through the
     * callbacks handled apart: the JDK's, Bytedeco's, and nnsight's own classes (those in {@code io.nnsight}
     * packages that do not come from the same place as the class being compiled, as nnsight's tests do).
     */
    private static boolean isLibrary(String owner, ClassHierarchy hierarchy, URL home) {
        if (LIBRARIES.stream().anyMatch(owner::startsWith)) {
            return true;
        }
        if (!owner.startsWith("io/nnsight/")) {
            return false;
        }
        try {
            URL location = hierarchy.info(owner).location();
            return location != null && !Objects.equals(location, home);
        } catch (TypeNotPresentException e) {
            return false;
        }
    }

    /** Whether {@code call} may suspend the body: a call of nnsight's API that makes a request. */
    private boolean isSite(MethodInsnNode call, ClassHierarchy hierarchy) {
        if (call.owner.equals("java/util/Iterator")) {
            return call.name.equals("hasNext") && call.desc.equals("()Z")
                    || call.name.equals("next") && call.desc.equals("()Ljava/lang/Object;");
        }
        if (call.owner.equals("io/nnsight/Barrier")) {
            return call.name.equals("await") && call.desc.equals("()V");
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

    /** The rewrite of one lambda into a resumable method. */
    private static final class Rewrite {
        private final ClassNode node;
        private final MethodNode method;
        private final List<MethodInsnNode> sites;
        private final Set<MethodInsnNode> helperSites;
        private final ClassHierarchy hierarchy;

        Rewrite(ClassNode node, MethodNode method, List<MethodInsnNode> sites, Set<MethodInsnNode> helperSites,
                ClassHierarchy hierarchy) {
            this.node = node;
            this.method = method;
            this.sites = sites;
            this.helperSites = helperSites;
            this.hierarchy = hierarchy;
        }

        /** Rewrites the method; {@code null} when done, else why it was left as it was. */
        String apply() throws AnalyzerException {
            Frame<BasicValue>[] types = new Analyzer<>(verifier()).analyze(node.name, method);
            Frame<SourceValue>[] sources = new Analyzer<>(new SourceInterpreter()).analyze(node.name, method);
            Map<MethodInsnNode, Frame<BasicValue>> at = new LinkedHashMap<>();
            for (MethodInsnNode site : sites) {
                int index = method.instructions.indexOf(site);
                if (types[index] == null) {
                    continue; // unreachable
                }
                Frame<SourceValue> source = sources[index];
                for (int i = 0; i < source.getStackSize(); i++) {
                    if (underConstruction(source, i, sources)) {
                        return "an object under construction is on the stack at its call of " + site.name
                                + " (new X(..." + site.name + "()...))";
                    }
                }
                for (int i = 0; i < types[index].getLocals(); i++) {
                    if (types[index].getLocal(i) == BasicValue.RETURNADDRESS_VALUE) {
                        return "it uses subroutines (jsr)";
                    }
                }
                at.put(site, types[index]);
            }
            MethodNode original = copy(method);
            int state = method.maxLocals;
            int temps = state + 1;
            int maxTemps = 0;
            LabelNode start = new LabelNode();
            List<LabelNode> resumes = new ArrayList<>();
            InsnList restores = new InsnList();
            int label = 0;
            for (Map.Entry<MethodInsnNode, Frame<BasicValue>> entry : at.entrySet()) {
                label++;
                LabelNode resume = new LabelNode();
                resumes.add(resume);
                maxTemps = Math.max(maxTemps, rewriteSite(entry.getKey(), entry.getValue(), label, state, temps, resume,
                        restores));
            }
            InsnList entry = new InsnList();
            entry.add(new MethodInsnNode(Opcodes.INVOKESTATIC, SM, "claim", "()" + SM_DESC, false));
            entry.add(new VarInsnNode(Opcodes.ASTORE, state));
            entry.add(new VarInsnNode(Opcodes.ALOAD, state));
            entry.add(new JumpInsnNode(Opcodes.IFNULL, start));
            entry.add(new VarInsnNode(Opcodes.ALOAD, state));
            entry.add(new MethodInsnNode(Opcodes.INVOKEVIRTUAL, SM, "label", "()I", false));
            entry.add(new TableSwitchInsnNode(1, resumes.size(), start, resumes.toArray(new LabelNode[0])));
            entry.add(start);
            method.instructions.insert(entry);
            method.instructions.add(restores);
            method.maxLocals = temps + maxTemps;
            method.maxStack += 8;
            try {
                new Analyzer<>(verifier()).analyze(node.name, method);
            } catch (AnalyzerException e) {
                node.methods.set(node.methods.indexOf(method), original);
                return "its rewrite does not verify (" + e.getMessage() + ")";
            }
            return null;
        }

        private SimpleVerifier verifier() {
            List<Type> interfaces = new ArrayList<>();
            for (String name : node.interfaces) {
                interfaces.add(Type.getObjectType(name));
            }
            return new HierarchyVerifier(node, interfaces, hierarchy);
        }

        /**
         * Whether stack entry {@code i} is an object made by {@code NEW} whose constructor has not run: javac
         * duplicates it ({@code NEW; DUP}) and the constructor call consumes the upper copy, so both copies
         * are on the stack until then.
         */
        private boolean underConstruction(Frame<SourceValue> frame, int i, Frame<SourceValue>[] sources) {
            for (AbstractInsnNode copy : frame.getStack(i).insns) {
                if (copy.getOpcode() != Opcodes.DUP || !duplicatesNew(copy, sources)) {
                    continue;
                }
                for (int j = i + 1; j < frame.getStackSize(); j++) {
                    if (frame.getStack(j).insns.contains(copy)) {
                        return true;
                    }
                }
            }
            return false;
        }

        private boolean duplicatesNew(AbstractInsnNode copy, Frame<SourceValue>[] sources) {
            Frame<SourceValue> before = sources[method.instructions.indexOf(copy)];
            for (AbstractInsnNode made : before.getStack(before.getStackSize() - 1).insns) {
                if (made.getOpcode() == Opcodes.NEW) {
                    return true;
                }
            }
            return false;
        }

        private static MethodNode copy(MethodNode method) {
            MethodNode copy = new MethodNode(method.access, method.name, method.desc, method.signature,
                    method.exceptions.toArray(new String[0]));
            method.accept(copy);
            return copy;
        }

        /**
         * Rewrites one suspension point: spills the stack into locals, makes the call armed, saves the locals
         * and returns when it suspends, and appends to {@code restores} the code that resumes there.
         *
         * @return how many local slots the spilled stack takes
         */
        private int rewriteSite(MethodInsnNode call, Frame<BasicValue> frame, int label, int state, int temps,
                LabelNode resume, InsnList restores) {
            List<BasicValue> stack = new ArrayList<>();
            List<Integer> slots = new ArrayList<>();
            int size = 0;
            for (int i = 0; i < frame.getStackSize(); i++) {
                BasicValue value = frame.getStack(i);
                stack.add(value);
                slots.add(temps + size);
                size += value.getSize();
            }
            // The locals to keep: the method's own, then the spilled stack.
            List<BasicValue> keptValues = new ArrayList<>();
            List<Integer> keptSlots = new ArrayList<>();
            for (int i = 0; i < frame.getLocals(); i++) {
                BasicValue value = frame.getLocal(i);
                if (value != BasicValue.UNINITIALIZED_VALUE && value.getType() != null) {
                    keptValues.add(value);
                    keptSlots.add(i);
                }
            }
            keptValues.addAll(stack);
            keptSlots.addAll(slots);

            LabelNode reenter = new LabelNode();
            LabelNode tryStart = new LabelNode();
            LabelNode tryEnd = new LabelNode();
            LabelNode suspended = new LabelNode();
            LabelNode failed = new LabelNode();
            LabelNode plain = new LabelNode();
            LabelNode done = new LabelNode();
            boolean iterator = call.owner.equals("java/util/Iterator");

            InsnList before = new InsnList();
            for (int i = stack.size() - 1; i >= 0; i--) {
                before.add(new VarInsnNode(stack.get(i).getType().getOpcode(Opcodes.ISTORE), slots.get(i)));
            }
            before.add(new VarInsnNode(Opcodes.ALOAD, state));
            before.add(new JumpInsnNode(Opcodes.IFNULL, plain));
            if (helperSites.contains(call)) {
                rewriteHelperSite(call, label, state, stack, slots, keptValues, keptSlots, before, resume, restores);
                return size;
            }
            before.add(new VarInsnNode(Opcodes.ALOAD, state));
            if (iterator) {
                before.add(new VarInsnNode(Opcodes.ALOAD, slots.get(slots.size() - 1)));
                before.add(new MethodInsnNode(Opcodes.INVOKEVIRTUAL, SM, "enterIterator", "(Ljava/lang/Object;)V", false));
            } else {
                before.add(new MethodInsnNode(Opcodes.INVOKEVIRTUAL, SM, "enter", "()V", false));
            }
            before.add(reenter);
            loadAll(before, stack, slots);
            before.add(tryStart);
            method.instructions.insertBefore(call, before);

            InsnList after = new InsnList();
            after.add(tryEnd);
            after.add(new VarInsnNode(Opcodes.ALOAD, state));
            after.add(new MethodInsnNode(Opcodes.INVOKEVIRTUAL, SM, "exit", "()V", false));
            after.add(new JumpInsnNode(Opcodes.GOTO, done));
            after.add(suspended);
            after.add(new InsnNode(Opcodes.POP));
            saveAndReturn(after, state, label, keptValues, keptSlots);
            after.add(failed);
            after.add(new VarInsnNode(Opcodes.ALOAD, state));
            after.add(new MethodInsnNode(Opcodes.INVOKEVIRTUAL, SM, "exit", "()V", false));
            after.add(new InsnNode(Opcodes.ATHROW));
            callAsWritten(after, plain, call, stack, slots, done);
            method.instructions.insert(call, after);

            method.tryCatchBlocks.add(0, new TryCatchBlockNode(tryStart, tryEnd, failed, null));
            method.tryCatchBlocks.add(0, new TryCatchBlockNode(tryStart, tryEnd, suspended, SUSPENSION));

            restores.add(resume);
            restore(restores, state, keptValues, keptSlots);
            restores.add(new VarInsnNode(Opcodes.ALOAD, state));
            restores.add(new MethodInsnNode(Opcodes.INVOKEVIRTUAL, SM, "reenter", "()V", false));
            restores.add(new JumpInsnNode(Opcodes.GOTO, reenter));
            return size;
        }

        /**
         * Rewrites the call of a compiled helper method of the class: offers it the state machine and makes
         * the call; when the helper has suspended (it saved its own frame and returned), saves this method's
         * frame and returns in turn. Resumed, this method restores its locals and calls the helper again,
         * which resumes where it suspended. The helper arms its own suspension points.
         */
        private void rewriteHelperSite(MethodInsnNode call, int label, int state, List<BasicValue> stack,
                List<Integer> slots, List<BasicValue> keptValues, List<Integer> keptSlots, InsnList before,
                LabelNode resume, InsnList restores) {
            LabelNode reenter = new LabelNode();
            LabelNode tryStart = new LabelNode();
            LabelNode tryEnd = new LabelNode();
            LabelNode failed = new LabelNode();
            LabelNode plain = ((JumpInsnNode) before.getLast()).label;
            LabelNode done = new LabelNode();

            before.add(reenter);
            before.add(new VarInsnNode(Opcodes.ALOAD, state));
            before.add(new MethodInsnNode(Opcodes.INVOKEVIRTUAL, SM, "offer", "()V", false));
            loadAll(before, stack, slots);
            before.add(tryStart);
            method.instructions.insertBefore(call, before);

            InsnList after = new InsnList();
            after.add(tryEnd);
            after.add(new VarInsnNode(Opcodes.ALOAD, state));
            after.add(new MethodInsnNode(Opcodes.INVOKEVIRTUAL, SM, "suspending", "()Z", false));
            after.add(new JumpInsnNode(Opcodes.IFEQ, done));
            int resultSize = Type.getReturnType(call.desc).getSize();
            if (resultSize > 0) {
                after.add(new InsnNode(resultSize == 2 ? Opcodes.POP2 : Opcodes.POP));
            }
            saveAndReturn(after, state, label, keptValues, keptSlots);
            after.add(failed);
            after.add(new VarInsnNode(Opcodes.ALOAD, state));
            after.add(new MethodInsnNode(Opcodes.INVOKEVIRTUAL, SM, "withdraw", "()V", false));
            after.add(new InsnNode(Opcodes.ATHROW));
            callAsWritten(after, plain, call, stack, slots, done);
            method.instructions.insert(call, after);

            method.tryCatchBlocks.add(0, new TryCatchBlockNode(tryStart, tryEnd, failed, null));

            restores.add(resume);
            restore(restores, state, keptValues, keptSlots);
            restores.add(new JumpInsnNode(Opcodes.GOTO, reenter));
        }

        /** Saves this method's frame for suspension point {@code label} and returns (a default value). */
        private void saveAndReturn(InsnList into, int state, int label, List<BasicValue> keptValues,
                List<Integer> keptSlots) {
            save(into, state, keptValues, keptSlots);
            into.add(new VarInsnNode(Opcodes.ALOAD, state));
            into.add(push(label));
            into.add(new MethodInsnNode(Opcodes.INVOKEVIRTUAL, SM, "suspendedAt", "(I)V", false));
            returnDefault(into);
        }

        /** At {@code plain}, the call as written (no state machine drives this method); then {@code done}. */
        private static void callAsWritten(InsnList into, LabelNode plain, MethodInsnNode call, List<BasicValue> stack,
                List<Integer> slots, LabelNode done) {
            into.add(plain);
            loadAll(into, stack, slots);
            into.add(new MethodInsnNode(call.getOpcode(), call.owner, call.name, call.desc, call.itf));
            into.add(done);
        }

        private static void loadAll(InsnList into, List<BasicValue> stack, List<Integer> slots) {
            for (int i = 0; i < stack.size(); i++) {
                into.add(new VarInsnNode(stack.get(i).getType().getOpcode(Opcodes.ILOAD), slots.get(i)));
            }
        }

        private static boolean isNull(BasicValue value) {
            return value.getType().getSort() == Type.OBJECT && value.getType().getInternalName().equals("null");
        }

        private static void save(InsnList into, int state, List<BasicValue> values, List<Integer> slots) {
            int refs = 0;
            int prims = 0;
            for (BasicValue value : values) {
                if (value.isReference()) {
                    refs += isNull(value) ? 0 : 1;
                } else {
                    prims++;
                }
            }
            into.add(new VarInsnNode(Opcodes.ALOAD, state));
            into.add(push(refs));
            into.add(push(prims));
            into.add(new MethodInsnNode(Opcodes.INVOKEVIRTUAL, SM, "save", "(II)V", false));
            int ref = 0;
            int prim = 0;
            for (int i = 0; i < values.size(); i++) {
                BasicValue value = values.get(i);
                int slot = slots.get(i);
                if (value.isReference()) {
                    if (isNull(value)) {
                        continue;
                    }
                    into.add(new VarInsnNode(Opcodes.ALOAD, state));
                    into.add(new FieldInsnNode(Opcodes.GETFIELD, SM, "refs", "[Ljava/lang/Object;"));
                    into.add(push(ref++));
                    into.add(new VarInsnNode(Opcodes.ALOAD, slot));
                    into.add(new InsnNode(Opcodes.AASTORE));
                    continue;
                }
                into.add(new VarInsnNode(Opcodes.ALOAD, state));
                into.add(new FieldInsnNode(Opcodes.GETFIELD, SM, "prims", "[J"));
                into.add(push(prim++));
                switch (value.getType().getSort()) {
                    case Type.LONG:
                        into.add(new VarInsnNode(Opcodes.LLOAD, slot));
                        break;
                    case Type.DOUBLE:
                        into.add(new VarInsnNode(Opcodes.DLOAD, slot));
                        into.add(new MethodInsnNode(Opcodes.INVOKESTATIC, "java/lang/Double", "doubleToRawLongBits",
                                "(D)J", false));
                        break;
                    case Type.FLOAT:
                        into.add(new VarInsnNode(Opcodes.FLOAD, slot));
                        into.add(new MethodInsnNode(Opcodes.INVOKESTATIC, "java/lang/Float", "floatToRawIntBits",
                                "(F)I", false));
                        into.add(new InsnNode(Opcodes.I2L));
                        break;
                    default:
                        into.add(new VarInsnNode(Opcodes.ILOAD, slot));
                        into.add(new InsnNode(Opcodes.I2L));
                        break;
                }
                into.add(new InsnNode(Opcodes.LASTORE));
            }
        }

        private static void restore(InsnList into, int state, List<BasicValue> values, List<Integer> slots) {
            int ref = 0;
            int prim = 0;
            for (int i = 0; i < values.size(); i++) {
                BasicValue value = values.get(i);
                int slot = slots.get(i);
                if (value.isReference()) {
                    if (isNull(value)) {
                        into.add(new InsnNode(Opcodes.ACONST_NULL));
                    } else {
                        into.add(new VarInsnNode(Opcodes.ALOAD, state));
                        into.add(new FieldInsnNode(Opcodes.GETFIELD, SM, "refs", "[Ljava/lang/Object;"));
                        into.add(push(ref++));
                        into.add(new InsnNode(Opcodes.AALOAD));
                        if (!value.getType().getInternalName().equals("java/lang/Object")) {
                            into.add(new TypeInsnNode(Opcodes.CHECKCAST, value.getType().getInternalName()));
                        }
                    }
                    into.add(new VarInsnNode(Opcodes.ASTORE, slot));
                    continue;
                }
                into.add(new VarInsnNode(Opcodes.ALOAD, state));
                into.add(new FieldInsnNode(Opcodes.GETFIELD, SM, "prims", "[J"));
                into.add(push(prim++));
                into.add(new InsnNode(Opcodes.LALOAD));
                switch (value.getType().getSort()) {
                    case Type.LONG:
                        into.add(new VarInsnNode(Opcodes.LSTORE, slot));
                        break;
                    case Type.DOUBLE:
                        into.add(new MethodInsnNode(Opcodes.INVOKESTATIC, "java/lang/Double", "longBitsToDouble",
                                "(J)D", false));
                        into.add(new VarInsnNode(Opcodes.DSTORE, slot));
                        break;
                    case Type.FLOAT:
                        into.add(new InsnNode(Opcodes.L2I));
                        into.add(new MethodInsnNode(Opcodes.INVOKESTATIC, "java/lang/Float", "intBitsToFloat",
                                "(I)F", false));
                        into.add(new VarInsnNode(Opcodes.FSTORE, slot));
                        break;
                    default:
                        into.add(new InsnNode(Opcodes.L2I));
                        into.add(new VarInsnNode(Opcodes.ISTORE, slot));
                        break;
                }
            }
        }

        private void returnDefault(InsnList into) {
            Type type = Type.getReturnType(method.desc);
            switch (type.getSort()) {
                case Type.VOID:
                    into.add(new InsnNode(Opcodes.RETURN));
                    return;
                case Type.LONG:
                    into.add(new InsnNode(Opcodes.LCONST_0));
                    break;
                case Type.DOUBLE:
                    into.add(new InsnNode(Opcodes.DCONST_0));
                    break;
                case Type.FLOAT:
                    into.add(new InsnNode(Opcodes.FCONST_0));
                    break;
                case Type.OBJECT:
                case Type.ARRAY:
                    into.add(new InsnNode(Opcodes.ACONST_NULL));
                    break;
                default:
                    into.add(new InsnNode(Opcodes.ICONST_0));
                    break;
            }
            into.add(new InsnNode(type.getOpcode(Opcodes.IRETURN)));
        }

        private static AbstractInsnNode push(int value) {
            if (value <= 5) {
                return new InsnNode(Opcodes.ICONST_0 + value);
            }
            return value <= Short.MAX_VALUE ? new IntInsnNode(Opcodes.SIPUSH, value) : new LdcInsnNode(value);
        }
    }
}
