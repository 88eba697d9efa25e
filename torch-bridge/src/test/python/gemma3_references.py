"""The transformers references of Gemma3Test, printed as the test's literals.

Run with transformers 5.18 and torch 2.13 (CPU) from the repository's root:
    python3 torch-bridge/src/test/python/gemma3_references.py
It derives a Gemma 3 text model (`gemma3_text`) from ../shared/fixtures/gemma2-tiny as the test does: the config of
Gemma 3 (no soft-capping, rotary parameters per layer type: linear scaling by 2 over a base of 100,000 in the full
layers, the default rotation over 10,000 in the sliding ones) and the fixture's weights with query and key norms
added (`q_norm`, `k_norm`: weight j of layer i is 0.1 * (j % 5 - 2) + 0.05 * i). It loads it with transformers in
float32 and prints, for two prompts longer than the sliding window, the rotary cosines and sines of each layer type
at the last position, the last position's logits (first 8, sum, L2) and ten greedy tokens.
Then the same model as an image-text checkpoint (`gemma3`, as the 4B to 27B ones): its config as the Hub's give it
(`text_config` beside a tiny `vision_config`), its weights under transformers 4's names (`language_model.model.*`)
with two of a vision tower's and projector's, and the logits and tokens of text alone, which must equal the above.
"""
import json, os, torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, AutoModelForImageTextToText
from fixture_variants import rounded, summary, variant

SHORT_PROMPT = "Once upon a time, there was a girl"
LONG_PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play"


def gemma3_config(config):
    config["model_type"] = "gemma3_text"
    config["architectures"] = ["Gemma3ForCausalLM"]
    config["attn_logit_softcapping"] = None
    config["final_logit_softcapping"] = None
    config["rope_parameters"] = {
        "full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 100000.0},
        "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}


def query_key_norms(weights, config):
    for layer in range(config["num_hidden_layers"]):
        norm = torch.tensor([0.1 * (j % 5 - 2) + 0.05 * layer for j in range(config["head_dim"])], dtype=torch.float32)
        weights[f"model.layers.{layer}.self_attn.q_norm.weight"] = norm.clone()
        weights[f"model.layers.{layer}.self_attn.k_norm.weight"] = (-norm).clone()


def image_text_config(config):
    text = dict(config)
    for key in ("architectures", "transformers_version", "dtype", "use_cache", "rope_parameters", "layer_types"):
        text.pop(key, None)
    text.update(model_type="gemma3_text", attn_logit_softcapping=None, final_logit_softcapping=None,
                rope_theta=100000.0, rope_local_base_freq=10000.0, rope_scaling={"rope_type": "linear", "factor": 2.0},
                sliding_window_pattern=2)
    config.clear()
    config.update(model_type="gemma3", architectures=["Gemma3ForConditionalGeneration"], dtype="float32",
                  text_config=text, mm_tokens_per_image=4, image_token_index=511,
                  vision_config={"model_type": "siglip_vision_model", "hidden_size": 16, "intermediate_size": 32,
                                 "num_hidden_layers": 1, "num_attention_heads": 2, "image_size": 28, "patch_size": 14})


def image_text_weights(weights, config):
    query_key_norms(weights, config["text_config"])
    for name in list(weights):
        weights["language_model." + name] = weights.pop(name)
    weights["vision_tower.vision_model.embeddings.patch_embedding.weight"] = torch.full((16, 3, 14, 14), 0.01)
    weights["multi_modal_projector.mm_input_projection_weight"] = torch.full((16, 32), 0.02)


def run(image_text=False):
    if image_text:
        folder = variant("gemma2-tiny", image_text_config, image_text_weights)
        model = AutoModelForImageTextToText.from_pretrained(folder, dtype=torch.float32).eval()
        text_model = model.model.language_model
    else:
        folder = variant("gemma2-tiny", gemma3_config, query_key_norms)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
        text_model = model.model
    assert type(model).__name__ == ("Gemma3ForConditionalGeneration" if image_text else "Gemma3ForCausalLM"), type(model)
    tokenizer = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))  # as the Java side reads it
    out = {}
    for name, prompt in (("short", SHORT_PROMPT), ("long", LONG_PROMPT)):
        ids = torch.tensor([tokenizer.encode(prompt).ids])
        with torch.no_grad():
            logits = model(ids).logits[0, -1]
            positions = torch.arange(ids.shape[1]).unsqueeze(0)
            embedded = text_model.embed_tokens(ids)
            rotary = {kind: text_model.rotary_emb(embedded, positions, kind)
                      for kind in ("full_attention", "sliding_attention")}
            tokens = model.generate(ids, max_new_tokens=10, do_sample=False)[0, ids.shape[1]:]
        out[name] = {"tokens": ids.shape[1], "logits": summary(logits),
                     "full cos": rounded(rotary["full_attention"][0][0, -1, :8]),
                     "full sin": rounded(rotary["full_attention"][1][0, -1, :8]),
                     "sliding cos": rounded(rotary["sliding_attention"][0][0, -1, :8]),
                     "sliding sin": rounded(rotary["sliding_attention"][1][0, -1, :8]),
                     "greedy10": tokens.tolist()}
    return out


if __name__ == "__main__":
    text, image_text = run(), run(image_text=True)
    for name, values in text.items():
        print(name, json.dumps(values))
    assert image_text == text, (image_text, text)
    print("the image-text checkpoint gives the same numbers")
