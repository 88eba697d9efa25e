package io.nnsight.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import org.junit.jupiter.api.Test;

/** What the shipped {@code nnsight-agent.jar} holds, and only that. */
class AgentJarTest {
    private static final List<String> ALLOWED = List.of(
            "META-INF/MANIFEST.MF", "META-INF/LICENSE", "META-INF/NOTICE", "META-INF/licenses/",
            "META-INF/maven/io.nnsight/nnsight-agent/", "META-INF/nnsight/packages/", "io/nnsight/agent/",
            "io/nnsight/instrument/",
            "io/nnsight/shaded/bytebuddy/", "io/nnsight/shaded/asm/");

    static Path jar() {
        return Path.of(System.getProperty("nnsight.agent.jar"));
    }

    @Test
    void jar_holdsOnlyTheAgent_theTransforms_andRelocatedByteBuddyAndAsm() throws IOException {
        List<String> unexpected = new ArrayList<>();
        try (JarFile file = new JarFile(jar().toFile())) {
            for (Enumeration<JarEntry> entries = file.entries(); entries.hasMoreElements(); ) {
                String name = entries.nextElement().getName();
                if (!name.endsWith("/") && ALLOWED.stream().noneMatch(name::startsWith)) {
                    unexpected.add(name);
                }
            }
        }
        assertEquals(List.of(), unexpected);
    }

    @Test
    void manifest_declaresEveryWayToStartTheAgent() throws IOException {
        try (JarFile file = new JarFile(jar().toFile())) {
            Attributes main = file.getManifest().getMainAttributes();
            for (String entry : List.of("Premain-Class", "Agent-Class", "Launcher-Agent-Class")) {
                assertEquals(NnsightAgentName.NAME, main.getValue(entry), entry);
            }
            assertEquals("true", main.getValue("Can-Retransform-Classes"));
        }
    }

    @Test
    void relocation_keepsByteBuddysDocumentedSystemProperties() throws IOException {
        String constants = constants("io/nnsight/shaded/bytebuddy/utility/OpenedClassReader.class");

        assertTrue(constants.contains("net.bytebuddy.experimental"), "net.bytebuddy.experimental was renamed");
        assertTrue(!constants.contains("io.nnsight.shaded.bytebuddy.experimental"));
    }

    private static String constants(String entry) throws IOException {
        try (JarFile file = new JarFile(jar().toFile()); InputStream in = file.getInputStream(file.getEntry(entry))) {
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    /** The agent's class name, written out: the agent jar is not on this test's class path. */
    static final class NnsightAgentName {
        static final String NAME = "io.nnsight.agent.NnsightAgent";
    }
}
