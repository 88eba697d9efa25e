package io.nnsight.cli;

import io.nnsight.lm.LanguageModel;
import io.nnsight.safetensors.DType;
import picocli.CommandLine.Option;

/** The type and device a command loads its models in ({@code --dtype}, {@code --device}). */
final class PlacementOptions {
    @Option(names = "--dtype", paramLabel = "TYPE",
            description = "float32, bfloat16 or float16 (default: the checkpoint's, as transformers loads it).")
    String dtype;

    @Option(names = "--device", paramLabel = "DEVICE",
            description = "cpu (the default), cuda or cuda:N (a build with -Pcuda and a GPU).")
    String device = "cpu";

    /** {@code options} with this type (if given) and device. */
    LanguageModel.Options applyTo(LanguageModel.Options options) {
        options = options.device(device);
        return dtype == null ? options : options.dtype(DType.parse(dtype));
    }
}
