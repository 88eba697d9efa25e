/**
 * The nnsight agent's bytecode work: {@link io.nnsight.instrument.Instrumenter#install} registers the
 * transforms that change classes as they load. The agent ({@code nnsight-agent.jar}) loads {@code
 * Instrumenter} by name and calls it once, so that class keeps its name and package; everything else lives in
 * one subpackage per concern:
 *
 * <ul>
 *   <li>{@link io.nnsight.instrument.capture}: records the class files of application classes, unchanged, so
 *       intervention code can be shipped by value to a model server.
 *   <li>{@link io.nnsight.instrument.transform}: what plain Bytedeco modules, once rewritten, call at run
 *       time: their hook point, their children, their {@code forward} and their calls of native modules.
 *   <li>{@link io.nnsight.instrument.source}: the operations inside module code ({@code envoy.source()}): the
 *       map made from each class file as loaded, and the call sites that route those calls to a trace.
 *   <li>{@link io.nnsight.instrument.statemachine}: the compiler that rewrites intervention bodies into
 *       resumable methods for the state-machine engine.
 * </ul>
 *
 * <p>The arrows run from here to the four, and from {@code source} to {@code transform}; none back.
 *
 * <p>Pitfalls, common to every transform here:
 *
 * <ul>
 *   <li>Order matters: capture and the source map are registered first, so they see a class file as it was
 *       read; the state-machine compiler and ByteBuddy's rewrites come after.
 *   <li>A transform runs while the JVM loads a class, inside whatever code triggered the load. It must not
 *       load the application's classes itself (a class loaded from inside a transform skips the agent's
 *       transforms): read class files instead, as {@code ClassHierarchy} does. It must not throw into the
 *       application either: a class it cannot handle loads unchanged, with one debug line.
 *   <li>The transforms that change classes leave alone the JDK, Bytedeco, ByteBuddy, the agent's own classes
 *       ({@code io.nnsight.instrument} and below, by prefix) and the classes of an {@link
 *       io.nnsight.spi.AgentExempt} class loader (the model server's sandbox).
 *   <li>In {@code nnsight-agent.jar} these classes are shaded with ByteBuddy and ASM, relocated to {@code
 *       io.nnsight.shaded}; {@code nnsight-core} comes from the application's class path, and the agent jar is
 *       appended to the system class path. The classes that rewritten code calls ({@code transform}, the call
 *       sites of {@code source}) are therefore called from other packages and class loaders: they must be
 *       public, and their names and signatures are written into the application's rewritten classes.
 *   <li>A new package here goes into {@code META-INF/nnsight/packages/nnsight-instrument}, the list of
 *       nnsight's own packages that the state-machine compiler reads.
 * </ul>
 */
package io.nnsight.instrument;
