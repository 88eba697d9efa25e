package io.nnsight.internal;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A meeting point of several invokes: no participant continues past it until all have arrived. Reusable:
 * once released, the next arrivals start a new round.
 */
public final class BarrierState {
    private final int participants;
    private final List<Mediator> arrived = new ArrayList<>();

    /** A barrier for {@code participants} invokes. */
    public BarrierState(int participants) {
        if (participants < 1) {
            throw new IllegalArgumentException("a barrier needs at least 1 participant, got " + participants);
        }
        this.participants = participants;
    }

    int participants() {
        return participants;
    }

    int arrivedCount() {
        return arrived.size();
    }

    /** Records an arrival; returns the participants to release, in invoke order, once all have arrived. */
    List<Mediator> arrive(Mediator mediator) {
        arrived.add(mediator);
        if (arrived.size() < participants) {
            return List.of();
        }
        List<Mediator> released = new ArrayList<>(arrived);
        released.sort(Comparator.comparingInt(Mediator::order));
        arrived.clear();
        return released;
    }
}
