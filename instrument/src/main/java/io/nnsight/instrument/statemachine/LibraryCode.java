package io.nnsight.instrument.statemachine;

import io.nnsight.spi.NnsightPackages;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * What the state-machine compiler treats as library code, neither compiled nor analysed as intervention
 * code: the JDK's and Bytedeco's classes, the agent's own, and the classes of core that the agent runs or
 * compiled code calls ({@code io.nnsight.internal}, {@code io.nnsight.spi.statemachine}), told by name so
 * that a transform never looks into the code running it; nnsight's other classes (told by the lists of
 * packages its modules ship, {@link NnsightPackages}); and classes whose class file never names nnsight.
 */
final class LibraryCode {
    private static final List<String> BY_NAME = List.of("java/", "javax/", "jdk/", "sun/", "org/bytedeco/",
            "io/nnsight/agent/", "io/nnsight/shaded/", "io/nnsight/instrument/", "io/nnsight/internal/",
            "io/nnsight/spi/statemachine/");
    private static final byte[] NNSIGHT = "io/nnsight/".getBytes(StandardCharsets.US_ASCII);

    private LibraryCode() {}

    /** Whether class {@code type} (an internal name, or an array's descriptor) is library code by its name. */
    static boolean byName(String type) {
        return type.startsWith("[") || BY_NAME.stream().anyMatch(type::startsWith);
    }

    /** Whether a class file names nnsight's packages at all: only such classes can reach nnsight's API. */
    static boolean namesNnsight(byte[] classFile) {
        outer:
        for (int i = 0; i + NNSIGHT.length <= classFile.length; i++) {
            for (int j = 0; j < NNSIGHT.length; j++) {
                if (classFile[i + j] != NNSIGHT[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }
}
