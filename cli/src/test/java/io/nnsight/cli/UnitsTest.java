package io.nnsight.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

/** Durations and sizes as the command line writes them. */
class UnitsTest {
    @Test
    void duration_withAUnitOrIso_reads() {
        assertEquals(Duration.ofMillis(500), Units.duration("500ms"));
        assertEquals(Duration.ofSeconds(90), Units.duration("90s"));
        assertEquals(Duration.ofMinutes(5), Units.duration("5m"));
        assertEquals(Duration.ofHours(1), Units.duration(" 1H "));
        assertEquals(Duration.ofDays(2), Units.duration("2d"));
        assertEquals(Duration.ofSeconds(90), Units.duration("PT1M30S"));
    }

    @Test
    void duration_zeroOrWithoutAUnit_isRefused() {
        assertTrue(assertThrows(TypeConversionException.class, () -> Units.duration("0s")).getMessage().contains("positive"));
        assertTrue(assertThrows(TypeConversionException.class, () -> Units.duration("60")).getMessage()
                .contains("'60' is not a duration (write 500ms"));
    }

    @Test
    void bytes_withABinaryUnit_reads() {
        assertEquals(1000, Units.bytes("1000"));
        assertEquals(1000, Units.bytes("1000B"));
        assertEquals(512L << 10, Units.bytes("512K"));
        assertEquals(64L << 20, Units.bytes("64M"));
        assertEquals(64L << 20, Units.bytes("64 MiB"));
        assertEquals(1L << 30, Units.bytes("1g"));
    }

    @Test
    void bytes_zeroTooLargeOrMalformed_isRefused() {
        for (String bad : new String[] {"0", "2G", "99999999999G", "64X", "-1M", "M"}) {
            assertThrows(TypeConversionException.class, () -> Units.bytes(bad), bad);
        }
        assertEquals(Units.MAX_BYTES >> 20, Units.bytes("2047M") >> 20);
    }
}
