package io.nnsight.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each module of nnsight names its packages in {@code META-INF/nnsight/packages/<module>}, so that the
 * agent's state-machine compiler treats them as library code: in every jar that ships (the built {@code
 * nnsight.jar} and the nnsight jars in its {@code lib/}), the list must be exactly the packages of the jar's
 * classes, or a new package's classes would be analysed as intervention code.
 */
class LibraryMarkersTest {
    private static final String FOLDER = "META-INF/nnsight/packages/";

    static Stream<Path> shippedJars() throws IOException {
        Path cli = Path.of(System.getProperty("nnsight.cli.jar"));
        List<Path> jars = new ArrayList<>(List.of(cli));
        try (Stream<Path> libraries = Files.list(cli.resolveSibling("lib"))) {
            libraries.filter(jar -> jar.getFileName().toString().startsWith("nnsight-")).sorted().forEach(jars::add);
        }
        return jars.stream();
    }

    @ParameterizedTest
    @MethodSource("shippedJars")
    void marker_listsExactlyThePackagesOfItsJar(Path jar) throws IOException {
        Set<String> classPackages = new TreeSet<>();
        Set<String> listed = new TreeSet<>();
        int markers = 0;
        try (JarFile file = new JarFile(jar.toFile())) {
            for (JarEntry entry : Collections.list(file.entries())) {
                String name = entry.getName();
                if (name.startsWith(FOLDER) && !entry.isDirectory()) {
                    markers++;
                    try (InputStream in = file.getInputStream(entry)) {
                        addListed(new String(in.readAllBytes(), StandardCharsets.UTF_8), listed);
                    }
                } else if (name.endsWith(".class") && name.contains("/") && !name.startsWith("META-INF/")) {
                    classPackages.add(name.substring(0, name.lastIndexOf('/')).replace('/', '.'));
                }
            }
        }

        assertEquals(1, markers, jar.getFileName() + " has one list of its packages");
        assertFalse(classPackages.isEmpty());
        assertEquals(classPackages, listed, jar.getFileName().toString());
    }

    private static void addListed(String list, Set<String> packages) {
        for (String line : list.split("\\R")) {
            if (!line.isBlank() && !line.startsWith("#")) {
                packages.add(line.strip());
            }
        }
    }
}
