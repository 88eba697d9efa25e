package io.nnsight.instrument.statemachine;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * What the state-machine compiler treats as library code, neither compiled nor analysed as intervention
 * code: the JDK's and Bytedeco's classes, the agent's own, and the classes of core that the agent runs or
 * compiled code calls ({@code io.nnsight.internal}, {@code io.nnsight.spi.statemachine}), told by name so
 * that a transform never looks into the code running it; nnsight's other classes (told by the lists of
 * packages its modules ship); and classes whose class file never names nnsight.
 */
final class LibraryCode {
    /**
     * The folder of the resources that name nnsight's own packages, one file per module of nnsight, each
     * listing its module's packages, so that they all survive in a jar that merges several modules.
     */
    static final String PACKAGE_LISTS = "META-INF/nnsight/packages/";
    private static final List<String> BY_NAME = List.of("java/", "javax/", "jdk/", "sun/", "org/bytedeco/",
            "io/nnsight/agent/", "io/nnsight/shaded/", "io/nnsight/instrument/", "io/nnsight/internal/",
            "io/nnsight/spi/statemachine/");
    private static final byte[] NNSIGHT = "io/nnsight/".getBytes(StandardCharsets.US_ASCII);
    private static final Map<URL, Set<String>> PACKAGES_BY_LOCATION = new ConcurrentHashMap<>();

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

    /**
     * Whether class {@code type} (an internal name) coming from {@code location} (a class path folder or jar)
     * is one of nnsight's own. It is when a file of {@value #PACKAGE_LISTS} in the same place lists its
     * package; nnsight's own tests and benchmarks, though in {@code io.nnsight} packages, are not.
     */
    static boolean isNnsightClass(String type, URL location) {
        if (location == null || !type.startsWith("io/nnsight/")) {
            return false;
        }
        String packageName = type.substring(0, type.lastIndexOf('/')).replace('/', '.');
        return PACKAGES_BY_LOCATION.computeIfAbsent(location, LibraryCode::nnsightPackages).contains(packageName);
    }

    private static Set<String> nnsightPackages(URL location) {
        Set<String> packages = new HashSet<>();
        try {
            Path path = Path.of(location.toURI());
            if (Files.isDirectory(path)) {
                Path folder = path.resolve(PACKAGE_LISTS);
                if (Files.isDirectory(folder)) {
                    try (Stream<Path> files = Files.list(folder)) {
                        for (Path file : (Iterable<Path>) files::iterator) {
                            addPackages(Files.readString(file), packages);
                        }
                    }
                }
                return packages;
            }
            try (JarFile jar = new JarFile(path.toFile())) {
                for (JarEntry entry : Collections.list(jar.entries())) {
                    if (entry.getName().startsWith(PACKAGE_LISTS) && !entry.isDirectory()) {
                        try (InputStream in = jar.getInputStream(entry)) {
                            addPackages(new String(in.readAllBytes(), StandardCharsets.UTF_8), packages);
                        }
                    }
                }
            }
        } catch (IOException | URISyntaxException | RuntimeException e) {
            // not a place nnsight's modules come from
        }
        return packages;
    }

    private static void addPackages(String list, Set<String> packages) {
        for (String line : list.split("\\R")) {
            String name = line.strip();
            if (!name.isEmpty() && !name.startsWith("#")) {
                packages.add(name);
            }
        }
    }
}
