package io.nnsight.internal;

/**
 * What an intervention body hands to the model side when it suspends, and what it ends with.
 */
sealed interface Signal {
    /** What the body wants done when a module call reaches {@code (module, kind, iteration)}. */
    enum Action {
        /** Reply with the value, narrowed to the invoke's rows. */
        READ,
        /**
         * Reply with the first argument of the call (the first named one if none is positional), narrowed to the
         * invoke's rows: what {@code input()} reads, so that the other arguments need not split by rows (a decoder
         * layer's cache of keys and values in a generation shared with others).
         */
        READ_FIRST,
        /** Replace the value (the invoke's rows of it) with {@code Wait.value}; reply when done. */
        REPLACE,
        /** Skip the module's computation, standing in {@code Wait.value} for its output (inputs only). */
        SKIP,
        /** Reply {@code true} once the call starts, {@code false} if the run ends first (iteration loops). */
        STEP
    }

    /**
     * Waits for one call of one module.
     *
     * @param module the module's index in the wrapper
     * @param kind whether the call's inputs or its output are wanted
     * @param iteration which call of the module: 0 for the first
     * @param action what to do there
     * @param value the replacement or skip value, or {@code null}
     */
    record Wait(int module, Provider.Kind kind, int iteration, Action action, Object value) implements Signal {}

    /** Arrives at a barrier and waits until all its participants have. */
    record Arrival(BarrierState barrier) implements Signal {}

    /** Waits until the body of invoke {@code of} has returned, for its result. */
    record Completion(Mediator of) implements Signal {}

    /**
     * The body has ended: it returned {@code result}, or threw {@code failure}.
     */
    record Finished(Object result, Throwable failure) implements Signal {}
}
