/**
 * Records the class files of the application's own classes, so that intervention code (a trace's lambda and
 * the helper classes it uses) can be shipped by value to a model server that has never seen it.
 *
 * <p>{@link io.nnsight.instrument.capture.ClassCapture} is a {@link java.lang.instrument.ClassFileTransformer}
 * that the agent registers first: it sees each class file as its class loader read it, before any other
 * transform, and puts a copy in core's {@link io.nnsight.spi.CapturedClasses}, where the remote client's
 * shipping code looks it up. It never changes a class (it returns {@code null}). Nothing calls it at run time
 * but the JVM, once per class load.
 *
 * <p>"The application's" means: not the JDK's, not a library's (by package: Bytedeco, ByteBuddy, SLF4J,
 * JUnit, Gson, DJL, picocli, JFreeChart, JMH...), and not from a jar other than the main one of {@code java
 * -jar}; classes from a directory (an IDE's or Maven's output) and classes defined in memory ({@code jshell}
 * snippets, {@code java Foo.java} programs) are the application's.
 *
 * <p>Pitfalls:
 *
 * <ul>
 *   <li>Its list of library packages is its own, not the state-machine compiler's {@code LibraryCode}: one
 *       says what can be shipped, the other what can be compiled.
 *   <li>A redefined or retransformed class is not recorded again: the bytes kept are those first loaded.
 *   <li>Classes of an {@link io.nnsight.spi.AgentExempt} class loader (the server's sandbox, which defines
 *       shipped classes) and of the boot and platform loaders are never recorded.
 * </ul>
 */
package io.nnsight.instrument.capture;
