package io.nnsight.remote.internal.wire;

/**
 * The refusal of a job that uses a wrapper with edits ({@code model.edit(...)}): edits do not travel to a model
 * server. It passes through Kryo's wrapping unchanged, so the user sees this message rather than Kryo's.
 */
public final class EditsDoNotTravel extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    private EditsDoNotTravel(String message) {
        super(message);
    }

    /** The refusal for a job on a wrapper of the model {@code key} that has edits. */
    public static EditsDoNotTravel of(String key) {
        return new EditsDoNotTravel("this job uses a wrapper of " + key + " with edits (model.edit(...)), and edits "
                + "do not travel to a model server: run the edited wrapper locally, or drop the edits (clearEdits(), or "
                + "the wrapper it was copied from) and apply the intervention in the trace body, or in an invoke without "
                + "input, tr.invoke(() -> ...), at its start");
    }
}
