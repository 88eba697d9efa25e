/**
 * The state-machine compiler: rewrites intervention bodies (the lambdas of traces, invokes, edits and {@code
 * tr.iter} loops) and the application methods they call into resumable methods, so that the state-machine
 * engine runs them on the model's thread with no thread and no JDK continuation. The agent installs it with
 * {@code -Dnnsight.engine=statemachine}, and by default on JDK 17 to 20, which have no continuations.
 *
 * <p>One class load, in order:
 *
 * <ol>
 *   <li>{@link io.nnsight.instrument.statemachine.StateMachineCompiler} (the transform) skips library code
 *       ({@code LibraryCode}: the JDK, Bytedeco, the agent and core's machinery by name, nnsight's other
 *       classes by the package lists each module ships in {@code META-INF/nnsight/packages/}, and any class
 *       whose class file never names {@code io/nnsight/}), then takes an earlier result from {@code
 *       CompiledClassCache} if the class file and those it depends on are unchanged.
 *   <li>{@code CallGraph} reads the class's methods and, through the class loader's resources, the
 *       application methods they call with one possible target, in any class; it settles which may suspend
 *       and which of those can be compiled, and says why not for the others.
 *   <li>{@code MethodRewrite} checks each compiled method at its suspension points (ASM's analyzer, with
 *       {@code HierarchyVerifier} for the types), rewrites it, and verifies the result; a rewrite that does
 *       not verify is dropped and the graph settled again without that method.
 *   <li>{@code FrameWriter} writes the class with new stack map frames; the result, or the refusal, goes to
 *       the cache.
 * </ol>
 *
 * <p>Nothing here runs after class load: compiled code calls only core's {@link
 * io.nnsight.spi.statemachine.StateMachine}, the runtime half, whose methods and fields the rewrite names
 * ({@code Type.getInternalName(StateMachine.class)}). The compiler itself calls {@code StateMachine.methodKey}
 * to name the callee of an offer, the same number the callee computes when its own class loads.
 *
 * <p>Pitfalls:
 *
 * <ul>
 *   <li>Never load a class from inside the transform: a class loaded there skips the agent's transforms.
 *       Superclasses and interfaces come from class files ({@code ClassHierarchy}), falling back to the loaded
 *       class only when there is no class file (a {@code jshell} snippet).
 *   <li>A caller's class predicts from the callee's class file whether the callee will be compiled when its
 *       own class loads. The two must agree, so a decision may depend only on the methods a method reaches,
 *       never on the order classes load in.
 *   <li>The cache's key includes the class files of the compiler ({@code CompiledClassCache}'s list of its
 *       classes, and {@code StateMachine}): a new class of the compiler goes into that list, or a change to
 *       it would leave stale results on disk.
 *   <li>The shape of compiled code is fixed by two sides: a change to what the rewrite emits is a change to
 *       {@code StateMachine} too, and the other way round.
 *   <li>With {@code -Dnnsight.debug=true} every class is compiled again (the cache is not read) and each
 *       decision is logged.
 * </ul>
 */
package io.nnsight.instrument.statemachine;
