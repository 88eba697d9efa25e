package io.nnsight;

import io.nnsight.internal.engine.ContinuationEngine;
import io.nnsight.internal.engine.Engine;
import java.util.Optional;

/**
 * How intervention bodies run beside the model. Every engine gives a body the same semantics; they differ in
 * what a hand-off between the body and the model costs.
 *
 * <ul>
 *   <li>{@link #THREADS}: each body on a (virtual) thread of its own. Works everywhere.
 *   <li>{@link #CONTINUATIONS}: bodies as JDK continuations on the model's thread, JDK 21+ with the nnsight
 *       agent (which opens {@code jdk.internal.vm} to nnsight).
 *   <li>{@link #STATE_MACHINES}: bodies compiled by the nnsight agent into resumable methods; bodies it could
 *       not compile run on continuations, or threads before JDK 21.
 * </ul>
 *
 * <p>The engine is chosen once per JVM, from {@code -Dnnsight.engine} ({@link #property()} of each, or {@code
 * auto}: continuations where available, else state machines with the agent, else threads) and what the JVM
 * offers.
 *
 * <pre>{@code
 * BodyEngine everywhere = BodyEngine.configured();                  // e.g. CONTINUATIONS
 * BodyEngine mine = model.trace(x, tr -> tr.engine());              // the engine that ran this very body
 * }</pre>
 */
public enum BodyEngine {
    /** Each body on a thread of its own. */
    THREADS("threads"),
    /** Bodies as JDK continuations on the model's thread. */
    CONTINUATIONS("continuations"),
    /** Bodies compiled by the agent into state machines on the model's thread. */
    STATE_MACHINES("statemachine");

    private final String property;

    BodyEngine(String property) {
        this.property = property;
    }

    /** The value of {@code -Dnnsight.engine} that asks for this engine. */
    public String property() {
        return property;
    }

    /** The engine traces use in this JVM. */
    public static BodyEngine configured() {
        return named(Engine.current().name());
    }

    /** Why continuations cannot run in this JVM (the JDK's version, or the agent not running), or empty. */
    public static Optional<String> continuationsUnavailable() {
        return ContinuationEngine.available() ? Optional.empty() : Optional.of(ContinuationEngine.unavailableReason());
    }

    /** The engine of {@link Engine#name()} {@code name}. */
    static BodyEngine named(String name) {
        for (BodyEngine engine : values()) {
            if (engine.property.equals(name)) {
                return engine;
            }
        }
        throw new IllegalArgumentException("no engine is named " + name);
    }
}
