package io.nnsight.spi;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.Collections;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * Tells nnsight's own classes from the application's: the agent does not compile them as intervention code,
 * and a job does not ship them to a server, which has them.
 *
 * <p>Each module of nnsight lists its packages in a resource of {@value #PACKAGE_LISTS}, one file per module
 * so that the lists survive in a jar that merges several modules. A class is nnsight's when a list in the
 * place it was loaded from (a class path folder or jar) names its package. nnsight's own tests and
 * benchmarks, though in {@code io.nnsight} packages, are not, nor is a user's class in an {@code io.nnsight}
 * package of their own jar. A new package of a module must be added to its list
 * ({@code LibraryMarkersTest} checks the shipped jars).
 */
public final class NnsightPackages {
    /** The folder of the resources that name nnsight's packages. */
    public static final String PACKAGE_LISTS = "META-INF/nnsight/packages/";
    private static final Map<URL, Set<String>> PACKAGES_BY_LOCATION = new ConcurrentHashMap<>();

    private NnsightPackages() {}

    /**
     * Whether class {@code type} (an internal name, {@code io/nnsight/Envoy}) loaded from {@code location} is
     * one of nnsight's own.
     */
    public static boolean contains(String type, URL location) {
        if (location == null || !type.startsWith("io/nnsight/")) {
            return false;
        }
        String packageName = type.substring(0, type.lastIndexOf('/')).replace('/', '.');
        return PACKAGES_BY_LOCATION.computeIfAbsent(location, NnsightPackages::listed).contains(packageName);
    }

    /** Whether {@code type} is one of nnsight's own classes. */
    public static boolean contains(Class<?> type) {
        CodeSource source = type.getProtectionDomain().getCodeSource();
        return source != null && contains(type.getName().replace('.', '/'), source.getLocation());
    }

    private static Set<String> listed(URL location) {
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
