package io.nnsight.instrument.statemachine;

import io.nnsight.spi.statemachine.StateMachine;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;
import org.objectweb.asm.tree.AbstractInsnNode;
import org.objectweb.asm.tree.ClassNode;
import org.objectweb.asm.tree.FieldInsnNode;
import org.objectweb.asm.tree.InsnList;
import org.objectweb.asm.tree.InsnNode;
import org.objectweb.asm.tree.IntInsnNode;
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

/**
 * The rewrite of one method into a resumable one, at the suspension points {@link CallGraph} found: at each,
 * the method spills its stack into locals, arms the body's {@code StateMachine} (or offers it to a compiled
 * callee) and makes the call; when the call suspends, it saves its locals into the state machine and returns.
 * On entry it claims the state machine and, when resumed, restores its locals and jumps back to the call.
 * Without a state machine it runs its original code.
 */
final class MethodRewrite {
    private static final String SM = Type.getInternalName(StateMachine.class);
    private static final String SM_DESC = Type.getDescriptor(StateMachine.class);
    private static final String SUSPENSION = Type.getInternalName(StateMachine.Suspension.class);

    private final ClassNode node;
    private final MethodNode method;
    private final List<MethodInsnNode> sites;
    /** The calls of compiled methods among the sites, with the callee's {@code StateMachine.methodKey}. */
    private final Map<MethodInsnNode, Integer> helperSites;
    private final ClassHierarchy hierarchy;
    /** The types of the locals and the stack at each instruction of the method as written ({@link #check()}). */
    private Frame<BasicValue>[] types;

    MethodRewrite(ClassNode node, MethodNode method, List<MethodInsnNode> sites,
            Map<MethodInsnNode, Integer> helperSites, ClassHierarchy hierarchy) {
        this.node = node;
        this.method = method;
        this.sites = sites;
        this.helperSites = helperSites;
        this.hierarchy = hierarchy;
    }

