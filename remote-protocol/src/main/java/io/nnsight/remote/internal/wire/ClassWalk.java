package io.nnsight.remote.internal.wire;

import io.nnsight.spi.CapturedClasses;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Handle;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;
import org.objectweb.asm.tree.AbstractInsnNode;
import org.objectweb.asm.tree.ClassNode;
import org.objectweb.asm.tree.FieldInsnNode;
import org.objectweb.asm.tree.FieldNode;
import org.objectweb.asm.tree.InnerClassNode;
import org.objectweb.asm.tree.InvokeDynamicInsnNode;
import org.objectweb.asm.tree.LdcInsnNode;
import org.objectweb.asm.tree.MethodInsnNode;
import org.objectweb.asm.tree.MethodNode;
import org.objectweb.asm.tree.MultiANewArrayInsnNode;
import org.objectweb.asm.tree.TryCatchBlockNode;
import org.objectweb.asm.tree.TypeInsnNode;

/**
 * The walk of a {@link ClassPlan} from its roots through the code they use, and the class files it finds to ship:
 * whole or sliced, without static initializers (enums keep theirs), their static fields no longer final, their
 * nesting attributes naming only shipped classes.
 */
final class ClassWalk {
    private final ClassLoader loader;
    private final Map<String, Boolean> shipped = new HashMap<>();
    private final Map<String, ClassNode> nodes = new HashMap<>();
    private final Set<String> whole = new LinkedHashSet<>();
    private final Map<String, Set<String>> reached = new LinkedHashMap<>();
    private final Map<String, Set<String>> fields = new LinkedHashMap<>();
    private final Deque<Runnable> work = new ArrayDeque<>();

    ClassWalk(ClassLoader loader) {
        this.loader = loader;
    }

    void run() {
        while (!work.isEmpty()) {
            work.poll().run();
        }
    }

    private boolean ships(String internalName) {
        return shipped.computeIfAbsent(internalName, name -> {
            try {
                return ClassPlan.ships(Class.forName(name.replace('/', '.'), false, loader));
            } catch (ClassNotFoundException | LinkageError e) {
                return false; // not here: the server's check names it if the code needs it
            }
        });
    }

    /** Ships {@code name} whole, if it is an application class. */
    void refer(String name) {
        if (!ships(name) || !whole.add(name)) {
            return;
        }
        ClassNode node = node(name);
        work.add(() -> {
            if (node.superName != null) {
                refer(node.superName);
            }
            node.interfaces.forEach(this::refer);
            for (FieldNode field : node.fields) {
                referType(Type.getType(field.desc));
            }
            for (MethodNode method : node.methods) {
                scan(node, method);
            }
        });
    }

    /** Ships static method {@code nameAndDescriptor} of {@code owner} (or of the superclass that declares it). */
    void reach(String owner, String nameAndDescriptor) {
        for (String type = owner; type != null && ships(type); type = node(type).superName) {
            ClassNode node = node(type);
            MethodNode method = find(node, nameAndDescriptor);
            if (method != null) {
                if (!whole.contains(type)
                        && reached.computeIfAbsent(type, t -> new LinkedHashSet<>()).add(nameAndDescriptor)) {
                    work.add(() -> scan(node, method));
                }
                return;
            }
        }
    }

    private void field(String owner, String name) {
        if (ships(owner)) {
            fields.computeIfAbsent(owner, o -> new LinkedHashSet<>()).add(name);
            if (!whole.contains(owner)) {
                reached.computeIfAbsent(owner, o -> new LinkedHashSet<>());
                node(owner);
            }
        }
    }

