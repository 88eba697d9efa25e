package io.nnsight.server;

import java.util.Map;

/**
 * A kind of cluster that hosts replicas of language models, found with {@link java.util.ServiceLoader} by {@link
 * #name()}: {@code nnsight serve --ray} finds {@code "ray"} ({@code io.nnsight.server.ray.RayHost}, in {@code
 * nnsight-remote-ray}). A program may start replicas itself and serve them:
 *
 * <pre>{@code
 * ReplicaHost ray = ServiceLoader.load(ReplicaHost.class).stream().map(ServiceLoader.Provider::get)
 *         .filter(host -> host.name().equals("ray")).findFirst().orElseThrow();
 * ModelReplicas replicas = ray.start("127.0.0.1:6379", "/models/stories260K", Map.of(), 2);
 * LanguageModel description = LanguageModel.load("/models/stories260K", LanguageModel.Options.defaults().device("meta"));
 * ModelServer server = ModelServer.builder().replicated(description.key(), description, replicas).apiKeys(keys).start();
 * }</pre>
 */
public interface ReplicaHost {
    /** The name {@code nnsight serve} knows the host by: {@code "ray"}. */
    String name();

    /**
     * Starts replicas of a language model and waits until each has loaded it.
     *
     * @param address the cluster's address ({@code host:port} of Ray's head), or {@code null} for the one this
     *     machine runs
     * @param model a model folder (on every node, at this path) or a hub repository id, as {@code
     *     LanguageModel.load} takes it
     * @param settings how to load it, as {@code nnsight serve} takes them: {@code "tokenizer"} (a path), {@code
     *     "dtype"} ({@code float32}, {@code bfloat16}, {@code float16}), {@code "device"} ({@code cpu}, {@code cuda})
     * @param count how many replicas
     * @throws IllegalStateException when the cluster cannot be reached or a replica cannot load the model, saying
     *     why
     */
    ModelReplicas start(String address, String model, Map<String, String> settings, int count);
}
