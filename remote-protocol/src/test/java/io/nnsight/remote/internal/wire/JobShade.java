package io.nnsight.remote.internal.wire;

/**
 * An enum, one of whose constants has a body (a class of its own), that {@code ValueGraphsTest} loads afresh in each
 * job's class loader: a top-level type, so that its copy needs no nest host from the test's loader.
 */
enum JobShade {
    LIGHT, DARK {
        @Override
        String code() {
            return "d";
        }
    };

    String code() {
        return name().substring(0, 1).toLowerCase();
    }
}
