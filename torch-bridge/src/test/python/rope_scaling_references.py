"""The transformers references of RopeScalingTest (yarn and longrope rotary scaling), printed as the test's literals.

Run with transformers 5.18 and torch 2.13 (CPU) from the repository's root:
    python3 torch-bridge/src/test/python/rope_scaling_references.py
It derives yarn and longrope variants of two fixtures of ../shared (their config changed as the test changes it),
loads them with transformers in float32, and prints the inverse frequencies, the attention factors, the last
position's logits (first 8, sum, L2) and greedy tokens that the Java test compares with.
"""
import json, os, torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, LlamaConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
from fixture_variants import rounded, summary, variant

YARN = {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 64}
LONGROPE = {"rope_type": "longrope", "rope_theta": 10000.0, "partial_rotary_factor": 1.0,
            "short_factor": [1.0, 1.1, 1.3, 1.7], "long_factor": [1.0, 2.0, 4.0, 8.0],
            "original_max_position_embeddings": 16}
SHORT_PROMPT = "Once upon a time, there was a girl"
LONG_PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play"


def frequencies(rope, max_positions, seq_len=None):
    config = LlamaConfig(hidden_size=32, num_attention_heads=4, head_dim=8, max_position_embeddings=max_positions,
                         rope_parameters=rope)
    inv, attention = ROPE_INIT_FUNCTIONS[rope["rope_type"]](config, "cpu", seq_len=seq_len)
    return [float(v) for v in inv], attention


def variant_of(fixture, rope, max_positions):
    def change(config):
        config["rope_parameters"] = rope
        config["max_position_embeddings"] = max_positions
        if "original_max_position_embeddings" in config:  # Phi-3 keeps it at the top level too, which wins
            config["original_max_position_embeddings"] = rope["original_max_position_embeddings"]
    return variant(fixture, change)


def run(fixture, rope, max_positions):
    folder = variant_of(fixture, rope, max_positions)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    tokenizer = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))  # as the Java side reads it
    out = {}
    for name, prompt in (("short", SHORT_PROMPT), ("long", LONG_PROMPT)):
        ids = torch.tensor([tokenizer.encode(prompt).ids])
        with torch.no_grad():
            logits = model(ids).logits[0, -1]
            positions = torch.arange(ids.shape[1]).unsqueeze(0)
            cos, sin = model.model.rotary_emb(model.model.embed_tokens(ids), positions)
            tokens = model.generate(ids, max_new_tokens=10, do_sample=False)[0]
        # A Phi-3 generation that crosses original_max_position_embeddings is not compared: transformers' Phi-3
        # drops its cache there to recompute it with the long factors, and its generate then runs the next step on
        # the last token alone; the Java side keeps the cached keys, as transformers' other longrope models do.
        crosses = rope["rope_type"] == "longrope" and ids.shape[1] <= rope["original_max_position_embeddings"]
        out[name] = {"tokens": ids.shape[1], "logits": summary(logits),
                     "cos": rounded(cos[0, -1]), "sin": rounded(sin[0, -1]),
                     "greedy10": None if crosses else tokens.tolist()}
    return out


print("yarn", frequencies(YARN, 256))
print("yarn mscale", frequencies(dict(YARN, mscale=0.707, mscale_all_dim=1.0, beta_fast=16, beta_slow=2,
                                      truncate=False), 256))
print("longrope short", frequencies(LONGROPE, 64))
print("longrope long", frequencies(LONGROPE, 64, seq_len=17))
print("qwen2-tiny yarn", json.dumps(run("qwen2-tiny", YARN, 256)))
print("phi3-tiny longrope", json.dumps(run("phi3-tiny", LONGROPE, 64)))
