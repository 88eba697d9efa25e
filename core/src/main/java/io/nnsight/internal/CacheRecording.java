package io.nnsight.internal;

import io.nnsight.Cache;
import io.nnsight.Inputs;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One cache being recorded ({@code tr.cache(...)}): for one invoke, which modules, inputs or outputs, and the
 * calls recorded so far, by path. The {@link Interleaver} hands it every call of the modules it records; values
 * are copied (detached, cloned) and narrowed to the invoke's rows.
 */
final class CacheRecording {
    /** The invoke it records for: its rows, which a continuous run moves between forward passes. */
    private final Mediator invoke;
    private final boolean[] modules;
    private final boolean inputs;
    private final boolean outputs;
    private final String[] paths;
    private final Inputs[] pendingInputs;
    private final Map<String, List<Cache.Call>> calls = new LinkedHashMap<>();

    /**
     * @param invoke the invoke whose rows it records
     * @param modules which module indices to record; {@code null} for every module
     * @param paths the path of each module, by index
     */
    CacheRecording(Mediator invoke, boolean[] modules, boolean inputs, boolean outputs, String[] paths, int moduleCount) {
        this.invoke = invoke;
        this.modules = modules;
        this.inputs = inputs;
        this.outputs = outputs;
        this.paths = paths;
        this.pendingInputs = new Inputs[moduleCount];
        if (modules != null) {
            for (int module = 0; module < modules.length; module++) {
                if (modules[module]) {
                    calls.put(paths[module], new ArrayList<>());
                }
            }
        }
    }

    /** The calls recorded so far, by path: the live map a {@link Cache} shows. */
    Map<String, List<Cache.Call>> calls() {
        return calls;
    }

    private boolean records(int module) {
        return modules == null || modules[module];
    }

    /** A call of {@code module} starts with {@code arguments} (after the bodies' replacements). */
    void started(int module, Inputs arguments, int batchSize) {
        if (inputs && records(module)) {
            pendingInputs[module] = (Inputs) copy(arguments, batchSize);
        }
    }

    /** The call of {@code module} ended with {@code output} (after the bodies' replacements). */
    void ended(int module, Object output, int batchSize) {
        if (!records(module)) {
            return;
        }
        Inputs arguments = pendingInputs[module];
        pendingInputs[module] = null;
        calls.computeIfAbsent(paths[module], path -> new ArrayList<>())
                .add(new Cache.Call(arguments, outputs ? copy(output, batchSize) : null));
    }

    private Object copy(Object value, int batchSize) {
        return ValueTrees.mapTensors(InvokeRows.narrow(value, invoke.group(), batchSize), tensor -> tensor.detach().clone());
    }
}
