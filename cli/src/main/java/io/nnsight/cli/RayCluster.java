package io.nnsight.cli;

import io.nnsight.server.ReplicaHost;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.MalformedURLException;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * How {@code nnsight serve --ray} reaches Ray: Ray's Java runtime is the {@code ray_dist.jar} of the Ray
 * installation ({@code pip install ray}), which must match the cluster's version, so it is not one of the command's
 * libraries: it is found at run time ({@code --ray-jar}, else {@value #JAR_VARIABLE}, else the Python of the {@code
 * ray} command on the {@code PATH}) and loaded, with {@code nnsight-remote-ray} (kept in {@code lib/ray/}, off the
 * command's class path), in a class loader of its own, from which the {@link ReplicaHost} named {@code "ray"}
 * comes.
 */
final class RayCluster {
    /** The environment variable naming Ray's {@code ray_dist.jar}. */
    static final String JAR_VARIABLE = "NNSIGHT_RAY_JAR";

    private RayCluster() {}

    /**
     * The Ray replica host, loaded with Ray's runtime; the calling thread's context class loader becomes the one it
     * was loaded by, as Ray's runtime finds its classes through it.
     *
     * @param rayJar {@code --ray-jar}, or {@code null}
     * @throws IllegalArgumentException when Ray's runtime or {@code nnsight-remote-ray} cannot be found, saying how
     *     to provide them
     */
    static ReplicaHost host(Path rayJar, Function<String, String> environment) {
        Path runtime = rayJar != null ? rayJar : fromEnvironment(environment);
        if (!Files.isRegularFile(runtime)) {
            throw new IllegalArgumentException("Ray's Java runtime is not at " + runtime + ": give the ray_dist.jar of "
                    + "your Ray installation (site-packages/ray/jars/ray_dist.jar) with --ray-jar or " + JAR_VARIABLE);
        }
        List<URL> urls = new ArrayList<>(libraries());
        urls.add(url(runtime));
        URLClassLoader loader = new URLClassLoader("nnsight-ray", urls.toArray(new URL[0]), RayCluster.class.getClassLoader());
        Thread.currentThread().setContextClassLoader(loader);
        for (ReplicaHost host : ServiceLoader.load(ReplicaHost.class, loader)) {
            if (host.name().equals("ray")) {
                return host;
            }
        }
        throw new IllegalArgumentException("nnsight-remote-ray is missing: its jar belongs in lib/ray/ beside the "
                + "command's libraries (./mvnw package builds it there)");
    }

    private static Path fromEnvironment(Function<String, String> environment) {
        String named = environment.apply(JAR_VARIABLE);
        if (named != null && !named.isBlank()) {
            return Path.of(named);
        }
        return fromPython(environment);
    }

    /** The {@code ray_dist.jar} of the Ray package that the {@code ray} command on the {@code PATH} runs from. */
    private static Path fromPython(Function<String, String> environment) {
        String path = environment.apply("PATH");
        for (String folder : path == null ? new String[0] : path.split(File.pathSeparator)) {
            Path command = Path.of(folder, "ray");
            if (Files.isRegularFile(command)) {
                String python = interpreter(command);
                String location = run(python, "-c",
                        "import os, ray; print(os.path.join(os.path.dirname(ray.__file__), 'jars', 'ray_dist.jar'))");
                if (location != null) {
                    return Path.of(location);
                }
            }
        }
        throw new IllegalArgumentException("Ray is not installed here (no 'ray' command on the PATH): install it with "
                + "'pip install ray', or give its ray_dist.jar with --ray-jar or " + JAR_VARIABLE);
    }

    /** The interpreter of a Python entry-point script: its {@code #!} line, else {@code python3}. */
    private static String interpreter(Path script) {
        try (BufferedReader reader = Files.newBufferedReader(script, StandardCharsets.UTF_8)) {
            String first = reader.readLine();
            return first != null && first.startsWith("#!") && !first.contains(" ") ? first.substring(2) : "python3";
        } catch (IOException e) {
            return "python3";
        }
    }

    private static String run(String... command) {
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String output;
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                output = reader.lines().reduce((first, second) -> second).orElse(null);
            }
            return process.waitFor(60, TimeUnit.SECONDS) && process.exitValue() == 0 ? output : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** The jars of {@code lib/ray/} beside the command's libraries. */
    private static List<URL> libraries() {
        Path folder;
        try {
            Path own = Path.of(ReplicaHost.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            folder = own.resolveSibling("ray");
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        List<URL> urls = new ArrayList<>();
        if (Files.isDirectory(folder)) {
            try (Stream<Path> jars = Files.list(folder)) {
                jars.filter(jar -> jar.toString().endsWith(".jar")).sorted().forEach(jar -> urls.add(url(jar)));
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot list " + folder + ": " + e.getMessage(), e);
            }
        }
        return urls;
    }

    private static URL url(Path path) {
        try {
            return path.toUri().toURL();
        } catch (MalformedURLException e) {
            throw new IllegalArgumentException(path + " is no place to load classes from", e);
        }
    }

    /** The settings a replica loads its model with. */
    static Map<String, String> settings(PlacementOptions placement) {
        return placement.dtype == null ? Map.of("device", placement.device)
                : Map.of("device", placement.device, "dtype", placement.dtype);
    }
}
