package io.nnsight.internal;

import java.util.ArrayList;
import java.util.List;

/**
 * Which cohorts the forward pass running now serves in a continuous run ({@link ContinuousRun}), each on its rows,
 * and how often each cohort saw each module called: a cohort counts only the calls of the passes it is present in,
 * so its requests name its own iterations. The cohorts absent from a pass are not served and count nothing.
 */
final class PassLayout {
    /** The modules and operations each cohort counts the calls of. */
    private final int indices;
    /** The cohorts of the pass running now, in row order; none between passes. */
    private List<Cohort> present = new ArrayList<>();

    /** A layout of no cohort yet, counting the calls of {@code indices} modules and operations. */
    PassLayout(int indices) {
        this.indices = indices;
    }

    /** {@code cohort} joins the run: it counts module calls from 0. */
    void admit(Cohort cohort) {
        cohort.inputCalls = new int[indices];
        cohort.outputCalls = new int[indices];
    }

    /**
     * The pass that starts now serves {@code cohorts}, their rows in this order ({@code rows} each): each cohort's
     * invokes move to its rows. An empty list between passes.
     *
     * @return the pass's rows
     */
    int lay(List<Cohort> cohorts, List<Integer> rows) {
        present = new ArrayList<>(cohorts);
        int next = 0;
        for (int i = 0; i < cohorts.size(); i++) {
            Cohort cohort = cohorts.get(i);
            cohort.rows = new RowRange(next, rows.get(i));
            for (Mediator mediator : cohort.mediators) {
                mediator.moveTo(cohort.rows);
            }
            next += rows.get(i);
        }
        return next;
    }

    /** The cohorts the pass running now serves, in row order. */
    List<Cohort> present() {
        return present;
    }

    /** Module or operation {@code index} was called: each present cohort counts the call. */
    void called(int index) {
        for (Cohort cohort : present) {
            cohort.inputCalls[index]++;
        }
    }

    /** The call of module {@code index} returned: each present cohort counts the return of its latest call. */
    void returned(int index) {
        for (Cohort cohort : present) {
            cohort.outputCalls[index] = Math.max(cohort.outputCalls[index], cohort.inputCalls[index]);
        }
    }

    /** The caches of the present cohorts still running: only they record this pass's calls. */
    List<CacheRecording> caches() {
        List<CacheRecording> recording = List.of(); // a list only when one records: this runs at every module call
        for (Cohort cohort : present) {
            if (!cohort.ended && !cohort.caches.isEmpty()) {
                if (recording.isEmpty()) {
                    recording = new ArrayList<>();
                }
                recording.addAll(cohort.caches);
            }
        }
        return recording;
    }
}
