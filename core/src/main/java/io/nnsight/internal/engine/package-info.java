/**
 * The engines that run intervention bodies as coroutines (internal): an {@link
 * io.nnsight.internal.engine.Engine} makes a {@link io.nnsight.internal.engine.Coroutine} per invoke, which the
 * model side resumes and the body suspends, strictly in turn. {@code ThreadEngine} runs each body on a thread of
 * its own, {@code ContinuationEngine} as a JDK continuation on the model's thread (JDK 21+, opened by the agent),
 * {@code StateMachineEngine} drives the bodies the agent compiled ({@code io.nnsight.spi.statemachine}) and hands
 * the others to one of the first two. {@code Engines} chooses one per JVM; {@code io.nnsight.BodyEngine} is its
 * public face.
 */
package io.nnsight.internal.engine;
