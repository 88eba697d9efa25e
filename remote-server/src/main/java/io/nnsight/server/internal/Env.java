package io.nnsight.server.internal;

import com.google.gson.JsonObject;
import io.nnsight.NNsight;
import io.nnsight.lm.LanguageModel;
import io.nnsight.remote.internal.protocol.Protocol;
import java.util.Map;

/** The answer of {@code GET /env}: what a client needs to know to send jobs this server can run. */
public final class Env {
    private Env() {}

    /**
     * {@code {"nnsight", "java", "javaFeature", "classFileVersion", "bytedeco", "libtorch", "models": {key:
     * {"architecture"}}}}.
     */
    public static JsonObject describe(Map<String, NNsight> models) {
        JsonObject env = new JsonObject();
        env.addProperty("nnsight", Protocol.VERSION);
        env.addProperty("java", Runtime.version().toString());
        int feature = Runtime.version().feature();
        env.addProperty("javaFeature", feature);
        env.addProperty("classFileVersion", feature + 44); // Java 17 reads class files up to version 61
        env.addProperty("bytedeco", version(org.bytedeco.javacpp.Loader.class.getPackage()));
        String pytorch = version(org.bytedeco.pytorch.Module.class.getPackage());
        // The presets' version is libtorch's, then JavaCPP's: 2.10.0-1.5.13.
        env.addProperty("libtorch", pytorch.contains("-") ? pytorch.substring(0, pytorch.indexOf('-')) : pytorch);
        JsonObject hosted = new JsonObject();
        models.forEach((key, model) -> {
            JsonObject description = new JsonObject();
            description.addProperty("architecture", model instanceof LanguageModel
                    ? ((LanguageModel) model).architecture()
                    : model.module().getClass().getSimpleName());
            hosted.add(key, description);
        });
        env.add("models", hosted);
        return env;
    }

    private static String version(Package pkg) {
        String version = pkg == null ? null : pkg.getImplementationVersion();
        return version == null ? "unknown" : version;
    }
}
