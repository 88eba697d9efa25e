package io.nnsight.spi;

/**
 * A class loader whose classes the nnsight agent leaves exactly as they are defined: it neither records
 * their class files nor rewrites them.
 *
 * <p>The class loader of a job shipped to a model server implements it: its classes were checked before
 * they were defined, and must run as checked. A rewrite would also make them call the agent's own classes,
 * which such a loader does not hand out.
 */
public interface AgentExempt {}
