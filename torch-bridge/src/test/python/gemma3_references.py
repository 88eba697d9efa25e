"""The transformers references of Gemma3Test, printed as the test's literals.

Run with transformers 5.18 and torch 2.13 (CPU) from the repository's root:
    python3 torch-bridge/src/test/python/gemma3_references.py
It derives a Gemma 3 text model (`gemma3_text`) from ../shared/fixtures/gemma2-tiny as the test does: the config of
Gemma 3 (no soft-capping, rotary parameters per layer type: linear scaling by 2 over a base of 100,000 in the full
layers, the default rotation over 10,000 in the sliding ones) and the fixture's weights with query and key norms
added (`q_norm`, `k_norm`: weight j of layer i is 0.1 * (j % 5 - 2) + 0.05 * i). It loads it with transformers in
float32 and prints, for two prompts longer than the sliding window, the rotary cosines and sines of each layer type
at the last position, the last position's logits (first 8, sum, L2) and ten greedy tokens.
"""
import json, os, shutil, tempfile, torch
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM

SHARED = os.path.join(os.path.dirname(__file__), "../../../../../shared/fixtures")
SHORT_PROMPT = "Once upon a time, there was a girl"
LONG_PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play"


def variant():
    folder = tempfile.mkdtemp()
    source = os.path.join(SHARED, "gemma2-tiny")
    for name in os.listdir(source):
        shutil.copy(os.path.join(source, name), folder)
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    config["model_type"] = "gemma3_text"
    config["architectures"] = ["Gemma3ForCausalLM"]
    config["attn_logit_softcapping"] = None
    config["final_logit_softcapping"] = None
    config["rope_parameters"] = {
        "full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 100000.0},
        "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    weights = load_file(os.path.join(folder, "model.safetensors"))
    head_dim = config["head_dim"]
    for layer in range(config["num_hidden_layers"]):
        norm = torch.tensor([0.1 * (j % 5 - 2) + 0.05 * layer for j in range(head_dim)], dtype=torch.float32)
        weights[f"model.layers.{layer}.self_attn.q_norm.weight"] = norm.clone()
        weights[f"model.layers.{layer}.self_attn.k_norm.weight"] = (-norm).clone()
    save_file(weights, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    return folder


def summary(logits):
    return {"first8": [round(float(v), 7) for v in logits[:8]], "sum": round(float(logits.sum()), 6),
            "l2": round(float(logits.norm()), 6)}


def run():
    folder = variant()
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    assert type(model).__name__ == "Gemma3ForCausalLM", type(model)
    tokenizer = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))  # as the Java side reads it
    out = {}
    for name, prompt in (("short", SHORT_PROMPT), ("long", LONG_PROMPT)):
        ids = torch.tensor([tokenizer.encode(prompt).ids])
        with torch.no_grad():
            logits = model(ids).logits[0, -1]
            positions = torch.arange(ids.shape[1]).unsqueeze(0)
            embedded = model.model.embed_tokens(ids)
            rotary = {kind: model.model.rotary_emb(embedded, positions, kind)
                      for kind in ("full_attention", "sliding_attention")}
            tokens = model.generate(ids, max_new_tokens=10, do_sample=False)[0, ids.shape[1]:]
        out[name] = {"tokens": ids.shape[1], "logits": summary(logits),
                     "full cos": [round(float(v), 7) for v in rotary["full_attention"][0][0, -1, :8]],
                     "full sin": [round(float(v), 7) for v in rotary["full_attention"][1][0, -1, :8]],
                     "sliding cos": [round(float(v), 7) for v in rotary["sliding_attention"][0][0, -1, :8]],
                     "sliding sin": [round(float(v), 7) for v in rotary["sliding_attention"][1][0, -1, :8]],
                     "greedy10": tokens.tolist()}
    return out


for name, values in run().items():
    print(name, json.dumps(values))
