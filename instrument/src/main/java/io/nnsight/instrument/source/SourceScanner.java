package io.nnsight.instrument.source;

import io.nnsight.spi.AgentExempt;
import java.lang.instrument.ClassFileTransformer;
import java.security.ProtectionDomain;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Maps the operations of module classes ({@link SourcePlan}) from their class files as loaded, before the
 * other transforms change them: any class of the application (and nnsight's own modules) that declares an
 * instance {@code forward}; libraries and nnsight's machinery are not read.
 */
public final class SourceScanner implements ClassFileTransformer {
    private static final Logger LOG = LoggerFactory.getLogger(SourceScanner.class);
    private static final String[] SKIPPED = {
        "java/", "javax/", "jdk/", "sun/", "com/sun/", "org/bytedeco/", "net/bytebuddy/", "org/slf4j/", "org/junit/",
        "org/apache/", "com/google/", "ai/djl/", "picocli/", "org/jfree/", "org/openjdk/", "kotlin/", "scala/",
        "io/nnsight/internal/", "io/nnsight/instrument/", "io/nnsight/spi/", "io/nnsight/shaded/",
        "io/nnsight/safetensors/", "io/nnsight/hub/"
    };

    /** The transform that maps; {@code Instrumenter} registers it after the capture. */
    public SourceScanner() {
        // stateless: the maps go to SourceMap
    }

    @Override
    public byte[] transform(ClassLoader loader, String className, Class<?> redefined, ProtectionDomain domain, byte[] classFile) {
        if (loader == null || loader instanceof AgentExempt || className == null || redefined != null || skipped(className)) {
            return null;
        }
        try {
            SourcePlan.scan(loader, className, classFile);
        } catch (RuntimeException e) {
            LOG.debug("nnsight agent: the operations of {} are not mapped: {}", className, e.toString());
        }
        return null;
    }

    private static boolean skipped(String className) {
        for (String prefix : SKIPPED) {
            if (className.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }
}
