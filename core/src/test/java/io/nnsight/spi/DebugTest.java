package io.nnsight.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.slf4j.helpers.NOPLogger;

class DebugTest {
    @Test
    void log_whereTheApplicationsLoggingDropsInfo_writesToStandardError() {
        PrintStream standardError = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            Debug.log(NOPLogger.NOP_LOGGER, "nnsight: {} runs on {}", "invoke 0", "threads"); // INFO is off for it
        } finally {
            System.setErr(standardError);
        }

        assertEquals("nnsight: invoke 0 runs on threads" + System.lineSeparator(),
                captured.toString(StandardCharsets.UTF_8));
    }
}
