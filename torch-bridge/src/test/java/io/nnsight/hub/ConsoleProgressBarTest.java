package io.nnsight.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ConsoleProgressBarTest {
    @Test
    void render_knownTotal_drawsBarPercentageAndSizes() {
        assertEquals("model.safetensors  [###############---------------]  50%  1.0 MiB / 2.0 MiB",
                ConsoleProgressBar.render("model.safetensors", 1 << 20, 2 << 20));
    }

    @Test
    void render_unknownTotal_showsBytesOnly() {
        assertEquals("config.json  512 B", ConsoleProgressBar.render("config.json", 512, -1));
    }

    @Test
    void formatBytes_largeValues_useBinaryUnits() {
        assertEquals("1023 B", ConsoleProgressBar.formatBytes(1023));
        assertEquals("1.5 KiB", ConsoleProgressBar.formatBytes(1536));
        assertEquals("3.0 GiB", ConsoleProgressBar.formatBytes(3L << 30));
    }

    @Test
    void onProgress_completeFile_endsItsLine() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ConsoleProgressBar bar = new ConsoleProgressBar(new PrintStream(bytes, true, StandardCharsets.UTF_8));

        bar.onProgress("a.json", 0, 10);
        bar.onProgress("a.json", 10, 10);
        bar.onProgress("b.json", 0, 5);

        String output = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(output.startsWith("\ra.json  ["), output);
        assertTrue(output.contains("100%  10 B / 10 B" + System.lineSeparator() + "\rb.json"), output);
    }
}
