/**
 * The allow-list of remote execution (internal): which classes and members shipped code may name, and
 * therefore which classes a job's values and results may hold. Both sides obey it: the sandbox checks shipped
 * class files against it, and a deserializer on either side resolves class names through a {@link
 * io.nnsight.remote.internal.allowlist.ValueClassLoader}, which refuses every other class, so a forged graph
 * (from a stranger on a server, or from a server on a client) cannot make it instantiate anything else.
 *
 * <ul>
 *   <li>{@code StandardPolicy}: the table itself, one ordered list of rules, read top to bottom.
 *   <li>{@link io.nnsight.remote.internal.allowlist.Policy}: evaluates the table for one class or member.
 *   <li>{@link io.nnsight.remote.internal.allowlist.Reason}: why something is refused, in words for the user.
 *   <li>{@link io.nnsight.remote.internal.allowlist.ServerClasses}: the server's classes as one class loader
 *       sees them, looked at without running their initializers.
 * </ul>
 *
 * <p>{@code docs/security.md} explains what the list keeps out and why.
 */
package io.nnsight.remote.internal.allowlist;
