package io.nnsight.internal;

import io.nnsight.Inputs;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Calls a module's public {@code forward} method with {@link Inputs}: the positional arguments go to the
 * {@code forward} of that many parameters whose types accept them; a {@code forward(Inputs)} takes the
 * inputs whole (and is the only kind that accepts named arguments). Method handles are made once per
 * class.
 */
public final class ForwardMethod {
    private static final MethodType SPREAD = MethodType.methodType(Object.class, Object.class, Object[].class);

    private static final ClassValue<List<Candidate>> CANDIDATES = new ClassValue<>() {
        @Override
        protected List<Candidate> computeValue(Class<?> type) {
            return findCandidates(type);
        }
    };

    private record Candidate(Method method, MethodHandle handle, boolean takesInputs) {
        boolean accepts(Object[] arguments) {
            Class<?>[] types = method.getParameterTypes();
            if (types.length != arguments.length) {
                return false;
            }
            for (int i = 0; i < types.length; i++) {
                Object argument = arguments[i];
                if (argument == null ? types[i].isPrimitive() : !box(types[i]).isInstance(argument)) {
                    return false;
                }
            }
            return true;
        }
    }

    private ForwardMethod() {}

    /**
     * Calls {@code module.forward(...)} with {@code inputs}.
     *
     * @throws IllegalArgumentException when no {@code forward} method takes these inputs; the message lists
     *     the ones there are
     */
    public static Object call(Object module, Inputs inputs) {
        List<Candidate> candidates = CANDIDATES.get(module.getClass());
        Object[] positional = inputs.positional().toArray();
        for (Candidate candidate : candidates) {
            if (candidate.takesInputs) {
                return invoke(candidate, module, new Object[] {inputs});
            }
        }
        if (!inputs.named().isEmpty()) {
            throw new IllegalArgumentException(module.getClass().getSimpleName() + ".forward takes positional arguments "
                    + "only, but it was given named arguments " + inputs.named().keySet() + "; declare a forward(Inputs) "
                    + "method to receive them");
        }
        for (Candidate candidate : candidates) {
            if (candidate.accepts(positional)) {
                return invoke(candidate, module, positional);
            }
        }
        throw new IllegalArgumentException(noMatch(module.getClass(), candidates, inputs));
    }

    private static Object invoke(Candidate candidate, Object module, Object[] arguments) {
        try {
            return candidate.handle.invokeExact(module, arguments);
        } catch (Throwable error) {
            throw StackTraces.rethrow(error);
        }
    }

    private static String noMatch(Class<?> type, List<Candidate> candidates, Inputs inputs) {
        if (candidates.isEmpty()) {
            return type.getName() + " has no public forward method to call; give it one, or call the module yourself";
        }
        String signatures = candidates.stream()
                .map(c -> "forward(" + Arrays.stream(c.method.getParameterTypes())
                        .map(Class::getSimpleName).collect(Collectors.joining(", ")) + ")")
                .collect(Collectors.joining(", "));
        return "no forward method of " + type.getSimpleName() + " takes " + inputs + "; it has " + signatures;
    }

    private static List<Candidate> findCandidates(Class<?> type) {
        List<Method> methods = new ArrayList<>();
        for (Method method : type.getMethods()) {
            if (method.getName().equals("forward") && !method.isBridge() && !method.isSynthetic()
                    && !Modifier.isStatic(method.getModifiers())) {
                methods.add(method);
            }
        }
        // Most specific first: subclasses' declarations before the ones they override, fewer Object params first.
        methods.sort(Comparator.comparingInt((Method m) -> depth(m.getDeclaringClass())).reversed()
                .thenComparingLong(m -> Arrays.stream(m.getParameterTypes()).filter(t -> t == Object.class).count()));
        List<Candidate> candidates = new ArrayList<>(methods.size());
        for (Method method : methods) {
            try {
                method.setAccessible(true);
                MethodHandle handle = MethodHandles.lookup().unreflect(method)
                        .asSpreader(Object[].class, method.getParameterCount())
                        .asType(SPREAD);
                boolean takesInputs = method.getParameterCount() == 1 && method.getParameterTypes()[0] == Inputs.class;
                candidates.add(new Candidate(method, handle, takesInputs));
            } catch (IllegalAccessException | RuntimeException e) {
                // A forward we may not call (e.g. in a closed module) is not a candidate.
            }
        }
        return List.copyOf(candidates);
    }

    private static int depth(Class<?> type) {
        int depth = 0;
        for (Class<?> c = type; c != null; c = c.getSuperclass()) {
            depth++;
        }
        return depth;
    }

    private static Class<?> box(Class<?> type) {
        if (!type.isPrimitive()) {
            return type;
        }
        return MethodType.methodType(type).wrap().returnType();
    }
}
