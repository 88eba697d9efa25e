package io.nnsight.lm.families;

import io.nnsight.lm.ModulePaths;
import io.nnsight.lm.decoder.DecoderSpec;

/**
 * Gemma 3's image-text checkpoints ({@code gemma3}: 4B, 12B and 27B, pretrained and instruction-tuned, and the
 * models of Gemma Scope 2 trained on them), their language model for text: {@link Gemma3}'s, read from {@code
 * text_config} (with transformers' defaults for the sizes it leaves out), at transformers 5's paths ({@code
 * model.language_model.layers.N}, {@code lm_head} tied to {@code model.language_model.embed_tokens}). The vision
 * tower and the projector are not built and their weights are skipped, so an image cannot go in; the checkpoints
 * of the Hub, saved by transformers 4 ({@code language_model.model.*}, {@code language_model.lm_head.*}), load
 * under transformers 5's names, as transformers loads them.
 */
public final class Gemma3ImageText extends Family {
    private static final String LANGUAGE_MODEL = "model.language_model";
    private static final String OLD_LANGUAGE_MODEL = "language_model.model.";
    private static final String OLD_HEAD = "language_model.lm_head.";

    /** The family, as {@link Families} knows it. */
    public Gemma3ImageText() {
        super("gemma3", new ModulePaths(LANGUAGE_MODEL + ".embed_tokens", LANGUAGE_MODEL + ".layers", "self_attn", "mlp",
                LANGUAGE_MODEL + ".norm", "lm_head"));
    }

    @Override
    public DecoderSpec decoder(HfConfig config) {
        return Gemma3.decoder(paths(), config.section("text_config").withDefaults(Gemma3.TEXT_DEFAULTS));
    }

    @Override
    public String parameterName(String name) {
        if (name.startsWith(OLD_LANGUAGE_MODEL)) {
            return LANGUAGE_MODEL + "." + name.substring(OLD_LANGUAGE_MODEL.length());
        }
        return name.startsWith(OLD_HEAD) ? "lm_head." + name.substring(OLD_HEAD.length()) : name;
    }

    @Override
    public boolean ignores(String name) {
        String unprefixed = name.startsWith("model.") ? name.substring("model.".length()) : name;
        return super.ignores(name) || unprefixed.startsWith("vision_tower.")
                || unprefixed.startsWith("multi_modal_projector.");
    }
}