    private void scan(ClassNode owner, MethodNode method) {
        Type type = Type.getMethodType(method.desc);
        referType(type.getReturnType());
        for (Type argument : type.getArgumentTypes()) {
            referType(argument);
        }
        for (TryCatchBlockNode block : method.tryCatchBlocks) {
            if (block.type != null) {
                refer(block.type);
            }
        }
        for (AbstractInsnNode instruction : method.instructions) {
            if (instruction instanceof MethodInsnNode) {
                MethodInsnNode call = (MethodInsnNode) instruction;
                if (call.getOpcode() == Opcodes.INVOKESTATIC) {
                    reach(call.owner, call.name + call.desc);
                } else if (!call.owner.startsWith("[")) {
                    refer(call.owner);
                }
                referType(Type.getMethodType(call.desc));
            } else if (instruction instanceof FieldInsnNode) {
                FieldInsnNode access = (FieldInsnNode) instruction;
                if (access.getOpcode() == Opcodes.GETSTATIC || access.getOpcode() == Opcodes.PUTSTATIC) {
                    field(access.owner, access.name);
                } else {
                    refer(access.owner);
                }
                referType(Type.getType(access.desc));
            } else if (instruction instanceof TypeInsnNode) {
                referType(Type.getObjectType(((TypeInsnNode) instruction).desc));
            } else if (instruction instanceof MultiANewArrayInsnNode) {
                referType(Type.getType(((MultiANewArrayInsnNode) instruction).desc));
            } else if (instruction instanceof LdcInsnNode) {
                constant(((LdcInsnNode) instruction).cst);
            } else if (instruction instanceof InvokeDynamicInsnNode) {
                InvokeDynamicInsnNode dynamic = (InvokeDynamicInsnNode) instruction;
                referType(Type.getMethodType(dynamic.desc));
                for (Object argument : dynamic.bsmArgs) {
                    constant(argument);
                }
            }
        }
    }

    private void constant(Object value) {
        if (value instanceof Type) {
            referType((Type) value);
        } else if (value instanceof Handle) {
            Handle handle = (Handle) value;
            switch (handle.getTag()) {
                case Opcodes.H_INVOKESTATIC:
                    reach(handle.getOwner(), handle.getName() + handle.getDesc());
                    break;
                case Opcodes.H_GETSTATIC:
                case Opcodes.H_PUTSTATIC:
                    field(handle.getOwner(), handle.getName());
                    break;
                default:
                    refer(handle.getOwner());
            }
            referType(handle.getTag() <= Opcodes.H_PUTSTATIC ? Type.getType(handle.getDesc())
                    : Type.getMethodType(handle.getDesc()));
        }
    }

    private void referType(Type type) {
        switch (type.getSort()) {
            case Type.ARRAY:
                referType(type.getElementType());
                break;
            case Type.OBJECT:
                refer(type.getInternalName());
                break;
            case Type.METHOD:
                referType(type.getReturnType());
                for (Type argument : type.getArgumentTypes()) {
                    referType(argument);
                }
                break;
            default:
                break;
        }
    }

    private ClassNode node(String name) {
        return nodes.computeIfAbsent(name, n -> {
            ClassNode node = new ClassNode();
            new ClassReader(classFile(n)).accept(node, 0);
            return node;
        });
    }

    private byte[] classFile(String internalName) {
        Class<?> type;
        try {
            type = Class.forName(internalName.replace('/', '.'), false, loader);
        } catch (ClassNotFoundException e) {
            throw new IllegalArgumentException("cannot find the class " + internalName.replace('/', '.') + " to ship",
                    e);
        }
        return CapturedClasses.of(type).orElseGet(() -> {
            ClassLoader owner = type.getClassLoader();
            try (InputStream in = owner.getResourceAsStream(internalName + ".class")) {
                if (in == null) {
                    throw new IllegalArgumentException("the class " + type.getName() + " has no class file to ship: it "
                            + "was defined in memory. Run with the nnsight agent (-javaagent:nnsight-agent.jar), which "
                            + "records such classes as they are defined");
                }
                return in.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the class file of " + type.getName(), e);
            }
        });
    }

    private static MethodNode find(ClassNode node, String nameAndDescriptor) {
        for (MethodNode method : node.methods) {
            if (nameAndDescriptor.equals(method.name + method.desc)) {
                return method;
            }
        }
        return null;
    }

    /**
     * The class files to ship, by binary name ({@code com.example.Probe}): whole or sliced as planned,
     * without static initializers (enums keep theirs) and with static fields no longer final, so the server
     * can set them.
     */
    Map<String, byte[]> classFiles() {
        Set<String> names = new LinkedHashSet<>(whole);
        names.addAll(reached.keySet());
        Map<String, byte[]> files = new LinkedHashMap<>();
        for (String name : names) {
            ClassNode node = whole.contains(name) ? copy(nodes.get(name)) : slice(nodes.get(name));
            prepareStatics(node);
            keepReferencesTo(node, names);
            ClassWriter writer = new ClassWriter(0);
            node.accept(writer);
            files.put(name.replace('/', '.'), writer.toByteArray());
        }
        return files;
    }

