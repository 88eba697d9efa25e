package io.nnsight.bench;

import io.nnsight.BodyEngine;

/** Picks the engine of a benchmark's JVM before its first trace, and checks that it got it. */
final class Engines {
    private Engines() {}

    static void use(String engine) {
        System.setProperty("nnsight.engine", engine);
        String actual = BodyEngine.configured().property();
        if (!actual.equals(engine)) {
            throw new IllegalStateException("asked for the " + engine + " engine, got " + actual
                    + " (continuations need JDK 21+ and --add-exports java.base/jdk.internal.vm=ALL-UNNAMED)");
        }
    }
}
