package io.nnsight.remote.sandbox;

import io.nnsight.remote.internal.sandbox.DeadlineExceededError;
import io.nnsight.remote.internal.sandbox.ShippedCode;
import io.nnsight.remote.spi.JobContext;
import io.nnsight.remote.spi.JobFailedException;
import java.util.Set;

/**
 * What a job's client hears of an error of the job's code, or of reading or writing its values: the same whether
 * the job ran alone or in a batch.
 */
final class JobFailures {
    /** The most frames of shipped code an error's description lists per exception. */
    private static final int MAX_FRAMES = 20;

    private JobFailures() {}

    /**
     * The job's failure: a {@link JobFailedException} as it is, a time limit or the memory running out said so,
     * any other error {@linkplain #describe described} as the user would see it locally.
     */
    static JobFailedException failure(Throwable error, JobContext context, ShippedCode code) {
        if (error instanceof JobFailedException failed) {
            return failed;
        }
        if (error instanceof DeadlineExceededError) {
            return new JobFailedException("the job ran past its time limit of " + context.timeLimit().toSeconds()
                    + " s and was stopped", error);
        }
        if (error instanceof OutOfMemoryError) {
            return new JobFailedException("the job ran out of memory (" + error.getMessage() + ")", error);
        }
        return new JobFailedException(describe(error, code.classNames(), code.loader().getName()), error);
    }

    /**
     * The error as the user would see it locally: its type and message (a libtorch message without its native
     * frames), and the frames of the shipped code ({@code shipped}, defined by the class loader named {@code
     * loader}), a run of one repeated frame shown once with its count.
     */
    private static String describe(Throwable error, Set<String> shipped, String loader) {
        StringBuilder text = new StringBuilder();
        for (Throwable cause = error; cause != null; cause = cause.getCause() == cause ? null : cause.getCause()) {
            text.append(cause == error ? "" : "\nCaused by: ").append(cause.getClass().getName());
            String message = withoutNativeFrames(cause.getMessage());
            if (message != null) {
                text.append(": ").append(message);
            }
            int listed = 0;
            StackTraceElement previous = null;
            int repeats = 0;
            for (StackTraceElement frame : cause.getStackTrace()) {
                // the job's frames only: in Remote.local() the caller's own classes, of the same names, are below
                if (!shipped.contains(frame.getClassName()) || !loader.equals(frame.getClassLoaderName())) {
                    continue;
                }
                if (frame.equals(previous)) {
                    repeats++;
                    continue;
                }
                text.append(repeated(repeats));
                repeats = 0;
                previous = frame;
                if (listed++ == MAX_FRAMES) {
                    text.append("\n\t...");
                    break;
                }
                text.append("\n\tat ").append(frame);
            }
            text.append(repeated(repeats));
        }
        return text.toString();
    }

    private static String repeated(int repeats) {
        return repeats == 0 ? "" : "\n\t(the frame above " + repeats + " more times)";
    }

    /** libtorch appends its C++ frames to an error's message: they say nothing to the user. */
    private static String withoutNativeFrames(String message) {
        if (message == null) {
            return null;
        }
        int end = message.length();
        for (String marker : new String[] {"\nframe #", "\nException raised from"}) {
            int at = message.indexOf(marker);
            if (at >= 0 && at < end) {
                end = at;
            }
        }
        return message.substring(0, end).strip();
    }
}
