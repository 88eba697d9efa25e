/**
 * The operations inside module code, which a trace reads and changes through {@code envoy.source()}: every
 * call that a module class's {@code forward} makes, and the methods and lambdas of the class it reaches,
 * becomes an operation named by the method it calls and its occurrence ({@code linear_0}, {@code relu_0},
 * {@code forward_1}).
 *
 * <p>Two steps, both at class load:
 *
 * <ol>
 *   <li>{@link io.nnsight.instrument.source.SourceScanner}, registered right after class capture, reads each
 *       class that declares an instance {@code forward} (the application's, and nnsight's own modules) before
 *       any transform changes it. {@code SourcePlan} numbers its eligible calls in class-file order, registers
 *       them in core's {@link io.nnsight.spi.SourceMap} (which {@code envoy.source()} reads) and keeps, per
 *       class loader, the plan of which call of which method is which site.
 *   <li>When ByteBuddy rewrites an application module class, {@link
 *       io.nnsight.instrument.source.CallSiteRewriter} follows that plan: each planned call becomes an {@code
 *       invokedynamic} site of {@link io.nnsight.instrument.source.SourceCallSites}, and each other call of a
 *       native module's {@code forward} a site of {@code transform}'s {@code NativeCallSites}.
 * </ol>
 *
 * <p>At run time the application's module code calls the sites of {@code SourceCallSites} on every call it
 * makes, traced or not. A site is a guard: while no trace runs anywhere ({@code Interleaver.anyActive()}) the
 * original call runs and nothing else; while one does, the call is counted as an operation of the module
 * running now on this thread, and goes through the trace's interleaver when a body waits for it. The JVM calls
 * the bootstrap once per site.
 *
 * <p>Pitfalls:
 *
 * <ul>
 *   <li>The scan and the rewrite must agree on which calls are sites: both ask {@code SourcePlan.eligible}
 *       (no constructors, {@code super} calls, hook plumbing, or calls into nnsight other than its modules),
 *       and count them in the order of the class file.
 *   <li>The rewrite sees the class as ByteBuddy writes it: a rebased {@code forward}'s code is in a private
 *       copy named {@code forward$original$...}, which the plan maps back to {@code forward}.
 *   <li>Each site leaves the stack as the call did, so no frame is recomputed; a method reference to a native
 *       module's {@code forward} ({@code fc::forward}) becomes a reference to a synthetic static method that
 *       makes the call through a site.
 *   <li>An operation's inputs are the call's arguments, after the receiver of an instance call, except when
 *       the receiver is a module ({@code fc.forward(x)}: the input is {@code x}).
 * </ul>
 */
package io.nnsight.instrument.source;
