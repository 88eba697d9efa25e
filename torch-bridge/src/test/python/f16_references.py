"""The transformers references of DTypeTest's float16 runs, printed as its literals.

Run with transformers 5.18 and torch 2.13 (CPU) from the repository's root:
    python3 torch-bridge/src/test/python/f16_references.py
Loads three fixtures of ../shared in float16 (the type a float16 checkpoint loads in) and prints, for the fixtures'
21-token prompt, the last position's logits (first 8, sum, L2) and ten greedy tokens.
"""
import json, os, torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM
from fixture_variants import SHARED, summary

PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play"

if __name__ == "__main__":
    for fixture in ("qwen2-tiny", "gemma2-tiny", "pythia-tiny"):
        folder = os.path.join(SHARED, fixture)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float16).eval()
        ids = torch.tensor([Tokenizer.from_file(os.path.join(folder, "tokenizer.json")).encode(PROMPT).ids])
        with torch.no_grad():
            logits = model(ids).logits[0, -1].float()
            tokens = model.generate(ids, max_new_tokens=10, do_sample=False)[0, ids.shape[1]:]
        print(fixture, json.dumps(dict(summary(logits), greedy10=tokens.tolist())))
