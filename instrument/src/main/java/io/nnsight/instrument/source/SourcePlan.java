package io.nnsight.instrument.source;

import io.nnsight.spi.SourceMap;
import java.util.ArrayList;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import net.bytebuddy.jar.asm.ClassReader;
import net.bytebuddy.jar.asm.ClassVisitor;
import net.bytebuddy.jar.asm.Handle;
import net.bytebuddy.jar.asm.Label;
import net.bytebuddy.jar.asm.MethodVisitor;
import net.bytebuddy.jar.asm.Opcodes;

/**
 * Which calls of a module class are operations for {@code .source}: every eligible call in {@code forward}
 * and in the methods and lambdas of the class it reaches, numbered in the order of the class file. Made
 * from the class file before any transform, and consulted by the rewriter while it writes the class.
 */
final class SourcePlan {
    private static final Map<ClassLoader, Map<String, SourcePlan>> PLANS = Collections.synchronizedMap(new WeakHashMap<>());
    private static final Set<String> PLUMBING = Set.of("hooked", "register", "registerParameter", "persistent",
            "hookPoint", "namedChildren", "register_module", "register_parameter", "register_buffer");

    /** For each method of the closure ({@code name + descriptor}), its sites' ids in the order of its calls. */
    private final Map<String, int[]> sites;

    private SourcePlan(Map<String, int[]> sites) {
        this.sites = sites;
    }

    /** The plan of a class being written, or {@code null}. */
    static SourcePlan of(ClassLoader loader, String className) {
        Map<String, SourcePlan> plans = PLANS.get(loader);
        return plans == null ? null : plans.get(className);
    }

    /** The site ids of {@code method}'s eligible calls, or {@code null} when the method is not part of forward. */
    int[] sites(String name, String descriptor) {
        int original = name.indexOf("$original$");
        return sites.get((original < 0 ? name : name.substring(0, original)) + descriptor);
    }

    /**
     * Whether a call is an operation: not a constructor, a super call, the plumbing of hooks, or a call into
     * nnsight itself (its models and modules, {@code io.nnsight.nn} and {@code io.nnsight.lm}, excepted).
     */
    static boolean eligible(int opcode, String owner, String name) {
        if (opcode == Opcodes.INVOKESPECIAL || name.startsWith("<") || PLUMBING.contains(name)) {
            return false;
        }
        return !owner.startsWith("io/nnsight/") || owner.startsWith("io/nnsight/nn/") || owner.startsWith("io/nnsight/lm/");
    }

    /**
     * Reads a class file; if it declares an instance {@code forward}, records its operations in {@link
     * SourceMap} and keeps its plan for the rewriter.
     */
    static void scan(ClassLoader loader, String internalName, byte[] classFile) {
        Scanner scanner = new Scanner(internalName);
        new ClassReader(classFile).accept(scanner, ClassReader.SKIP_FRAMES);
        if (scanner.methods.keySet().stream().noneMatch(key -> key.startsWith("forward("))) {
            return;
        }
        Set<String> closure = scanner.closure();
        List<SourceMap.Site> sites = new ArrayList<>();
        Map<String, Integer> occurrences = new HashMap<>();
        Map<String, int[]> ids = new HashMap<>();
        for (Map.Entry<String, List<Call>> method : scanner.methods.entrySet()) {
            if (!closure.contains(method.getKey())) {
                continue;
            }
            List<Call> calls = method.getValue();
            int[] siteIds = new int[calls.size()];
            for (int i = 0; i < calls.size(); i++) {
                Call call = calls.get(i);
                int occurrence = occurrences.merge(call.name, 1, Integer::sum) - 1;
                siteIds[i] = sites.size();
                sites.add(new SourceMap.Site(call.name + "_" + occurrence, call.line, call.describe()));
            }
            ids.put(method.getKey(), siteIds);
        }
        if (sites.isEmpty()) {
            return;
        }
        String className = internalName.replace('/', '.');
        SourceMap.register(loader, className, sites);
        PLANS.computeIfAbsent(loader, l -> new ConcurrentHashMap<>()).put(className, new SourcePlan(ids));
    }

    /** One eligible call. */
    private static final class Call {
        final String owner;
        final String name;
        final int line;

        Call(String owner, String name, int line) {
            this.owner = owner;
            this.name = name;
            this.line = line;
        }

        String describe() {
            return owner.substring(owner.lastIndexOf('/') + 1).replace('$', '.') + "." + name;
        }
    }

    /** Collects each method's eligible calls and the methods of the same class it reaches. */
    private static final class Scanner extends ClassVisitor {
        final String internalName;
        final Map<String, List<Call>> methods = new LinkedHashMap<>();
        final Map<String, Set<String>> reaches = new HashMap<>();

        Scanner(String internalName) {
            super(Opcodes.ASM9);
            this.internalName = internalName;
        }

        @Override
        public MethodVisitor visitMethod(int access, String name, String descriptor, String signature, String[] exceptions) {
            if (name.startsWith("<") || (name.equals("forward") && (access & Opcodes.ACC_STATIC) != 0)) {
                return null;
            }
            String key = name + descriptor;
            List<Call> calls = new ArrayList<>();
            Set<String> reached = new LinkedHashSet<>();
            methods.put(key, calls);
            reaches.put(key, reached);
            return new MethodVisitor(Opcodes.ASM9) {
                private int line = -1;

                @Override
                public void visitLineNumber(int number, Label start) {
                    line = number;
                }

                @Override
                public void visitMethodInsn(int opcode, String owner, String method, String type, boolean isInterface) {
                    if (owner.equals(internalName)) {
                        reached.add(method + type);
                    }
                    if (eligible(opcode, owner, method)) {
                        calls.add(new Call(owner, method, line));
                    }
                }

                @Override
                public void visitInvokeDynamicInsn(String method, String type, Handle bootstrap, Object... arguments) {
                    for (Object argument : arguments) {
                        if (argument instanceof Handle && ((Handle) argument).getOwner().equals(internalName)) {
                            reached.add(((Handle) argument).getName() + ((Handle) argument).getDesc());
                        }
                    }
                }
            };
        }

        Set<String> closure() {
            Set<String> closure = new LinkedHashSet<>();
            Deque<String> work = new ArrayDeque<>();
            methods.keySet().stream().filter(key -> key.startsWith("forward(")).forEach(work::add);
            while (!work.isEmpty()) {
                String method = work.poll();
                if (methods.containsKey(method) && closure.add(method)) {
                    work.addAll(reaches.get(method));
                }
            }
            return closure;
        }
    }
}
