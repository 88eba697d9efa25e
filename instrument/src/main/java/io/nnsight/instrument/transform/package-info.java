/**
 * The run-time half of the agent's transforms of plain Bytedeco modules: the classes that the application's
 * rewritten classes call, on the model's hot path, inside and outside traces.
 *
 * <ul>
 *   <li>{@link io.nnsight.instrument.transform.TraceableSupport}: what makes a plain subclass of Bytedeco's
 *       {@code Module} {@link io.nnsight.spi.Traceable}. The agent adds a field {@value
 *       io.nnsight.instrument.transform.TraceableSupport#FIELD} that its constructor fills with a new {@link
 *       io.nnsight.spi.HookPoint} (advice inlined at the end of every constructor), and delegates {@code
 *       namedChildren()} here, which matches libtorch's children to the Java objects in the module's fields.
 *   <li>{@link io.nnsight.instrument.transform.ForwardInterceptor}: every {@code forward} the module class
 *       declares is delegated here; it runs the original code (kept by ByteBuddy in a private copy) through
 *       the module's hook point when a hook is there, straight otherwise.
 *   <li>{@link io.nnsight.instrument.transform.NativeCallSites}: the bootstrap of the {@code invokedynamic}
 *       sites that replace calls of a native module's {@code forward} ({@code fc1.forward(x)} on a {@code
 *       LinearImpl}) in module classes; each site runs the call through that module's hook point in {@link
 *       io.nnsight.spi.NativeHookPoints}.
 * </ul>
 *
 * <p>Who calls them: the code ByteBuddy writes into the application's module classes (a delegation per
 * {@code forward}, per {@code namedChildren}), and the JVM, which calls a bootstrap once per call site when
 * the site first runs; after that the site's target runs with no bootstrap in between. The {@code source}
 * package's operation sites use {@code NativeCallSites.target} for an operation that is also a call of a
 * native module.
 *
 * <p>Pitfalls:
 *
 * <ul>
 *   <li>Every call of a traceable module passes here, traced or not: the path without hooks must stay one
 *       check ({@code hookCount() == 0}) and the original call.
 *   <li>Names and signatures are an ABI: they are written into the application's classes as they load, and
 *       the classes must be public (the callers live in other packages and class loaders).
 *   <li>An error of the module's own code must come out as it was thrown, not wrapped: the original is
 *       called through a method handle and what it throws is rethrown ({@code ForwardInterceptor} rethrows
 *       checked exceptions too, undeclared; a native {@code forward} throws none).
 *   <li>{@code super.forward(x)} in an overriding {@code forward} is the same call of the module: {@code
 *       ForwardInterceptor} keeps a per-thread guard so that the hook sees it once.
 * </ul>
 */
package io.nnsight.instrument.transform;
