package io.nnsight.instrument.statemachine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.models.Bodies;
import io.nnsight.models.CrossClassBodies;
import io.nnsight.models.Probes;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The state-machine compiler's results on disk: written once, then taken instead of compiling again. */
class CompiledClassCacheTest {
    private static final ClassLoader LOADER = CompiledClassCacheTest.class.getClassLoader();

    private static byte[] classFile(Class<?> type) throws IOException {
        try (InputStream in = type.getResourceAsStream(type.getName().substring(type.getName().lastIndexOf('.') + 1)
                + ".class")) {
            return in.readAllBytes();
        }
    }

    private static List<Path> files(Path folder) throws IOException {
        try (Stream<Path> files = Files.list(folder)) {
            return files.toList();
        }
    }

    @Test
    void transform_compiledClass_isStoredThenTakenFromTheCache(@TempDir Path folder) throws Exception {
        byte[] original = classFile(Bodies.class);
        ClassLoader loader = LOADER;
        String name = "io/nnsight/models/Bodies";

        byte[] first = new StateMachineCompiler(new CompiledClassCache(folder))
                .transform(loader, name, null, null, original);

        assertNotNull(first, "the body was not compiled");
        assertEquals(1, files(folder).size());

        // Another start: the file stands in for the work (a changed file proves it is what is returned).
        byte[] stored = Files.readAllBytes(files(folder).get(0));
        stored[stored.length - 1] ^= 1;
        Files.write(files(folder).get(0), stored);
        byte[] second = new StateMachineCompiler(new CompiledClassCache(folder))
                .transform(loader, name, null, null, original);

        assertEquals(first.length, second.length);
        assertEquals(first[first.length - 1] ^ 1, second[second.length - 1]);
    }

    @Test
    void transform_classLeftAsItWas_isRememberedAsSuch(@TempDir Path folder) throws Exception {
        byte[] original = classFile(Bodies.NoBody.class);

        byte[] result = new StateMachineCompiler(new CompiledClassCache(folder))
                .transform(LOADER, "io/nnsight/models/Bodies$NoBody", null, null, original);

        assertNull(result);
        assertEquals(1, files(folder).size());
        assertEquals(4, Files.size(files(folder).get(0)), "no dependency, no class file");
    }

    @Test
    void cache_turnedOff_storesNothing(@TempDir Path folder) throws Exception {
        CompiledClassCache off = new CompiledClassCache(null);

        off.put(new byte[] {1, 2, 3}, new byte[] {4}, Map.of());

        assertTrue(off.get(new byte[] {1, 2, 3}, LOADER).isEmpty());
        assertFalse(Files.list(folder).findAny().isPresent());
    }

    @Test
    void cache_keysByTheClassFile(@TempDir Path folder) {
        CompiledClassCache cache = new CompiledClassCache(folder);

        cache.put(new byte[] {1, 2, 3}, new byte[] {9}, Map.of());

        assertArrayEquals(new byte[] {9}, cache.get(new byte[] {1, 2, 3}, LOADER).orElseThrow());
        assertTrue(cache.get(new byte[] {1, 2, 4}, LOADER).isEmpty());
    }

    @Test
    void cache_resultWhoseDependencyChanged_isCompiledAgain(@TempDir Path folder) throws Exception {
        CompiledClassCache cache = new CompiledClassCache(folder);
        byte[] probes = classFile(Probes.class);
        byte[] changed = probes.clone();
        changed[changed.length - 1] ^= 1;

        cache.put(new byte[] {1}, new byte[] {9}, Map.of("io/nnsight/models/Probes", probes));
        cache.put(new byte[] {2}, new byte[] {9}, Map.of("io/nnsight/models/Probes", changed));

        assertArrayEquals(new byte[] {9}, cache.get(new byte[] {1}, LOADER).orElseThrow());
        assertTrue(cache.get(new byte[] {2}, LOADER).isEmpty());
    }

    @Test
    void transform_bodyCallingAnotherClass_recordsThatClassAsADependency(@TempDir Path folder) throws Exception {
        byte[] original = classFile(CrossClassBodies.class);
        String name = "io/nnsight/models/CrossClassBodies";

        byte[] compiled = new StateMachineCompiler(new CompiledClassCache(folder))
                .transform(LOADER, name, null, null, original);

        assertNotNull(compiled);
        String stored = new String(Files.readAllBytes(files(folder).get(0)), StandardCharsets.ISO_8859_1);
        assertTrue(stored.contains("io/nnsight/models/Probes"), "the helpers' class is a dependency");
    }
}
