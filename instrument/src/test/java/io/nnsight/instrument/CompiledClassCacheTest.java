package io.nnsight.instrument;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.models.Bodies;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The state-machine compiler's results on disk: written once, then taken instead of compiling again. */
class CompiledClassCacheTest {
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
        ClassLoader loader = Bodies.class.getClassLoader();
        String name = "io/nnsight/models/Bodies";

        byte[] first = new StateMachineCompiler(new CompiledClassCache(folder))
                .transform(loader, name, null, null, original);

        assertNotNull(first, "the body was not compiled");
        assertEquals(1, files(folder).size());
        assertArrayEquals(first, Files.readAllBytes(files(folder).get(0)));

        // Another start: the file stands in for the work (a changed file proves it is what is returned).
        byte[] marked = first.clone();
        marked[marked.length - 1] ^= 1;
        Files.write(files(folder).get(0), marked);
        byte[] second = new StateMachineCompiler(new CompiledClassCache(folder))
                .transform(loader, name, null, null, original);

        assertArrayEquals(marked, second);
    }

    @Test
    void transform_classLeftAsItWas_isRememberedAsSuch(@TempDir Path folder) throws Exception {
        byte[] original = classFile(Bodies.NoBody.class);

        byte[] result = new StateMachineCompiler(new CompiledClassCache(folder))
                .transform(Bodies.class.getClassLoader(), "io/nnsight/models/Bodies$NoBody", null, null, original);

        assertNull(result);
        assertEquals(1, files(folder).size());
        assertEquals(0, Files.size(files(folder).get(0)));
    }

    @Test
    void cache_turnedOff_storesNothing(@TempDir Path folder) throws Exception {
        CompiledClassCache off = new CompiledClassCache(null);

        off.put(new byte[] {1, 2, 3}, new byte[] {4});

        assertTrue(off.get(new byte[] {1, 2, 3}).isEmpty());
        assertFalse(Files.list(folder).findAny().isPresent());
    }

    @Test
    void cache_keysByTheClassFile(@TempDir Path folder) {
        CompiledClassCache cache = new CompiledClassCache(folder);

        cache.put(new byte[] {1, 2, 3}, new byte[] {9});

        assertArrayEquals(new byte[] {9}, cache.get(new byte[] {1, 2, 3}).orElseThrow());
        assertTrue(cache.get(new byte[] {1, 2, 4}).isEmpty());
    }
}
