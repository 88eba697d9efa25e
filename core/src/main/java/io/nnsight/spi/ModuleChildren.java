package io.nnsight.spi;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.StringSharedModuleDict;

/**
 * The Java objects of a plain Bytedeco module's children. libtorch knows a module's children by name but
 * hands back fresh Java peers of them; the objects the module's Java code calls are in its fields (alone,
 * in collections or in arrays), matched to the names by native address.
 *
 * <pre>{@code
 * Map<String, Module> children = ModuleChildren.of(net);   // {"fc1": net.fc1, "fc2": net.fc2}
 * }</pre>
 */
public final class ModuleChildren {
    private ModuleChildren() {}

    /** {@code module}'s children by name, as the Java objects its fields hold where they hold them. */
    public static Map<String, Module> of(Module module) {
        return named(module, byAddress(module));
    }

    /** The modules {@code module}'s fields hold, by native address. */
    public static Map<Long, Module> byAddress(Module module) {
        Map<Long, Module> found = new HashMap<>();
        for (Class<?> type = module.getClass(); type != null && type != Module.class; type = type.getSuperclass()) {
            for (Field field : type.getDeclaredFields()) {
                if (Modifier.isStatic(field.getModifiers())) {
                    continue;
                }
                Object value = read(field, module);
                if (value instanceof Module) {
                    found.put(((Module) value).address(), (Module) value);
                } else if (value instanceof Collection) {
                    for (Object element : (Collection<?>) value) {
                        if (element instanceof Module) {
                            found.put(((Module) element).address(), (Module) element);
                        }
                    }
                } else if (value instanceof Module[]) {
                    for (Module element : (Module[]) value) {
                        if (element != null) {
                            found.put(element.address(), element);
                        }
                    }
                }
            }
        }
        return found;
    }

    private static Object read(Field field, Object owner) {
        try {
            field.setAccessible(true);
            return field.get(owner);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null; // a field we may not read holds no child we could call
        }
    }

    /**
     * libtorch's children of {@code module} by name, each replaced by the Java object in {@code known} with
     * the same native address when there is one (else libtorch's peer).
     */
    public static Map<String, Module> named(Module module, Map<Long, Module> known) {
        Map<String, Module> children = new LinkedHashMap<>();
        StringSharedModuleDict dict = module.named_children();
        for (long i = 0; i < dict.size(); i++) {
            Module peer = dict.get(i).value();
            children.put(dict.get(i).key().getString(), known.getOrDefault(peer.address(), peer));
        }
        return children;
    }
}
