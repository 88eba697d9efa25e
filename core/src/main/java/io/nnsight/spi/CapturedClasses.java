package io.nnsight.spi;

import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The class files of the application's own classes, as they were loaded, recorded by the nnsight agent
 * so that intervention code can be shipped by value to a server that does not have it.
 *
 * <p>Recorded: classes that do not come from the JDK or from a library jar: classes from directories (an
 * IDE's or Maven's output), from the application's main jar ({@code java -jar}), and classes defined in
 * memory ({@code jshell} snippets, {@code java Foo.java} programs). The bytes are those before any agent
 * changed them. Without the agent nothing is recorded.
 */
public final class CapturedClasses {
    private static final Map<ClassLoader, Map<String, byte[]>> BY_LOADER =
            Collections.synchronizedMap(new WeakHashMap<>());
    private static volatile boolean recording;

    private CapturedClasses() {}

    /** Records the class file of {@code className} (binary name, dots) defined by {@code loader}. */
    public static void record(ClassLoader loader, String className, byte[] classFile) {
        recording = true;
        BY_LOADER.computeIfAbsent(loader, l -> new ConcurrentHashMap<>()).put(className, classFile.clone());
    }

    /** Whether the agent records classes in this JVM. */
    public static boolean isRecording() {
        return recording;
    }

    /** The recorded class file of {@code type}, if it was recorded. */
    public static Optional<byte[]> of(Class<?> type) {
        Map<String, byte[]> classes = BY_LOADER.get(type.getClassLoader());
        byte[] bytes = classes == null ? null : classes.get(type.getName());
        return Optional.ofNullable(bytes).map(byte[]::clone);
    }
}
