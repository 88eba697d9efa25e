package io.nnsight.internal.engine;

import java.util.function.Supplier;

/**
 * Runs intervention bodies as coroutines: code that can stop in the middle, hand a value to the model's
 * thread, and continue later where it stopped. Every engine gives the same semantics; they differ in
 * what a hand-off costs.
 *
 * <p>The protocol is a strict ping-pong: the model side calls {@link Coroutine#resume}, the body runs
 * until it calls {@link Coroutine#suspend} or returns, and only then does {@code resume} return. Exactly
 * one side runs at any time, so the values the two sides share need no locks.
 */
public interface Engine {
    /** A short name for logs and benchmarks, like {@code "threads"}. */
    String name();

    /**
     * Creates a coroutine that runs {@code body} when first resumed.
     *
     * @param name names the coroutine (and its thread, if it has one) in stack dumps
     * @param bodyType the class of the user's code that {@code body} runs, by which an engine remembers what
     *     such bodies need (the continuation engine: a body that could not suspend runs on a thread next time)
     * @param body the code to run; its return value (or the {@code Throwable} it throws) is what the last
     *     {@code resume} returns
     */
    Coroutine create(String name, Class<?> bodyType, Supplier<Object> body);

    /**
     * The engine that runs bodies of {@code bodyType} from now on: this one, unless it hands such bodies to
     * another (the state-machine engine runs the bodies the agent did not compile on continuations).
     */
    default Engine engineFor(Class<?> bodyType) {
        return this;
    }

    /**
     * The engine traces use: {@link ContinuationEngine continuations} when they are available (JDK 21+ with
     * the nnsight agent), else, with the agent (JDK 17 to 20), {@link StateMachineEngine state machines} for
     * the bodies it compiled and threads for the others, else {@link ThreadEngine threads}. {@code
     * -Dnnsight.engine=threads} or {@code continuations} chooses one; asking for continuations where they are
     * unavailable logs why and uses threads. {@code -Dnnsight.engine=statemachine} runs the bodies the agent
     * compiled as {@link StateMachineEngine state machines} and the others on continuations (or threads).
     */
    static Engine current() {
        return Engines.CURRENT;
    }
}
