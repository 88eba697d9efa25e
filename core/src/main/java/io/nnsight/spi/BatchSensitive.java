package io.nnsight.spi;

/**
 * A marker for a traceable module whose computation changes for every row of the batch once some body waits
 * for it (it takes a slower, explicit path to expose a value: attention probabilities). A trace sharing its
 * forward pass with others ({@link TraceBatch}) that waits for such a module is evicted at that request,
 * before the module runs, and the others compute what they compute alone.
 */
public interface BatchSensitive {}