    /**
     * Why the method cannot be rewritten (an object under construction or a subroutine's return address
     * live at a suspension point), or {@code null} when it can.
     */
    String check() throws AnalyzerException {
        types = new Analyzer<>(verifier()).analyze(node.name, method);
        Frame<SourceValue>[] sources = new Analyzer<>(new SourceInterpreter()).analyze(node.name, method);
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
        }
        return null;
    }

    /**
     * Rewrites the method, which {@link #check()} accepted, at the types it found; {@code null} when done,
     * else why it was left as it was (its rewrite does not verify).
     */
    String apply() throws AnalyzerException {
        Map<MethodInsnNode, Frame<BasicValue>> at = new LinkedHashMap<>();
        for (MethodInsnNode site : sites) {
            Frame<BasicValue> frame = types[method.instructions.indexOf(site)];
            if (frame != null) {
                at.put(site, frame);
            }
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
        entry.add(push(StateMachine.methodKey(node.name, method.name, method.desc)));
        entry.add(new MethodInsnNode(Opcodes.INVOKESTATIC, SM, "claim", "(I)" + SM_DESC, false));
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
     * Rewrites one suspension point: spills the stack into locals, makes the call with the state machine
     * ready for it, saves the locals and returns when it suspends, and appends to {@code restores} the code
     * that resumes there. Both kinds of point share this scaffold and differ only in how the call meets the
     * state machine:
     *
     * <ul>
     *   <li>a call of nnsight's API (or a {@code tr.iter} loop's iterator) {@linkplain StateMachine#enter()
     *       arms} it once, and it is {@linkplain StateMachine#reenter() re-armed} on each resumption; the
     *       call suspends by throwing {@code StateMachine.Suspension}, caught right at the call, and the
     *       state machine is {@linkplain StateMachine#exit() disarmed} when the call returns or fails;
     *   <li>a call of a compiled method (a helper) is {@linkplain StateMachine#offer(int) offered} the state
     *       machine before each call, resumptions included, and it suspends by saving its own frame and
     *       returning ({@link StateMachine#suspending()}); the offer is {@linkplain StateMachine#withdraw()
     *       withdrawn} when the call fails. Resumed, this method calls the helper again, which resumes where
     *       it suspended; the helper arms its own suspension points.
     * </ul>
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

        Integer helper = helperSites.get(call);
        LabelNode reenter = new LabelNode();
        LabelNode tryStart = new LabelNode();
        LabelNode tryEnd = new LabelNode();
        LabelNode failed = new LabelNode();
        LabelNode plain = new LabelNode();
        LabelNode done = new LabelNode();

        // Spill the stack; without a state machine, the call as written.
        InsnList before = new InsnList();
        for (int i = stack.size() - 1; i >= 0; i--) {
            before.add(new VarInsnNode(stack.get(i).getType().getOpcode(Opcodes.ISTORE), slots.get(i)));
        }
        before.add(new VarInsnNode(Opcodes.ALOAD, state));
        before.add(new JumpInsnNode(Opcodes.IFNULL, plain));
        if (helper == null) {
            before.add(new VarInsnNode(Opcodes.ALOAD, state));
            if (call.owner.equals("java/util/Iterator")) {
                before.add(new VarInsnNode(Opcodes.ALOAD, slots.get(slots.size() - 1)));
                before.add(new MethodInsnNode(Opcodes.INVOKEVIRTUAL, SM, "enterIterator", "(Ljava/lang/Object;)V",
                        false));
            } else {
                before.add(new MethodInsnNode(Opcodes.INVOKEVIRTUAL, SM, "enter", "()V", false));
            }
        }
        // A resumption comes back here, its locals restored, and makes the call again.
        before.add(reenter);
        if (helper != null) {
            before.add(new VarInsnNode(Opcodes.ALOAD, state));
            before.add(push(helper));
            before.add(new MethodInsnNode(Opcodes.INVOKEVIRTUAL, SM, "offer", "(I)V", false));
        }
        loadAll(before, stack, slots);
        before.add(tryStart);
        method.instructions.insertBefore(call, before);

        // The call returned: go on, or save this frame and return when it suspended.
        InsnList after = new InsnList();
        after.add(tryEnd);
        after.add(new VarInsnNode(Opcodes.ALOAD, state));
        LabelNode suspended = null;
        if (helper == null) {
            after.add(new MethodInsnNode(Opcodes.INVOKEVIRTUAL, SM, "exit", "()V", false));
            after.add(new JumpInsnNode(Opcodes.GOTO, done));
            suspended = new LabelNode();
            after.add(suspended);
            after.add(new InsnNode(Opcodes.POP));
        } else {
            after.add(new MethodInsnNode(Opcodes.INVOKEVIRTUAL, SM, "suspending", "()Z", false));
            after.add(new JumpInsnNode(Opcodes.IFEQ, done));
            int resultSize = Type.getReturnType(call.desc).getSize();
            if (resultSize > 0) {
                after.add(new InsnNode(resultSize == 2 ? Opcodes.POP2 : Opcodes.POP));
            }
        }
        saveAndReturn(after, state, label, keptValues, keptSlots);
        // The call threw: disarm the state machine (or withdraw the offer) and rethrow.
        after.add(failed);
        after.add(new VarInsnNode(Opcodes.ALOAD, state));
        after.add(new MethodInsnNode(Opcodes.INVOKEVIRTUAL, SM, helper == null ? "exit" : "withdraw", "()V", false));
        after.add(new InsnNode(Opcodes.ATHROW));
        callAsWritten(after, plain, call, stack, slots, done);
        method.instructions.insert(call, after);

        method.tryCatchBlocks.add(0, new TryCatchBlockNode(tryStart, tryEnd, failed, null));
        if (suspended != null) {
            method.tryCatchBlocks.add(0, new TryCatchBlockNode(tryStart, tryEnd, suspended, SUSPENSION));
        }

        restores.add(resume);
        restore(restores, state, keptValues, keptSlots);
        if (helper == null) {
            restores.add(new VarInsnNode(Opcodes.ALOAD, state));
            restores.add(new MethodInsnNode(Opcodes.INVOKEVIRTUAL, SM, "reenter", "()V", false));
        }
        restores.add(new JumpInsnNode(Opcodes.GOTO, reenter));
        return size;
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
        if (value >= -1 && value <= 5) {
            return new InsnNode(Opcodes.ICONST_0 + value);
        }
        if (value >= Short.MIN_VALUE && value <= Short.MAX_VALUE) {
            boolean fitsByte = value >= Byte.MIN_VALUE && value <= Byte.MAX_VALUE;
            return new IntInsnNode(fitsByte ? Opcodes.BIPUSH : Opcodes.SIPUSH, value);
        }
        return new LdcInsnNode(value);
    }
}
