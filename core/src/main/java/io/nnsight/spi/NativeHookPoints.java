package io.nnsight.spi;

import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;
import org.bytedeco.pytorch.Module;

/**
 * Hook points of native libtorch modules ({@code LinearImpl}, {@code EmbeddingImpl}, ...), whose C++ calls
 * no Java code wraps. The nnsight agent routes the calls that instrumented Java code makes to such modules
 * ({@code fc1.forward(x)}) through their hook point here, which makes them traceable.
 *
 * <p>Without the agent nothing calls these hook points, so {@code NNsight.wrap} treats native modules as
 * untraceable; {@link #enableCallSites()} (called by the agent) says that calls are routed.
 */
public final class NativeHookPoints {
    private static final Map<Module, HookPoint> POINTS = Collections.synchronizedMap(new WeakHashMap<>());
    private static volatile boolean callSites;

    private NativeHookPoints() {}

    /** The hook point of {@code module}, made on first use and kept as long as the module object lives. */
    public static HookPoint of(Module module) {
        return POINTS.computeIfAbsent(module, m -> new HookPoint());
    }

    /** The hook point of {@code module} if one was made, else {@code null}; what instrumented call sites ask. */
    public static HookPoint peek(Object module) {
        return POINTS.isEmpty() ? null : POINTS.get(module);
    }

    /** Records that the agent routes calls of native modules through their hook points. */
    public static void enableCallSites() {
        callSites = true;
    }

    /** Whether calls of native modules reach their hook points (the agent is installed). */
    public static boolean callSitesEnabled() {
        return callSites;
    }
}
