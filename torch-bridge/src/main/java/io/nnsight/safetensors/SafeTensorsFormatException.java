package io.nnsight.safetensors;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Thrown when a file is not a valid safetensors file or model index: a header that is cut short, not
 * JSON, or describes tensors the data cannot hold. The message starts with the file and says what is
 * wrong with it, for example:
 *
 * <pre>
 * /models/llama/model.safetensors: tensor "lm_head.weight" has data_offsets [0, 12] (12 bytes) but F32 [2, 2] needs 16 bytes
 * </pre>
 */
public final class SafeTensorsFormatException extends IOException {
    private final transient Path file;

    SafeTensorsFormatException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    SafeTensorsFormatException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    /** {@return the file that is not valid} */
    public Path file() {
        return file;
    }
}