    /**
     * The static fields of shipped classes that shipped code uses, by owner (internal name) and field name:
     * their values travel with the job. Of an enum, whose initializer ships to make its constants, only the fields
     * that are not final: the initializer makes the others on the server.
     */
    Map<String, Set<String>> staticFields() {
        Map<String, Set<String>> statics = new LinkedHashMap<>();
        fields.forEach((owner, names) -> {
            ClassNode node = nodes.get(owner);
            if (node == null) {
                return;
            }
            int made = (node.access & Opcodes.ACC_ENUM) != 0 ? Opcodes.ACC_FINAL : 0;
            for (FieldNode field : node.fields) {
                if ((field.access & Opcodes.ACC_STATIC) != 0 && (field.access & made) == 0
                        && names.contains(field.name)) {
                    statics.computeIfAbsent(owner, o -> new LinkedHashSet<>()).add(field.name);
                }
            }
        });
        return statics;
    }

    /** The reached static methods and used static fields of {@code node}, in a class of its own name. */
    private ClassNode slice(ClassNode node) {
        ClassNode slice = new ClassNode();
        Set<String> methods = reached.getOrDefault(node.name, Set.of());
        Set<String> used = fields.getOrDefault(node.name, Set.of());
        slice.visit(node.version, node.access & ~(Opcodes.ACC_ENUM | Opcodes.ACC_RECORD | Opcodes.ACC_ABSTRACT),
                node.name, null, "java/lang/Object", null);
        slice.visitSource(node.sourceFile, null);
        if ((node.access & Opcodes.ACC_INTERFACE) != 0) {
            slice.access |= Opcodes.ACC_ABSTRACT;
        }
        slice.nestHostClass = node.nestHostClass;
        slice.nestMembers = node.nestMembers;
        slice.innerClasses = node.innerClasses;
        for (FieldNode field : node.fields) {
            if ((field.access & Opcodes.ACC_STATIC) != 0 && used.contains(field.name)) {
                slice.fields.add(new FieldNode(field.access, field.name, field.desc, field.signature, field.value));
            }
        }
        for (MethodNode method : node.methods) {
            if (methods.contains(method.name + method.desc)) {
                method.invisibleAnnotations = null;
                method.visibleAnnotations = null;
                method.invisibleParameterAnnotations = null;
                method.visibleParameterAnnotations = null;
                slice.methods.add(method);
            }
        }
        return slice;
    }

    // ---- the class files ----

    private static ClassNode copy(ClassNode node) {
        ClassNode copy = new ClassNode();
        node.accept(copy);
        return copy;
    }

    /** Static fields are set by the server, from this JVM's values, instead of by a static initializer. */
    private static void prepareStatics(ClassNode node) {
        if ((node.access & Opcodes.ACC_ENUM) != 0) {
            return;
        }
        node.methods.removeIf(method -> method.name.equals("<clinit>"));
        for (FieldNode field : node.fields) {
            if ((field.access & Opcodes.ACC_STATIC) != 0) {
                field.access &= ~Opcodes.ACC_FINAL;
            }
        }
    }

    /** Keeps the nesting attributes only where they name shipped classes. */
    private static void keepReferencesTo(ClassNode node, Set<String> shipped) {
        if (node.nestHostClass != null && !shipped.contains(node.nestHostClass)) {
            node.nestHostClass = null;
        }
        if (node.nestMembers != null) {
            node.nestMembers = keep(node.nestMembers, shipped);
            if (node.nestMembers.isEmpty()) {
                node.nestMembers = null;
            }
        }
        node.innerClasses = node.innerClasses == null ? null : filterInner(node.innerClasses, shipped);
        if (node.outerClass != null && !shipped.contains(node.outerClass)) {
            node.outerClass = null;
            node.outerMethod = null;
            node.outerMethodDesc = null;
        }
        node.permittedSubclasses = node.permittedSubclasses == null ? null : keep(node.permittedSubclasses, shipped);
    }

    private static List<String> keep(Collection<String> names, Set<String> shipped) {
        List<String> kept = new ArrayList<>();
        for (String name : names) {
            if (shipped.contains(name)) {
                kept.add(name);
            }
        }
        return kept;
    }

    private static List<InnerClassNode> filterInner(List<InnerClassNode> inner, Set<String> shipped) {
        List<InnerClassNode> kept = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (InnerClassNode entry : inner) {
            if (shipped.contains(entry.name) && (entry.outerName == null || shipped.contains(entry.outerName))
                    && seen.add(entry.name)) {
                kept.add(entry);
            }
        }
        return kept;
    }
}
