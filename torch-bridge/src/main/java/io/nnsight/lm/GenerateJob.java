package io.nnsight.lm;

import io.nnsight.Job;
import io.nnsight.TraceBody;
import java.util.Objects;

/**
 * A generation as a {@link Job}: {@code model.generate(input, generation, body)}, or {@code
 * model.generate(generation, body)} when the input is {@code null} (the body's invokes give the prompts).
 *
 * @param model the language model, running here
 * @param input prompts or token ids, or {@code null} for a generation of invokes
 * @param generation how to generate
 * @param body the intervention
 * @param <R> the type of its result
 */
public record GenerateJob<R>(LanguageModel model, Object input, Generation generation, TraceBody<R> body)
        implements Job<R> {
    /** Checks that the generation has a model, a generation and a body. */
    public GenerateJob {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(generation, "generation");
        Objects.requireNonNull(body, "body");
    }

    @Override
    public R run() {
        return input == null ? model.generate(generation, body) : model.generate(input, generation, body);
    }
}
