package io.nnsight.remote.internal.sandbox;

import java.util.Map;
import org.objectweb.asm.Handle;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;

/**
 * Which of shipped code's calls could turn a native object into text or a hash code, and what the {@link
 * Rewriter} makes of each so that {@link AddressFree} does it without the address. The {@link ClassCheck}
 * reads the same table: a call that is replaced is checked as its replacement, so {@code scalar.toString()} is
 * allowed, since it never reaches JavaCPP's {@code Pointer.toString()}.
 *
 * <ul>
 *   <li><b>Replaced</b>: {@code x.toString()}, {@code x.hashCode()} on any type, {@code String.valueOf(Object)},
 *       {@code Objects.toString}, {@code Objects.hashCode}, {@code Objects.hash}, {@code Arrays.toString},
 *       {@code Arrays.deepToString}, {@code Arrays.hashCode}, {@code Arrays.deepHashCode}; the same methods as
 *       method references.
 *   <li><b>Argument made printable</b> before the call, which then runs as written: {@code
 *       StringBuilder.append(Object)} and {@code insert}, {@code StringBuffer}'s, {@code PrintStream.print(Object)},
 *       {@code println(Object)}, {@code printf}, {@code format}, {@code String.format}, {@code formatted}, and
 *       {@code new AssertionError(Object)} ({@code assert x : value}).
 *   <li><b>Bootstrap replaced</b>: string concatenation and records' {@code toString}/{@code hashCode}.
 * </ul>
 */
final class AddressRedirects {
    static final String ADDRESS_FREE = Type.getInternalName(AddressFree.class);
    private static final String OBJECT_TO_STRING = "(Ljava/lang/Object;)Ljava/lang/String;";
    private static final String OBJECT_TO_INT = "(Ljava/lang/Object;)I";
    private static final String ARRAY_TO_INT = "([Ljava/lang/Object;)I";

    /** Static calls replaced: {@code owner.name descriptor} to the {@link AddressFree} method of the same descriptor. */
    private static final Map<String, String> STATIC_REPLACEMENTS = Map.of(
            "java/lang/String.valueOf" + OBJECT_TO_STRING, "text",
            "java/util/Objects.toString" + OBJECT_TO_STRING, "text",
            "java/util/Objects.toString(Ljava/lang/Object;Ljava/lang/String;)Ljava/lang/String;", "toString",
            "java/util/Objects.hashCode" + OBJECT_TO_INT, "hashCodeOrZero",
            "java/util/Objects.hash" + ARRAY_TO_INT, "hashAll",
            "java/util/Arrays.hashCode" + ARRAY_TO_INT, "hashAll",
            "java/util/Arrays.deepHashCode" + ARRAY_TO_INT, "deepHashAll",
            "java/util/Arrays.toString([Ljava/lang/Object;)Ljava/lang/String;", "text",
            "java/util/Arrays.deepToString([Ljava/lang/Object;)Ljava/lang/String;", "text");

    /** Bootstrap methods replaced by {@link AddressFree}'s of the same name and descriptor. */
    private static final Map<String, String> BOOTSTRAPS = Map.of(
            "java/lang/invoke/StringConcatFactory.makeConcatWithConstants", "makeConcatWithConstants",
            "java/lang/invoke/StringConcatFactory.makeConcat", "makeConcat",
            "java/lang/runtime/ObjectMethods.bootstrap", "objectMethods");

    private AddressRedirects() {}

    /** A call of {@link AddressFree}: a static method's name and descriptor. */
    record Call(String name, String descriptor) {}

    /**
     * The {@link AddressFree} method that replaces a call, or {@code null} when it is not replaced.
     *
     * @param opcode {@code INVOKEVIRTUAL}, {@code INVOKEINTERFACE}, {@code INVOKESTATIC} or {@code INVOKESPECIAL}
     */
    static Call replacement(int opcode, String owner, String name, String descriptor) {
        if (opcode == Opcodes.INVOKEVIRTUAL || opcode == Opcodes.INVOKEINTERFACE) {
            if (name.equals("toString") && descriptor.equals("()Ljava/lang/String;")) {
                return new Call("toString", OBJECT_TO_STRING);
            }
            if (name.equals("hashCode") && descriptor.equals("()I")) {
                return new Call("hashCode", OBJECT_TO_INT);
            }
            return null;
        }
        if (opcode == Opcodes.INVOKESTATIC) {
            String method = STATIC_REPLACEMENTS.get(owner + "." + name + descriptor);
            return method == null ? null : new Call(method, staticDescriptor(descriptor));
        }
        return null;
    }

    /**
     * The {@link AddressFree#printable} method to call on a call's last argument before it, or {@code null} when
     * the call's arguments are left alone.
     */
    static Call printableArgument(int opcode, String owner, String name, String descriptor) {
        boolean printing = switch (owner) {
            case "java/lang/StringBuilder", "java/lang/StringBuffer" -> name.equals("append") || name.equals("insert");
            case "java/io/PrintStream" -> name.startsWith("print") || name.equals("format");
            case "java/lang/String" -> name.equals("format") || name.equals("formatted");
            case "java/lang/AssertionError" -> opcode == Opcodes.INVOKESPECIAL && name.equals("<init>");
            default -> false;
        };
        if (!printing) {
            return null;
        }
        Type[] parameters = Type.getArgumentTypes(descriptor);
        if (parameters.length == 0) {
            return null;
        }
        String last = parameters[parameters.length - 1].getDescriptor();
        return switch (last) {
            case "Ljava/lang/Object;" -> new Call("printable", "(Ljava/lang/Object;)Ljava/lang/Object;");
            case "[Ljava/lang/Object;" -> new Call("printable", "([Ljava/lang/Object;)[Ljava/lang/Object;");
            default -> null;
        };
    }

    /** The handle that replaces a method reference's, or {@code handle} itself. */
    static Handle handle(Handle handle) {
        int opcode = switch (handle.getTag()) {
            case Opcodes.H_INVOKEVIRTUAL -> Opcodes.INVOKEVIRTUAL;
            case Opcodes.H_INVOKEINTERFACE -> Opcodes.INVOKEINTERFACE;
            case Opcodes.H_INVOKESTATIC -> Opcodes.INVOKESTATIC;
            default -> -1;
        };
        Call call = opcode < 0 ? null : replacement(opcode, handle.getOwner(), handle.getName(), handle.getDesc());
        return call == null ? handle
                : new Handle(Opcodes.H_INVOKESTATIC, ADDRESS_FREE, call.name(), call.descriptor(), false);
    }

    /** The bootstrap method that replaces {@code bootstrap}, or {@code bootstrap} itself. */
    static Handle bootstrap(Handle bootstrap) {
        String method = BOOTSTRAPS.get(bootstrap.getOwner() + "." + bootstrap.getName());
        return method == null ? bootstrap
                : new Handle(Opcodes.H_INVOKESTATIC, ADDRESS_FREE, method, bootstrap.getDesc(), false);
    }

    /** A replacement of an array's text takes any object: {@link AddressFree#text} renders arrays. */
    private static String staticDescriptor(String descriptor) {
        return descriptor.equals("([Ljava/lang/Object;)Ljava/lang/String;") ? OBJECT_TO_STRING : descriptor;
    }
}
