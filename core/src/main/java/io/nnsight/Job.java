package io.nnsight;

import java.util.Locale;
import java.util.Objects;

/**
 * One run of a model that a {@link Backend} carries out: a trace, a generation or a session, with its
 * input, options and body. {@link NNsight#execute(Job)} runs it in this JVM.
 *
 * @param <R> the type of its result
 */
public final class Job<R> {
    /** What a job runs. */
    public enum Kind {
        /** {@link NNsight#trace(Object, TraceBody)}: the input may be {@code null} for a trace of invokes. */
        TRACE,
        /** A language model's generation: the options are its {@code Generation}. */
        GENERATE,
        /** {@link NNsight#session(SessionBody)}: no input; the body is a {@link SessionBody}. */
        SESSION
    }

    private final NNsight model;
    private final Kind kind;
    private final Object input;
    private final Object options;
    private final Object body;

    private Job(NNsight model, Kind kind, Object input, Object options, Object body) {
        this.model = Objects.requireNonNull(model, "model");
        this.kind = Objects.requireNonNull(kind, "kind");
        this.input = input;
        this.options = options;
        this.body = Objects.requireNonNull(body, "body");
    }

    /** A trace of {@code model} on {@code input} (or, when {@code null}, on its invokes' inputs). */
    public static <R> Job<R> trace(NNsight model, Object input, TraceBody<R> body) {
        return new Job<>(model, Kind.TRACE, input, null, body);
    }

    /** A generation of {@code model}: {@code options} says how ({@code io.nnsight.lm.Generation}). */
    public static <R> Job<R> generate(NNsight model, Object input, Object options, TraceBody<R> body) {
        return new Job<>(model, Kind.GENERATE, input, Objects.requireNonNull(options, "options"), body);
    }

    /** A session of {@code model}. */
    public static <R> Job<R> session(NNsight model, SessionBody<R> body) {
        return new Job<>(model, Kind.SESSION, null, null, body);
    }

    /** The model it runs. */
    public NNsight model() {
        return model;
    }

    /** What it runs. */
    public Kind kind() {
        return kind;
    }

    /** The input, or {@code null}. */
    public Object input() {
        return input;
    }

    /** The options of a generation, else {@code null}. */
    public Object options() {
        return options;
    }

    /** The body: a {@link TraceBody}, or a {@link SessionBody} for a session. */
    public Object body() {
        return body;
    }

    /** The same job on another model: how a server binds a job to the model it hosts. */
    public Job<R> on(NNsight other) {
        return new Job<>(other, kind, input, options, body);
    }

    @Override
    public String toString() {
        return kind.name().toLowerCase(Locale.ROOT) + " of " + model.key()
                + (input == null ? "" : " on " + input.getClass().getSimpleName());
    }
}
