"""The transformers references of OlmoTest (OLMo 2 and OLMo 3), printed as its literals.

Run with transformers 5.18 and torch 2.13 (CPU) from the repository's root:
    python3 torch-bridge/src/test/python/olmo_references.py
It derives an OLMo 2 model (`olmo2`) from ../shared/fixtures/mistral-tiny as the test does: OLMo 2's config and the
fixture's weights without the norms before the blocks (`input_layernorm`), its `post_attention_layernorm` now after
the attention, and added: `post_feedforward_layernorm` (weight j of layer i: 1 + 0.1 * (j % 7 - 3) - 0.02 * i) and
the query and key norms over whole projections (`q_norm`: 1 + 0.05 * (j % 5 - 2) + 0.03 * i over 32 features,
`k_norm`: 1 - 0.04 * (j % 3 - 1) + 0.02 * i over 16). It loads it with transformers in float32 and prints, for two
prompts, the last position's logits (first 8, sum, L2), layer 1's output there (first 8) and ten greedy tokens.
Then the same for OLMo 3 (`olmo3`): the same weights, with layers sliding, full, sliding over the fixture's window of 5
tokens, and rotary embeddings per layer type (linear scaling by 2 in the full layer, the default in the others).
"""
import json, os, torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM
from fixture_variants import rounded, summary, variant

SHORT_PROMPT = "Once upon a time, there was a girl"
LONG_PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play"


def vector(size, formula):
    return torch.tensor([formula(j) for j in range(size)], dtype=torch.float32)


def olmo2_config(config):
    config["model_type"] = "olmo2"
    config["architectures"] = ["Olmo2ForCausalLM"]
    del config["sliding_window"]


def olmo3_config(config):
    olmo2_config(config)
    config["model_type"] = "olmo3"
    config["architectures"] = ["Olmo3ForCausalLM"]
    config["sliding_window"] = 5
    config["layer_types"] = ["sliding_attention", "full_attention", "sliding_attention"]
    config["rope_parameters"] = {
        "full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0},
        "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}


def olmo2_weights(weights, config):
    heads, kv_heads, head_dim = config["num_attention_heads"], config["num_key_value_heads"], config["head_dim"]
    for i in range(config["num_hidden_layers"]):
        del weights[f"model.layers.{i}.input_layernorm.weight"]
        weights[f"model.layers.{i}.post_feedforward_layernorm.weight"] = vector(
            config["hidden_size"], lambda j: 1 + 0.1 * (j % 7 - 3) - 0.02 * i)
        weights[f"model.layers.{i}.self_attn.q_norm.weight"] = vector(
            heads * head_dim, lambda j: 1 + 0.05 * (j % 5 - 2) + 0.03 * i)
        weights[f"model.layers.{i}.self_attn.k_norm.weight"] = vector(
            kv_heads * head_dim, lambda j: 1 - 0.04 * (j % 3 - 1) + 0.02 * i)


def run(change_config, architecture):
    folder = variant("mistral-tiny", change_config, olmo2_weights)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    assert type(model).__name__ == architecture, type(model)
    tokenizer = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))  # as the Java side reads it
    out = {}
    for name, prompt in (("short", SHORT_PROMPT), ("long", LONG_PROMPT)):
        ids = torch.tensor([tokenizer.encode(prompt).ids])
        with torch.no_grad():
            result = model(ids, output_hidden_states=True)
            logits = result.logits[0, -1]
            layer1 = result.hidden_states[2][0, -1]  # hidden_states[0] is the embedding
            tokens = model.generate(ids, max_new_tokens=10, do_sample=False)[0, ids.shape[1]:]
        out[name] = dict(summary(logits), tokens=ids.shape[1], layer1=rounded(layer1[:8]), greedy10=tokens.tolist())
    return out


if __name__ == "__main__":
    for family, change_config, architecture in (("olmo2", olmo2_config, "Olmo2ForCausalLM"),
                                                ("olmo3", olmo3_config, "Olmo3ForCausalLM")):
        for name, values in run(change_config, architecture).items():
            print(family, name, json.dumps(values))
