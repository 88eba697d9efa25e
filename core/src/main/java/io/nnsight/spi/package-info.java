/**
 * What the parts of nnsight built on the core implement and call, and what extensions would: not the API of
 * a user's trace.
 *
 * <ul>
 *   <li>{@link io.nnsight.spi.Traceable}, {@link io.nnsight.spi.HookPoint}, {@link io.nnsight.spi.ModuleHook}: how
 *       a module's calls become visible to traces (the bridge's {@code HookedModule} owns a hook point).
 *       {@link io.nnsight.spi.NativeHookPoints}, {@link io.nnsight.spi.SourceMap} and {@link
 *       io.nnsight.spi.CapturedClasses}: what the nnsight agent adds for plain libtorch modules, the calls
 *       inside {@code forward} and the application's class files.
 *   <li>{@link io.nnsight.spi.ModelRunner}: how a wrapper runs its model in a trace (a language model's
 *       generation runs it once per step).
 *   <li>{@link io.nnsight.spi.CloseMatches}: the suggestions of error messages about names that do not exist.
 *   <li>{@link io.nnsight.spi.AgentExempt}: classes the agent must leave as they are.
 *   <li>{@link io.nnsight.spi.TraceBatch}: several traces of one model in one forward pass, each as if alone (a
 *       model server's co-batching), with a {@link io.nnsight.spi.BodyContext} per trace, in force whenever its
 *       code runs; {@link io.nnsight.spi.BatchSensitive} marks the modules a trace of such a batch may not wait for.
 *   <li>{@link io.nnsight.spi.ContinuousBatch}: traces that step (generations) joining and leaving one running batch
 *       at step boundaries, each as if alone, its outcome reported as soon as it ends; the model's stepping loop is
 *       its {@link io.nnsight.spi.ContinuousBatch.Runner}.
 * </ul>
 */
package io.nnsight.spi;
