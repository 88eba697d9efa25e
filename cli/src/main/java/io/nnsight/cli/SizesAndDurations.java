package io.nnsight.cli;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** How the command line writes durations ({@code 90s}, {@code 5m}) and sizes ({@code 64M}, {@code 1G}). */
final class SizesAndDurations {
    /** The largest size a server limit takes: just under 2 GiB, the largest Java array. */
    static final long MAX_BYTES = Integer.MAX_VALUE - 8;

    private static final Pattern DURATION = Pattern.compile("(\\d{1,9})\\s*(ms|s|m|h|d)");
    private static final Pattern SIZE = Pattern.compile("(\\d{1,12})\\s*(?:([kmg])(?:i?b)?|b)?");

    private SizesAndDurations() {}

    /**
     * A positive duration: a number with {@code ms}, {@code s}, {@code m}, {@code h} or {@code d} ({@code
     * 500ms}, {@code 90s}, {@code 5m}), or ISO-8601 ({@code PT1M30S}).
     */
    static Duration duration(String text) {
        String trimmed = text.strip().toLowerCase(Locale.ROOT);
        Matcher matcher = DURATION.matcher(trimmed);
        Duration duration;
        if (matcher.matches()) {
            long amount = Long.parseLong(matcher.group(1));
            switch (matcher.group(2)) {
                case "ms": duration = Duration.ofMillis(amount); break;
                case "s": duration = Duration.ofSeconds(amount); break;
                case "m": duration = Duration.ofMinutes(amount); break;
                case "h": duration = Duration.ofHours(amount); break;
                default: duration = Duration.ofDays(amount); break;
            }
        } else {
            try {
                duration = Duration.parse(text.strip().toUpperCase(Locale.ROOT));
            } catch (DateTimeParseException e) {
                throw new TypeConversionException("'" + text + "' is not a duration (write 500ms, 90s, 5m, 1h or PT1M30S)");
            }
        }
        if (duration.isNegative() || duration.isZero()) {
            throw new TypeConversionException("'" + text + "' is not a positive duration");
        }
        return duration;
    }

    /**
     * A positive number of bytes, at most {@link #MAX_BYTES}: a number with {@code K}, {@code M} or {@code
     * G} (binary: {@code 64M} is 64 MiB; {@code KiB}, {@code MB} and the like read the same), or plain bytes.
     */
    static long bytes(String text) {
        Matcher matcher = SIZE.matcher(text.strip().toLowerCase(Locale.ROOT));
        if (!matcher.matches()) {
            throw new TypeConversionException("'" + text + "' is not a size (write 512K, 64M, 1G or a number of bytes)");
        }
        String unit = matcher.group(2);
        int shift = unit == null ? 0 : ("kmg".indexOf(unit) + 1) * 10;
        long amount = Long.parseLong(matcher.group(1));
        if (amount <= 0 || amount > MAX_BYTES >> shift) {
            throw new TypeConversionException("'" + text + "' is not a size between 1 byte and 2047M");
        }
        return amount << shift;
    }

    /** Reads {@link #duration} for picocli. */
    static final class DurationConverter implements ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            return duration(value);
        }
    }

    /** Reads {@link #bytes} for picocli. */
    static final class SizeConverter implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            return bytes(value);
        }
    }
}
