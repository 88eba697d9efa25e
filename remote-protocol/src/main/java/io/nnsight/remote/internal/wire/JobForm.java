package io.nnsight.remote.internal.wire;

import io.nnsight.Job;
import io.nnsight.NNsight;
import io.nnsight.SessionBody;
import io.nnsight.SessionJob;
import io.nnsight.Tensors;
import io.nnsight.TraceBody;
import io.nnsight.TraceJob;
import io.nnsight.lm.GenerateJob;
import io.nnsight.lm.Generation;
import io.nnsight.lm.LanguageModel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A job as it travels: the envelope's kind, and the input, options, body, edits and aliases that the request's value
 * graph holds ({@code [input, options, body, edits, renames]}, after the static fields' values). The client makes
 * one {@linkplain #of(Job) of a job}; the server makes the job again {@linkplain #on(NNsight) on the model it hosts},
 * edited as the client's, and runs it with the client's aliases ({@code spi.ClientAliases}).
 *
 * @param kind {@code TRACE}, {@code GENERATE} or {@code SESSION}
 * @param input the job's input, or {@code null}
 * @param options a generation's {@link Generation}, else {@code null}
 * @param body a {@link TraceBody}, or a {@link SessionBody} for a session
 * @param edits the edits of the job's model ({@code model.edit(...)}), in order; empty for a model without edits
 * @param renames the aliases of the job's model ({@link NNsight#renames()}: each path with its aliases), its
 *     standard names among them
 */
public record JobForm(String kind, Object input, Object options, Object body, List<TraceBody<?>> edits,
        Map<String, List<String>> renames) {
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
        List<TraceBody<?>> edits = new ArrayList<>(job.model().edits());
        Map<String, List<String>> renames = new LinkedHashMap<>();
        job.model().renames().forEach((path, aliases) -> renames.put(path, new ArrayList<>(aliases)));
        if (job instanceof TraceJob<?> trace) {
            return new JobForm(TRACE, trace.input(), null, trace.body(), edits, renames);
        }
        if (job instanceof GenerateJob<?> generate) {
            return new JobForm(GENERATE, generate.input(), generate.generation(), generate.body(), edits, renames);
        }
        if (job instanceof SessionJob<?> session) {
            return new JobForm(SESSION, null, null, session.body(), edits, renames);
        }
        throw new IllegalArgumentException("a " + job.getClass().getName() + " cannot run on a model server: only "
                + "traces, generations and sessions travel");
    }

    /**
     * The form a request's values {@code [input, options, body, edits, renames]} hold.
     *
     * @throws IllegalArgumentException when the edits are not a list of {@link TraceBody}s, or the aliases not a map
     *     of paths to lists of aliases
     */
    public static JobForm read(String kind, Object[] graph) {
        List<TraceBody<?>> edits = new ArrayList<>();
        if (!(graph[3] instanceof List<?> list)) {
            throw new IllegalArgumentException("the request's edits are " + Tensors.describe(graph[3]) + ", not a list");
        }
        for (Object edit : list) {
            if (!(edit instanceof TraceBody<?> body)) {
                throw new IllegalArgumentException("an edit in the request is " + Tensors.describe(edit)
                        + ", not a TraceBody");
            }
            edits.add(body);
        }
        return new JobForm(kind, graph[0], graph[1], graph[2], edits, renames(graph[4]));
    }

    private static Map<String, List<String>> renames(Object value) {
        String expected = "a map of module paths to lists of aliases";
        if (!(value instanceof Map<?, ?> map)) {
            throw new IllegalArgumentException("the request's aliases are " + Tensors.describe(value) + ", not " + expected);
        }
        Map<String, List<String>> renames = new LinkedHashMap<>();
        for (Map.Entry<?, ?> entry : map.entrySet()) {
            if (!(entry.getKey() instanceof String path) || !(entry.getValue() instanceof List<?> list)) {
                throw new IllegalArgumentException("the request's aliases hold " + Tensors.describe(entry.getKey())
                        + " -> " + Tensors.describe(entry.getValue()) + ", not " + expected);
            }
            List<String> aliases = new ArrayList<>();
            for (Object alias : list) {
                if (!(alias instanceof String name)) {
                    throw new IllegalArgumentException("the request's aliases of " + path + " hold "
                            + Tensors.describe(alias) + ", not a name");
                }
                aliases.add(name);
            }
            renames.put(path, List.copyOf(aliases));
        }
        return renames;
    }

    /**
     * The job again, on {@code model} with the edits applied (to a copy of it, which the job alone uses).
     *
     * @throws IllegalArgumentException when the form does not make a job: an unknown kind, a body or options
     *     of the wrong type, or a generation of a model that is not a language model
     */
    public Job<?> on(NNsight hosted) {
        NNsight model = hosted;
        for (TraceBody<?> edit : edits) {
            model = model.edit(edit);
        }
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
