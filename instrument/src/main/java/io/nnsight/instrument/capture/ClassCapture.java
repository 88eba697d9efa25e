package io.nnsight.instrument.capture;

import io.nnsight.spi.AgentExempt;
import io.nnsight.spi.CapturedClasses;
import java.lang.instrument.ClassFileTransformer;
import java.net.URL;
import java.security.CodeSource;
import java.security.ProtectionDomain;

/**
 * Records the class files of application classes in {@link CapturedClasses}, unchanged: registered before
 * the other transforms, it sees the bytes as the class loader read them.
 */
public final class ClassCapture implements ClassFileTransformer {
    private static final String[] LIBRARY_PACKAGES = {
        "java/", "javax/", "jdk/", "sun/", "com/sun/", "org/bytedeco/", "net/bytebuddy/", "io/nnsight/shaded/",
        "org/slf4j/", "org/junit/", "org/opentest4j/", "org/apiguardian/", "org/apache/maven/", "com/google/",
        "ai/djl/", "picocli/", "org/jfree/", "org/openjdk/jmh/", "kotlin/", "scala/"
    };

    /** The transform that records; {@code Instrumenter} registers it first. */
    public ClassCapture() {
        // stateless: the class files go to CapturedClasses
    }

    private final String mainJar = mainJar();

    @Override
    public byte[] transform(ClassLoader loader, String className, Class<?> redefined, ProtectionDomain domain, byte[] classFile) {
        if (className != null && redefined == null && isApplicationClass(loader, className, domain)) {
            CapturedClasses.record(loader, className.replace('/', '.'), classFile);
        }
        return null;
    }

    private boolean isApplicationClass(ClassLoader loader, String className, ProtectionDomain domain) {
        if (loader == null || loader == ClassLoader.getPlatformClassLoader() || loader instanceof AgentExempt) {
            return false;
        }
        for (String prefix : LIBRARY_PACKAGES) {
            if (className.startsWith(prefix)) {
                return false;
            }
        }
        CodeSource source = domain == null ? null : domain.getCodeSource();
        URL location = source == null ? null : source.getLocation();
        if (location == null || !location.getProtocol().equals("file")) {
            return true; // defined in memory: jshell, single-file programs, generated classes
        }
        String path = location.getPath();
        return !path.endsWith(".jar") || (mainJar != null && path.endsWith(mainJar));
    }

    /** The jar of {@code java -jar app.jar}, whose classes are the application's own. */
    private static String mainJar() {
        String command = System.getProperty("sun.java.command", "").trim();
        String first = command.isEmpty() ? "" : command.split("\\s+")[0];
        return first.endsWith(".jar") ? first.substring(first.lastIndexOf('/') + 1) : null;
    }
}
