package io.nnsight.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code -Dnnsight.debug=true} shows what it promises when the library runs from the built {@code nnsight.jar},
 * whose logging prints warnings only: the debug messages go to standard error all the same.
 */
class DebugFlagTest {
    @Test
    void debugFlag_fromTheBuiltJar_saysWhichEngineRunsTheBodies() throws IOException, InterruptedException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process generate = new ProcessBuilder(List.of(java.toString(), "--enable-native-access=ALL-UNNAMED",
                "-Dnnsight.debug=true", "-jar", ServeProcessTest.cliJar().toString(), "generate", "--model",
                SharedFiles.path("models/stories260K").toString(), "--prompt", "Once upon a time", "-n", "2"))
                .redirectErrorStream(true)
                .start();
        String output = new String(generate.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

        assertTrue(generate.waitFor(120, TimeUnit.SECONDS), output);
        assertEquals(0, generate.exitValue(), output);
        // the jar's manifest exports jdk.internal.vm: continuations wherever the JDK has them (21+)
        String engine = Runtime.version().feature() >= 21 ? "continuations" : "threads";
        assertTrue(output.contains("nnsight: intervention bodies run on " + engine + " (-Dnnsight.engine=auto"), output);
    }
}
