package io.nnsight.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

/** Durations and sizes as the command line writes them. */
class SizesAndDurationsTest {
    @Test
    void duration_withAUnitOrIso_reads() {
        assertEquals(Duration.ofMillis(500), SizesAndDurations.duration("500ms"));
        assertEquals(Duration.ofSeconds(90), SizesAndDurations.duration("90s"));
        assertEquals(Duration.ofMinutes(5), SizesAndDurations.duration("5m"));
        assertEquals(Duration.ofHours(1), SizesAndDurations.duration(" 1H "));
        assertEquals(Duration.ofDays(2), SizesAndDurations.duration("2d"));
        assertEquals(Duration.ofSeconds(90), SizesAndDurations.duration("PT1M30S"));
    }

    @Test
    void duration_zeroOrWithoutAUnit_isRefused() {
        assertTrue(assertThrows(TypeConversionException.class, () -> SizesAndDurations.duration("0s")).getMessage().contains("positive"));
        assertTrue(assertThrows(TypeConversionException.class, () -> SizesAndDurations.duration("60")).getMessage()
                .contains("'60' is not a duration (write 500ms"));
    }

    @Test
    void bytes_withABinaryUnit_reads() {
        assertEquals(1000, SizesAndDurations.bytes("1000"));
        assertEquals(1000, SizesAndDurations.bytes("1000B"));
        assertEquals(512L << 10, SizesAndDurations.bytes("512K"));
        assertEquals(64L << 20, SizesAndDurations.bytes("64M"));
        assertEquals(64L << 20, SizesAndDurations.bytes("64 MiB"));
        assertEquals(1L << 30, SizesAndDurations.bytes("1g"));
    }

    @Test
    void bytes_zeroTooLargeOrMalformed_isRefused() {
        for (String bad : new String[] {"0", "2G", "99999999999G", "64X", "-1M", "M"}) {
            assertThrows(TypeConversionException.class, () -> SizesAndDurations.bytes(bad), bad);
        }
        assertEquals(SizesAndDurations.MAX_BYTES >> 20, SizesAndDurations.bytes("2047M") >> 20);
    }
}
