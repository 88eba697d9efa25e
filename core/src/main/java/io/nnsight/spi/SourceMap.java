package io.nnsight.spi;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The operations inside modules' {@code forward} code, as the nnsight agent found them: every call the code
 * of a module class makes (in {@code forward} and the methods and lambdas of the class it reaches) is a
 * {@link Site} with a name such as {@code softmax_0}, addressable through {@code envoy.source()}.
 */
public final class SourceMap {
    /**
     * One call inside a module's code.
     *
     * @param name the method called and its occurrence, like {@code softmax_0}
     * @param line the source line, or -1 when the class has no line numbers
     * @param call what is called, like {@code torch.softmax} or {@code Tensor.view}
     */
    public record Site(String name, int line, String call) {}

    private static final Map<ClassLoader, Map<String, List<Site>>> SITES = Collections.synchronizedMap(new WeakHashMap<>());

    private SourceMap() {}

    /** Records the sites of {@code className} (binary name) defined by {@code loader}, in order. */
    public static void register(ClassLoader loader, String className, List<Site> sites) {
        SITES.computeIfAbsent(loader, l -> new ConcurrentHashMap<>()).put(className, List.copyOf(sites));
    }

    /** The sites of {@code type}'s own code, in order; empty when the agent did not map it. */
    public static List<Site> of(Class<?> type) {
        Map<String, List<Site>> classes = SITES.get(type.getClassLoader());
        List<Site> sites = classes == null ? null : classes.get(type.getName());
        return sites == null ? List.of() : sites;
    }

    /** Whether the agent maps module code in this JVM. */
    public static boolean isMapping() {
        return !SITES.isEmpty();
    }
}
