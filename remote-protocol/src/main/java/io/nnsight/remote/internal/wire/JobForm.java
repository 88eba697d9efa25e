package io.nnsight.remote.internal.wire;

import io.nnsight.Job;
import io.nnsight.NNsight;
import io.nnsight.SessionBody;
import io.nnsight.SessionJob;
import io.nnsight.TraceBody;
import io.nnsight.TraceJob;
import io.nnsight.lm.GenerateJob;
import io.nnsight.lm.Generation;
import io.nnsight.lm.LanguageModel;

/**
 * A job as it travels: the envelope's kind, and the input, options and body that the request's value graph
 * holds ({@code [input, options, body, statics]}). The client makes one {@linkplain #of(Job) of a job}; the
 * server makes the job again {@linkplain #on(NNsight) on the model it hosts}.
 *
 * @param kind {@code TRACE}, {@code GENERATE} or {@code SESSION}
 * @param input the job's input, or {@code null}
 * @param options a generation's {@link Generation}, else {@code null}
 * @param body a {@link TraceBody}, or a {@link SessionBody} for a session
 */
public record JobForm(String kind, Object input, Object options, Object body) {
    private static final String TRACE = "TRACE";
    private static final String GENERATE = "GENERATE";
    private static final String SESSION = "SESSION";

    /** Whether {@code kind} is a kind of job, to refuse a request before anything of it runs. */
    public static boolean isKind(String kind) {
        return kind.equals(TRACE) || kind.equals(GENERATE) || kind.equals(SESSION);
    }

    /**
     * The form of {@code job}.
     *
     * @throws IllegalArgumentException for a kind of job that does not travel (one of a backend's own)
     */
    public static JobForm of(Job<?> job) {
        if (job instanceof TraceJob<?> trace) {
            return new JobForm(TRACE, trace.input(), null, trace.body());
        }
        if (job instanceof GenerateJob<?> generate) {
            return new JobForm(GENERATE, generate.input(), generate.generation(), generate.body());
        }
        if (job instanceof SessionJob<?> session) {
            return new JobForm(SESSION, null, null, session.body());
        }
        throw new IllegalArgumentException("a " + job.getClass().getName() + " cannot run on a model server: only "
                + "traces, generations and sessions travel");
    }

    /**
     * The job again, on {@code model}.
     *
     * @throws IllegalArgumentException when the form does not make a job: an unknown kind, a body or options
     *     of the wrong type, or a generation of a model that is not a language model
     */
    public Job<?> on(NNsight model) {
        switch (kind) {
            case TRACE:
                if (body instanceof TraceBody<?> trace) {
                    return new TraceJob<>(model, input, trace);
                }
                break;
            case SESSION:
                if (body instanceof SessionBody<?> session) {
                    return new SessionJob<>(model, session);
                }
                break;
            case GENERATE:
                if (!(model instanceof LanguageModel)) {
                    throw new IllegalArgumentException(model.key() + " cannot run a GENERATE job; a generation needs a "
                            + "language model");
                }
                if (body instanceof TraceBody<?> trace && options instanceof Generation generation) {
                    return new GenerateJob<>((LanguageModel) model, input, generation, trace);
                }
                break;
            default:
                throw new IllegalArgumentException("unknown kind of job: " + kind);
        }
        throw new IllegalArgumentException("the request's body is a " + (body == null ? "null" : body.getClass().getName())
                + ", which cannot run a " + kind + " job");
    }
}
