package io.nnsight.remote.sandbox;

import io.nnsight.remote.internal.sandbox.Deadline;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The deadlines of a batch's members, so that each is charged for its own code only: the time one job's code
 * runs (its preparation, its bodies, its encoding) moves every other member's deadline that much later. A
 * forward pass is charged to its members; the time its model runs moves the other members' deadlines later.
 */
final class Peers {
    private final List<Deadline.Limit> limits = new ArrayList<>();
    /** The time charged by {@link #ran} so far, all jobs together. */
    private long charged;

    synchronized void add(Deadline.Limit limit) {
        limits.add(limit);
    }

    /** {@code limit}'s job left the batch: its clock matters no more. */
    synchronized void remove(Deadline.Limit limit) {
        limits.remove(limit);
    }

    /** {@code own}'s job ({@code null}: no member's) ran code for {@code nanos}. */
    synchronized void ran(Deadline.Limit own, long nanos) {
        charged += nanos;
        for (Deadline.Limit limit : limits) {
            if (limit != own) {
                limit.extend(nanos);
            }
        }
    }

    /** A mark for {@link #ranForward}: the time charged so far. */
    synchronized long mark() {
        return charged;
    }

    /**
     * A forward pass of the members whose deadlines are {@code own} took {@code nanos}, since {@code mark}: the
     * part of it their code did not run (that part was charged by {@link #ran}) moves every other member's
     * deadline later.
     */
    synchronized void ranForward(Set<Deadline.Limit> own, long mark, long nanos) {
        long model = nanos - (charged - mark);
        for (Deadline.Limit limit : limits) {
            if (!own.contains(limit)) {
                limit.extend(model);
            }
        }
    }
}
