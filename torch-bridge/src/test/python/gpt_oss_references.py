"""The transformers references of GptOssTest, printed as its literals.

Run with transformers 5.18 and torch 2.13 (CPU) from the repository's root:
    python3 torch-bridge/src/test/python/gpt_oss_references.py
It derives, as the test does, a GPT-OSS (`gpt_oss`) from ../shared/fixtures/mistral-tiny (3 layers, 4 heads of 8
features, 2 key-value heads): its MLPs replaced by 4 experts of 24 features, 2 per token, as the Hub's dequantized
checkpoints store them (`mlp.router.weight` and `bias`, `mlp.experts.gate_up_proj` [experts, hidden, 2 x 24], gate
and up features interleaved, with `gate_up_proj_bias`, `down_proj` [experts, 24, hidden] with `down_proj_bias`);
biases on the query, key, value and output projections; per-head attention sinks (`self_attn.sinks`); layers 0 and 2
sliding (window 5), layer 1 full; YaRN rope (factor 4 over 64 positions, beta_fast 32, beta_slow 1, not truncated).
The values are `weight(layer, kind, expert, row, column)` and `vector(layer, kind, j)` below; the gate and up
projections are scaled by 40 so that the experts' clamps (at 7) take effect.
It loads it with transformers in float32 and prints, for two prompts, the last position's logits (first 8, sum, L2),
layer 1's output there (first 8), layer 0's router logits there and the experts it picks, how many of layer 0's
gate and up values the clamps change, and ten greedy tokens.

Then it derives the same model with experts of 32 features stored in MXFP4, as OpenAI's checkpoints store them
(`quantization_config` `mxfp4`; `gate_up_proj_blocks` and `_scales`, `down_proj_blocks` and `_scales`, their bytes
`nibbles(...)` and `scales(...)` below), loads it with transformers (which dequantizes it to bfloat16 on a CPU) and
prints, for layer 0, the first 4 values of expert 1's gate_up_proj rows 0 to 2 and down_proj row 0, and the sum of
the absolute values of each (exact: every value is a 4-bit value times a power of two).
"""
import json, os, torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM
from fixture_variants import rounded, summary, variant

SHORT_PROMPT = "Once upon a time, there was a girl"
LONG_PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play"
EXPERTS = 4
WIDTH = 24
GATE_UP_SCALE = 40


def weight(layer, kind, expert, rows, columns):
    """A deterministic matrix: ((7r + 13c + 17e + 19l + 23k) % 29 - 14) / 140, exactly as the Java test makes it."""
    return torch.tensor([[((7 * r + 13 * c + 17 * expert + 19 * layer + 23 * kind) % 29 - 14) / 140
                          for c in range(columns)] for r in range(rows)], dtype=torch.float32)


def vector(layer, kind, size):
    """A deterministic vector: ((3j + 5l + 7k) % 11 - 5) / 50, exactly as the Java test makes it."""
    return torch.tensor([((3 * j + 5 * layer + 7 * kind) % 11 - 5) / 50 for j in range(size)], dtype=torch.float32)


def gpt_oss_config(config):
    del config["sliding_window"]
    config.update(model_type="gpt_oss", architectures=["GptOssForCausalLM"], num_local_experts=EXPERTS,
                  num_experts_per_tok=2, intermediate_size=WIDTH, sliding_window=5, attention_bias=True,
                  layer_types=["sliding_attention", "full_attention", "sliding_attention"],
                  rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "beta_fast": 32.0,
                                   "beta_slow": 1.0, "truncate": False, "original_max_position_embeddings": 64})


def gpt_oss_weights(weights, config):
    hidden, heads, kv_heads, head_dim = (config["hidden_size"], config["num_attention_heads"],
                                         config["num_key_value_heads"], config["head_dim"])
    for layer in range(config["num_hidden_layers"]):
        prefix = f"model.layers.{layer}."
        for name in ("gate_proj", "up_proj", "down_proj"):
            del weights[prefix + f"mlp.{name}.weight"]
        for kind, name, size in ((8, "q_proj", heads * head_dim), (9, "k_proj", kv_heads * head_dim),
                                 (10, "v_proj", kv_heads * head_dim), (11, "o_proj", hidden)):
            weights[prefix + f"self_attn.{name}.bias"] = vector(layer, kind, size)
        weights[prefix + "self_attn.sinks"] = vector(layer, 12, heads) * 25
        weights[prefix + "mlp.router.weight"] = weight(layer, 0, 0, EXPERTS, hidden)
        weights[prefix + "mlp.router.bias"] = vector(layer, 13, EXPERTS)
        weights[prefix + "mlp.experts.gate_up_proj"] = torch.stack(
            [weight(layer, 1, e, hidden, 2 * WIDTH) * GATE_UP_SCALE for e in range(EXPERTS)])
        weights[prefix + "mlp.experts.gate_up_proj_bias"] = torch.stack(
            [vector(layer, 14 + e, 2 * WIDTH) for e in range(EXPERTS)])
        weights[prefix + "mlp.experts.down_proj"] = torch.stack([weight(layer, 2, e, WIDTH, hidden) for e in range(EXPERTS)])
        weights[prefix + "mlp.experts.down_proj_bias"] = torch.stack(
            [vector(layer, 18 + e, hidden) for e in range(EXPERTS)])


