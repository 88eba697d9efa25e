package io.nnsight.server.ray;

import io.nnsight.server.ModelReplicas;
import io.nnsight.server.ModelServer;
import io.nnsight.server.ReplicaHost;
import io.nnsight.server.ray.internal.RayReplicas;
import io.ray.api.Ray;
import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Replicas of language models as Ray actors: the {@link ReplicaHost} named {@code "ray"}, which {@code nnsight
 * serve --ray [ADDRESS]} uses. The model server's JVM joins the Ray cluster as a driver ({@code Ray.init()}); each
 * replica is an actor in a worker JVM of the cluster that loads the model once and runs jobs on it in the sandbox,
 * a job alone or waiting jobs as a batch that shares forward passes, as the server's own model would; only bytes
 * travel through Ray.
 *
 * <p><b>What it needs.</b> Ray's Java runtime on the server's class path: the {@code ray_dist.jar} of the Ray
 * installation whose cluster it joins ({@code pip install ray}; {@code nnsight serve --ray} finds it). The
 * cluster's nodes run workers with the {@code java} that was first on their {@code PATH} when {@code ray start}
 * ran (17 or later), and load nnsight from the jars this JVM loaded it from (Ray's code search path), so those
 * paths must exist on every node, as must the model's folder (or the nodes reach the hub).
 *
 * <p><b>Failures.</b> Ray restarts a replica whose process dies ({@value RayReplicas#MAX_RESTARTS} times); its
 * running jobs run once more on another replica, or fail saying why. See {@code docs/remote.md}.
 */
public final class RayHost implements ReplicaHost {
    private static final Logger LOG = LoggerFactory.getLogger(RayHost.class);
    /** Ray's native library, which a Ray driver unpacks into a folder of its own. */
    private static final String RAY_LIBRARY = System.mapLibraryName("core_worker_library_java");
    /** The folder a Ray driver unpacks its library into: {@code /tmp/ray/} and the time in milliseconds. */
    private static final Pattern DRIVER_COPY = Pattern.compile("/tmp/ray/\\d+");
    /** The file where {@code ray start --head} leaves the address of the cluster this machine runs. */
    private static final Path CURRENT_CLUSTER = Path.of(System.getProperty("java.io.tmpdir"), "ray", "ray_current_cluster");

    /**
     * The module opens Ray's serializer needs in the workers (for anything but the bytes replicas exchange); since a
     * replica's JVM only serves, JavaCPP's physical-memory check off ({@link ModelServer#skipPhysicalMemoryCheck});
     * and JDK continuations for trace bodies (JDK 21+), as {@code nnsight serve} runs them.
     */
    private static final List<String> WORKER_OPTIONS = List.of("-D" + ModelServer.MAX_PHYSICAL_BYTES + "=0",
            "--add-exports=java.base/jdk.internal.vm=ALL-UNNAMED",
            "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-opens=java.base/java.util=ALL-UNNAMED", "--add-opens=java.base/java.math=ALL-UNNAMED",
            "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED", "--add-opens=java.base/java.net=ALL-UNNAMED",
            "--add-opens=java.base/java.text=ALL-UNNAMED");

    /** Found by {@link java.util.ServiceLoader}. */
    public RayHost() {
        // stateless: Ray itself holds the connection to the cluster
    }

    @Override
    public String name() {
        return "ray";
    }

    @Override
    public ModelReplicas start(String address, String model, Map<String, String> settings, int count) {
        if (count <= 0) {
            throw new IllegalArgumentException("a model needs at least one replica, not " + count);
        }
        String classPath = String.join(File.pathSeparator, codeSearchPath());
        synchronized (RayHost.class) {
            if (!Ray.isInitialized()) {
                System.setProperty("ray.address", address != null ? address : currentCluster());
                System.setProperty("ray.job.namespace", "nnsight");
                System.setProperty("ray.job.code-search-path", classPath);
                System.setProperty("log4j2.statusLoggerLevel", System.getProperty("log4j2.statusLoggerLevel", "OFF"));
                Ray.init();
                deleteDriverLibraryCopy();
            }
        }
        return RayReplicas.start(classPath, model, settings.getOrDefault("tokenizer", ""), settings.getOrDefault("dtype", ""),
                settings.getOrDefault("device", "cpu"), count, WORKER_OPTIONS);
    }

    /**
     * Deletes the copy of Ray's native library that {@code Ray.init()} unpacked for this driver, 40 MB in a folder of
     * its own ({@code /tmp/ray/} and the time in milliseconds) that Ray never deletes, so that a server started again
     * and again does not fill {@code /tmp}. Once loaded, the file is not needed: Linux keeps a deleted library mapped.
     * The copy is found in this process's memory map; without one (not Linux) it stays.
     */
    private static void deleteDriverLibraryCopy() {
        Path maps = Path.of("/proc/self/maps");
        if (!Files.isReadable(maps)) {
            return;
        }
        List<Path> copies;
        try (Stream<String> lines = Files.lines(maps)) {
            copies = lines.filter(line -> line.endsWith("/" + RAY_LIBRARY))
                    .map(line -> Path.of(line.substring(line.indexOf('/'))))
                    .filter(library -> DRIVER_COPY.matcher(library.getParent().toString()).matches())
                    .distinct()
                    .toList();
        } catch (IOException e) {
            LOG.debug("Cannot read {} to find Ray's copy of its library: {}", maps, e.toString());
            return;
        }
        for (Path library : copies) {
            Path folder = library.getParent();
            try {
                Files.deleteIfExists(library);
                Files.deleteIfExists(folder.resolve("file_lock")); // Ray's lock while it unpacks
                Files.deleteIfExists(folder);
                LOG.debug("Deleted {}, Ray's copy of its library for this driver, loaded", folder);
            } catch (IOException e) {
                LOG.debug("Cannot delete {}, Ray's copy of its library for this driver: {}", folder, e.toString());
            }
        }
    }

    private static String currentCluster() {
        try {
            return Files.readString(CURRENT_CLUSTER).strip();
        } catch (IOException e) {
            throw new IllegalStateException("no Ray cluster runs on this machine (" + CURRENT_CLUSTER + " is missing): "
                    + "start one with 'ray start --head', or give the address of one (host:port of its head)", e);
        }
    }

    /**
     * Where the workers find nnsight: the entries of this JVM's class path and the jars beside the ones nnsight's
     * classes came from (a {@code -jar} launch lists its libraries in its manifest, not on the class path), except
     * Ray's own, which the workers have.
     */
    private static List<String> codeSearchPath() {
        Set<Path> entries = new LinkedHashSet<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (!entry.isEmpty()) {
                entries.add(Path.of(entry).toAbsolutePath());
            }
        }
        for (Class<?> type : List.of(RayHost.class, ModelReplicas.class)) {
            Path location = location(type);
            if (Files.isDirectory(location)) {
                entries.add(location);
            } else {
                try (Stream<Path> jars = Files.list(location.getParent())) {
                    jars.filter(jar -> jar.toString().endsWith(".jar")).forEach(entries::add);
                } catch (IOException e) {
                    entries.add(location);
                }
            }
        }
        List<String> path = new ArrayList<>();
        for (Path entry : entries) {
            String name = entry.getFileName().toString();
            if (!name.startsWith("ray_dist") && !name.startsWith("ray-api") && Files.exists(entry)) {
                path.add(entry.toString());
            }
        }
        return path;
    }

    private static Path location(Class<?> type) {
        try {
            return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException("cannot tell where " + type.getName() + " was loaded from", e);
        }
    }
}
