package io.nnsight.remote.internal.sandbox;

import io.nnsight.remote.internal.allowlist.ServerClasses;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.objectweb.asm.tree.ClassNode;

/**
 * Resolves the references of shipped classes the way the JVM will link them: a class name means the shipped
 * class of that name if there is one, else the server's; a member reference means the member that the JVM's
 * resolution finds, searching the owner and then its supertypes (JVMS 5.4.3.2 to 5.4.3.4), across shipped and
 * server classes alike.
 *
 * <p>Resolution matters for the sandbox because a member is judged where it is declared as well as where it is
 * named: {@code list.wait()} names {@code ArrayList} but resolves to {@code Object.wait}, and
 * {@code tensor.address()} names {@code Tensor} but resolves to {@code Pointer.address}.
 */
final class Linkage {
    private static final String OBJECT = "java.lang.Object";

    private final Map<String, ClassNode> shipped;
    private final ServerClasses server;

    /**
     * @param shipped the shipped classes by binary name (dots)
     * @param server the server's classes
     */
    Linkage(Map<String, ClassNode> shipped, ServerClasses server) {
        this.shipped = shipped;
        this.server = server;
    }

    boolean isShipped(String className) {
        return shipped.containsKey(className);
    }

    /** The server's class of this name; empty when it has none. */
    Optional<Class<?>> server(String className) {
        return server.find(className);
    }

    /**
     * The binary name of the class that declares the member the reference resolves to; empty when no class
     * declares it, or when a class on the way does not exist.
     */
    Optional<String> declaringClass(String owner, String name, String descriptor, boolean field) {
        return field ? fieldOwner(owner, name, descriptor, new HashSet<>()) : methodOwner(owner, name, descriptor);
    }

    private Optional<String> fieldOwner(String type, String name, String descriptor, Set<String> seen) {
        if (type == null || !seen.add(type)) {
            return Optional.empty();
        }
        if (declares(type, name, descriptor, true)) {
            return Optional.of(type);
        }
        for (String parent : interfaces(type)) {
            Optional<String> found = fieldOwner(parent, name, descriptor, seen);
            if (found.isPresent()) {
                return found;
            }
        }
        return fieldOwner(superclass(type), name, descriptor, seen);
    }

    private Optional<String> methodOwner(String owner, String name, String descriptor) {
        Deque<String> interfaces = new ArrayDeque<>();
        Set<String> seen = new HashSet<>(); // crafted shipped classes may extend each other in a circle
        for (String type = owner; type != null && seen.add(type); type = superclass(type)) {
            if (declares(type, name, descriptor, false)) {
                return Optional.of(type);
            }
            interfaces.addAll(interfaces(type));
        }
        while (!interfaces.isEmpty()) {
            String type = interfaces.removeFirst();
            if (seen.add(type)) {
                if (declares(type, name, descriptor, false)) {
                    return Optional.of(type);
                }
                interfaces.addAll(interfaces(type));
            }
        }
        return declares(OBJECT, name, descriptor, false) ? Optional.of(OBJECT) : Optional.empty();
    }

    private boolean declares(String type, String name, String descriptor, boolean field) {
        ClassNode node = shipped.get(type);
        if (node == null) {
            return server(type).map(c -> ServerClasses.declares(c, name, descriptor, field)).orElse(false);
        }
        return field
                ? node.fields.stream().anyMatch(f -> f.name.equals(name) && f.desc.equals(descriptor))
                : node.methods.stream().anyMatch(m -> m.name.equals(name) && m.desc.equals(descriptor));
    }

    private String superclass(String type) {
        ClassNode node = shipped.get(type);
        if (node == null) {
            Class<?> parent = server(type).map(Class::getSuperclass).orElse(null);
            return parent == null ? null : parent.getName();
        }
        return node.superName == null ? null : node.superName.replace('/', '.');
    }

    private List<String> interfaces(String type) {
        ClassNode node = shipped.get(type);
        List<String> names = new ArrayList<>();
        if (node == null) {
            server(type).ifPresent(c -> {
                for (Class<?> parent : c.getInterfaces()) {
                    names.add(parent.getName());
                }
            });
        } else {
            node.interfaces.forEach(parent -> names.add(parent.replace('/', '.')));
        }
        return names;
    }
}
