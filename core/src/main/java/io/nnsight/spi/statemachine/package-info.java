/**
 * The runtime half of the nnsight agent's state-machine compiler: the ABI between the intervention bodies
 * it rewrites and the engine that runs them. For the engine and compiled code only; nothing here is an API
 * for users.
 *
 * <p>A body compiled into a state machine suspends by saving its locals into its {@link
 * io.nnsight.spi.statemachine.StateMachine} and returning, and resumes by being called again, restoring them
 * and jumping back to the call it suspended in. {@code StateMachine} says how, step by step.
 *
 * <p>Who calls it at run time:
 *
 * <ul>
 *   <li>compiled code, in whatever package, module and class loader the application's classes live: it
 *       calls {@code StateMachine}'s static {@code claim}, {@code methodKey} and {@code compiled} and its
 *       instance methods ({@code label}, {@code enter}, {@code offer}, {@code save}, {@code suspendedAt}...),
 *       reads and writes its {@code refs} and {@code prims}, and catches {@code StateMachine.Suspension};
 *   <li>core's state-machine engine ({@code io.nnsight.internal.engine.StateMachineEngine}), which makes one
 *       per body of a compiled class ({@link io.nnsight.spi.statemachine.StateMachine#compiles}) and drives
 *       it ({@code resume}, and {@code suspend} from nnsight's requests);
 *   <li>and, at class load only, the compiler in {@code nnsight-instrument}, for {@code methodKey} and for the
 *       class file, whose hash is part of the key of its cache of compiled classes.
 * </ul>
 *
 * <p>Pitfalls:
 *
 * <ul>
 *   <li>The names and descriptors of {@code StateMachine}'s public members are written into the application's
 *       class files: renaming one, or changing a signature, is a change of the compiler too ({@code
 *       MethodRewrite}, {@code StateMachineCompiler}). The compiler's cache of compiled classes follows (its
 *       key hashes this class's file), so no earlier result calls a member that has changed.
 *   <li>It lives in core, not in the agent: compiled code must link against it whenever nnsight is on the
 *       class path, and core drives it; the agent is optional and shaded. The package depends on no internal
 *       type in its signatures, so that it can be exported on its own.
 *   <li>Its state is per thread (the state machine running, the one offered to a compiled callee) and the
 *       protocol is a strict hand-off: exactly one side runs at a time, so nothing is locked.
 *   <li>Its frames are the engine's: they are hidden from the stack traces users see, and an error under one
 *       is a body's error ({@code StackTraces}). The agent's compiler never compiles this package ({@code
 *       LibraryCode} names it).
 * </ul>
 */
package io.nnsight.spi.statemachine;
