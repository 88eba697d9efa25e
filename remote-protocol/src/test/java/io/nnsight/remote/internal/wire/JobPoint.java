package io.nnsight.remote.internal.wire;

/**
 * A record that {@code ValueGraphsTest} loads afresh in each job's class loader: a top-level type, so that its copy
 * needs no nest host from the test's loader.
 */
record JobPoint(int x, int y) {}
