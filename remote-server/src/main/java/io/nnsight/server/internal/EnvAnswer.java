package io.nnsight.server.internal;

import com.google.gson.JsonObject;
import io.nnsight.BodyEngine;
import io.nnsight.NNsight;
import io.nnsight.remote.internal.protocol.Protocol;
import io.nnsight.remote.internal.protocol.Versions;
import java.util.Map;

/** The answer of {@code GET /env}: what a client needs to know to send jobs this server can run. */
public final class EnvAnswer {
    private EnvAnswer() {}

    /**
     * {@code {"nnsight", "java", "javaFeature", "classFileVersion", "bytedeco", "libtorch", "engine", "models": {key:
     * {"architecture"}}}}; {@code "engine"} is what runs trace bodies ({@link BodyEngine#property()}).
     */
    public static JsonObject describe(Map<String, NNsight> models) {
        JsonObject env = new JsonObject();
        env.addProperty("nnsight", Protocol.VERSION);
        env.addProperty("java", Runtime.version().toString());
        env.addProperty("javaFeature", Versions.javaFeature());
        env.addProperty("classFileVersion", Versions.classFileVersion());
        env.addProperty("bytedeco", Versions.bytedeco());
        env.addProperty("libtorch", Versions.libtorch());
        env.addProperty("engine", BodyEngine.configured().property());
        JsonObject hosted = new JsonObject();
        models.forEach((key, model) -> {
            JsonObject description = new JsonObject();
            description.addProperty("architecture", Versions.architecture(model));
            hosted.add(key, description);
        });
        env.add("models", hosted);
        return env;
    }
}
