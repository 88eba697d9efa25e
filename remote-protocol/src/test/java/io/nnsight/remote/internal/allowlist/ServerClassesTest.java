package io.nnsight.remote.internal.allowlist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class ServerClassesTest {
    private static final ClassLoader LOADER = ServerClassesTest.class.getClassLoader();

    @Test
    void find_manyNamesFromRequests_remembersAtMostTheBound() {
        ServerClasses server = new ServerClasses(LOADER);
        for (int i = 0; i < ServerClasses.REMEMBERED + 1_000; i++) {
            server.find("com.example.hostile.Name" + i);
        }
        assertEquals(ServerClasses.REMEMBERED, server.rememberedNames());
    }

    @Test
    void find_beyondTheBound_stillAnswersRight() {
        ServerClasses server = new ServerClasses(LOADER, 4);
        String deepArray = "[".repeat(200) + "Ljava.lang.String;";
        for (int i = 0; i < 10; i++) {
            assertEquals(Optional.empty(), server.find("com.example.hostile.Name" + i));
        }
        assertEquals(4, server.rememberedNames());
        assertEquals(Optional.of(String.class), server.find("java.lang.String"));
        assertEquals(200, server.find(deepArray).orElseThrow().getName().lastIndexOf('[') + 1);
        assertEquals(Optional.empty(), server.find("com.example.hostile.Name0"));
        assertTrue(server.isSubclass("java.lang.Integer", "java.lang.Number"));
        assertEquals(4, server.rememberedNames());
    }
}