def run():
    folder = variant("mistral-tiny", gpt_oss_config, gpt_oss_weights)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    assert type(model).__name__ == "GptOssForCausalLM", type(model)
    tokenizer = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))  # as the Java side reads it
    out = {}
    for name, prompt in (("short", SHORT_PROMPT), ("long", LONG_PROMPT)):
        ids = torch.tensor([tokenizer.encode(prompt).ids])
        routed, clamped = {}, []
        hook = model.model.layers[0].mlp.router.register_forward_hook(
            lambda module, args, output: routed.update(logits=output[0], indices=output[2]))
        experts = model.model.layers[0].mlp.experts
        original = experts._apply_gate

        def counting(gate_up):
            gate, up = gate_up[..., ::2], gate_up[..., 1::2]
            clamped.append(int((gate > 7).sum() + (up.abs() > 7).sum()))
            return original(gate_up)
        experts._apply_gate = counting
        with torch.no_grad():
            result = model(ids, output_hidden_states=True)
        experts._apply_gate = original
        hook.remove()
        with torch.no_grad():
            tokens = model.generate(ids, max_new_tokens=10, do_sample=False)[0, ids.shape[1]:]
        out[name] = dict(summary(result.logits[0, -1]), tokens=ids.shape[1],
                         layer1=rounded(result.hidden_states[2][0, -1, :8]),
                         router=rounded(routed["logits"][-1]), experts=routed["indices"][-1].tolist(),
                         clamped=sum(clamped), greedy10=tokens.tolist())
    return out


MXFP4_WIDTH = 32


def nibbles(layer, kind, expert, rows, groups):
    """Blocks [rows, groups, 16] of bytes, each two 4-bit codes: low (5r + 3g + 7b + 11e + 13l + 17k) % 16, high
    (7r + 5b + 3e + 2l + k) % 16, exactly as the Java test makes them."""
    return torch.tensor([[[((5 * r + 3 * g + 7 * b + 11 * expert + 13 * layer + 17 * kind) % 16)
                           | (((7 * r + 5 * b + 3 * expert + 2 * layer + kind) % 16) << 4)
                           for b in range(16)] for g in range(groups)] for r in range(rows)], dtype=torch.uint8)


def scales(layer, kind, expert, rows, groups):
    """Scales [rows, groups]: 124 + (r + 2g + e + l + k) % 3, that is 2^-3 to 2^-1."""
    return torch.tensor([[124 + (r + 2 * g + expert + layer + kind) % 3 for g in range(groups)] for r in range(rows)],
                        dtype=torch.uint8)


def mxfp4_config(config):
    gpt_oss_config(config)
    config["intermediate_size"] = MXFP4_WIDTH
    config["quantization_config"] = {"quant_method": "mxfp4", "modules_to_not_convert": [
        "model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"]}


def mxfp4_weights(weights, config):
    global WIDTH
    width, WIDTH = WIDTH, MXFP4_WIDTH
    try:
        gpt_oss_weights(weights, config)
    finally:
        WIDTH = width
    hidden = config["hidden_size"]
    for layer in range(config["num_hidden_layers"]):
        prefix = f"model.layers.{layer}.mlp.experts."
        del weights[prefix + "gate_up_proj"], weights[prefix + "down_proj"]
        for name, kind, rows, columns in (("gate_up_proj", 1, 2 * MXFP4_WIDTH, hidden), ("down_proj", 2, hidden,
                                                                                             MXFP4_WIDTH)):
            weights[prefix + name + "_blocks"] = torch.stack(
                [nibbles(layer, kind, e, rows, columns // 32) for e in range(EXPERTS)])
            weights[prefix + name + "_scales"] = torch.stack(
                [scales(layer, kind, e, rows, columns // 32) for e in range(EXPERTS)])


def mxfp4():
    folder = variant("mistral-tiny", mxfp4_config, mxfp4_weights)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    experts = model.model.layers[0].mlp.experts
    gate_up, down = experts.gate_up_proj.detach().float(), experts.down_proj.detach().float()
    return dict(gate_up=[rounded(gate_up[1, r, :4]) for r in range(3)], down=rounded(down[1, 0, :4]),
                gate_up_abs=float(gate_up.abs().sum()), down_abs=float(down.abs().sum()),
                shapes=[list(gate_up.shape), list(down.shape)])


if __name__ == "__main__":
    for name, numbers in run().items():
        print("gpt_oss", name, json.dumps(numbers))
    print("gpt_oss mxfp4", json.dumps(mxfp4()))
