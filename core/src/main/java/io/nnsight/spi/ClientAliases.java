package io.nnsight.spi;

import io.nnsight.NNsight;
import io.nnsight.internal.HostedAliases;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * A client's aliases ({@link NNsight#rename}) on a hosted wrapper while one of the client's jobs runs: what a model
 * server does so that shipped code finds modules by the names it was written with ({@code lm.get("blocks.2")} after
 * {@code lm.rename(Map.of("model.layers", "blocks"))}), while no other job sees them. The aliases belong to the
 * wrapper's module tree while the job runs, so the server runs such a job alone: nothing else may use the tree
 * meanwhile.
 *
 * <pre>{@code
 * Map<String, List<String>> renames = ...;                  // the client's lm.renames(), shipped with the job
 * if (ClientAliases.addTo(hosted, renames)) {
 *     // not in a shared forward pass: alone
 * }
 * Object result = ClientAliases.during(hosted, renames, () -> job.run());
 * }</pre>
 */
public final class ClientAliases {
    private ClientAliases() {}

    /**
     * Whether {@code renames} (each path with its aliases, as {@link NNsight#renames()} gives them) holds an alias
     * that {@code hosted} does not have: the hosted wrapper's own (its standard names, say) need nothing.
     */
    public static boolean addTo(NNsight hosted, Map<String, List<String>> renames) {
        return HostedAliases.scope().lacksAny(Objects.requireNonNull(hosted, "hosted"),
                Objects.requireNonNull(renames, "renames"));
    }

    /**
     * Runs {@code job} with the aliases of {@code renames} added to {@code hosted}'s, and takes away those it added
     * when it returns or throws.
     *
     * @throws IllegalArgumentException when an alias does not fit the hosted model (its path exists nowhere in the
     *     tree, or the alias would hide a module), as {@link NNsight#rename} says; then {@code job} does not run
     */
    public static <T> T during(NNsight hosted, Map<String, List<String>> renames, Supplier<T> job) {
        return HostedAliases.scope().during(Objects.requireNonNull(hosted, "hosted"),
                Objects.requireNonNull(renames, "renames"), Objects.requireNonNull(job, "job"));
    }
}
