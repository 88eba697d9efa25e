package io.nnsight.internal;

import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * How {@code spi.ClientAliases} reaches a wrapper's aliases, which only {@code NNsight} knows, without making them
 * public: {@code NNsight} installs the scope when its class initializes. The wrappers are {@code Object}s because the
 * engine does not use the facade.
 */
public final class HostedAliases {
    /** A client's aliases on a hosted wrapper; see {@code spi.ClientAliases}. */
    public interface Scope {
        /** Whether {@code renames} holds an alias that {@code hosted}, an {@code NNsight}, does not have. */
        boolean lacksAny(Object hosted, Map<String, List<String>> renames);

        /** Runs {@code action} with {@code renames} added to the aliases of {@code hosted}, an {@code NNsight}. */
        <T> T during(Object hosted, Map<String, List<String>> renames, Supplier<T> action);
    }

    private static volatile Scope scope;

    private HostedAliases() {}

    /** Called by {@code NNsight} once; later calls change nothing. */
    public static synchronized void install(Scope installed) {
        if (scope == null) {
            scope = installed;
        }
    }

    /** The scope {@code NNsight} installed. */
    public static Scope scope() {
        Scope installed = scope;
        if (installed == null) {
            throw new IllegalStateException("NNsight has not been initialized");
        }
        return installed;
    }
}
