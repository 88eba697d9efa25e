package io.nnsight.remote.internal.protocol;

import io.nnsight.NNsight;
import io.nnsight.lm.LanguageModel;

/**
 * The versions of what runs in this JVM that a client and a server compare ({@code GET /env}, {@code
 * Ndif.compare}): Java, Bytedeco's JavaCPP and libtorch, and what a model is.
 */
public final class Versions {
    private Versions() {}

    /** This JVM's feature version: 17, 21, 25. */
    public static int javaFeature() {
        return Runtime.version().feature();
    }

    /** The newest class-file version this JVM loads: 61 for Java 17, 69 for Java 25. */
    public static int classFileVersion() {
        return javaFeature() + 44;
    }

    /** The version of Bytedeco's JavaCPP on the class path ({@code 1.5.13}), or {@code unknown}. */
    public static String bytedeco() {
        return version(org.bytedeco.javacpp.Loader.class.getPackage());
    }

    /**
     * The version of libtorch that Bytedeco's PyTorch presets wrap ({@code 2.10.0}; the presets' own version is
     * libtorch's, then JavaCPP's: {@code 2.10.0-1.5.13}), or {@code unknown}.
     */
    public static String libtorch() {
        String pytorch = version(org.bytedeco.pytorch.Module.class.getPackage());
        return pytorch.contains("-") ? pytorch.substring(0, pytorch.indexOf('-')) : pytorch;
    }

    /** What {@code model} is: a language model's architecture ({@code llama}), else its module's class name. */
    public static String architecture(NNsight model) {
        return model instanceof LanguageModel
                ? ((LanguageModel) model).architecture()
                : model.module().getClass().getSimpleName();
    }

    private static String version(Package pkg) {
        String version = pkg == null ? null : pkg.getImplementationVersion();
        return version == null || version.isBlank() ? "unknown" : version;
    }
}
