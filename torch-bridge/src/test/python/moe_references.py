"""The transformers references of MixtureOfExpertsTest, printed as its literals.

Run with transformers 5.18 and torch 2.13 (CPU) from the repository's root:
    python3 torch-bridge/src/test/python/moe_references.py
It derives, as the test does, three mixtures of experts with 4 experts, 2 per token, every router and expert value
`weight(layer, kind, expert, row, column)` below:
- Mixtral (`mixtral`) from ../shared/fixtures/mistral-tiny, its experts stored as the Hub's checkpoints store them
  (`block_sparse_moe.experts.E.w1`, `w2`, `w3`, which transformers stacks into `mlp.experts.gate_up_proj` and
  `down_proj`);
- Qwen 3 MoE (`qwen3_moe`) from ../shared/fixtures/qwen3-tiny: 4 experts of 24 features (`moe_intermediate_size`),
  2 per token, renormalised (`norm_topk_prob`), in layers 0 and 2, layer 1 keeping its dense MLP (`mlp_only_layers`);
- Qwen 2 MoE (`qwen2_moe`) from ../shared/fixtures/mistral-tiny (qwen2-tiny's checkpoint is sharded): 4 experts
  of 24 features, 2 per token, not renormalised, and a shared expert of 40 features (`shared_expert`, gated by
  `shared_expert_gate`, values of kinds 4 to 7), in layers 0 and 2, layer 1 keeping its dense MLP; biases on the
  query, key and value projections (`qkv_bias`, ((3j + 5l + 7k) % 11 - 5) / 50, kinds 8 to 10);
- OLMoE (`olmoe`) from ../shared/fixtures/mistral-tiny: 4 experts of 72 features, 2 per token, not renormalised,
  query and key norms over whole projections, and queries, keys and values clipped to [-0.3, 0.3] (`clip_qkv`).
The Qwen and OLMoE experts are stored as the Hub's checkpoints store them (`mlp.experts.E.gate_proj`, `up_proj`,
`down_proj`). It loads each with transformers in float32 and prints, for two prompts, the last position's logits
(first 8, sum, L2), layer 1's output there (first 8), layer 0's router logits there and the experts it picks, and ten
greedy tokens; and, for Mixtral, the gradient of a logit difference w.r.t. layer 0's output.
"""
import json, os, torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM
from fixture_variants import rounded, summary, variant

SHORT_PROMPT = "Once upon a time, there was a girl"
LONG_PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play"
EXPERTS = 4


def weight(layer, kind, expert, rows, columns):
    """A deterministic matrix: ((7r + 13c + 17e + 19l + 23k) % 29 - 14) / 140, exactly as the Java test makes it."""
    return torch.tensor([[((7 * r + 13 * c + 17 * expert + 19 * layer + 23 * kind) % 29 - 14) / 140
                          for c in range(columns)] for r in range(rows)], dtype=torch.float32)


def mixtral_config(config):
    config["model_type"] = "mixtral"
    config["architectures"] = ["MixtralForCausalLM"]
    config["num_local_experts"] = EXPERTS
    config["num_experts_per_tok"] = 2


def mixtral_weights(weights, config):
    hidden, intermediate = config["hidden_size"], config["intermediate_size"]
    for layer in range(config["num_hidden_layers"]):
        prefix = f"model.layers.{layer}."
        for name in ("gate_proj", "up_proj", "down_proj"):
            del weights[prefix + f"mlp.{name}.weight"]
        weights[prefix + "block_sparse_moe.gate.weight"] = weight(layer, 0, 0, EXPERTS, hidden)
        for expert in range(EXPERTS):
            experts = prefix + f"block_sparse_moe.experts.{expert}."
            weights[experts + "w1.weight"] = weight(layer, 1, expert, intermediate, hidden)
            weights[experts + "w2.weight"] = weight(layer, 2, expert, hidden, intermediate)
            weights[experts + "w3.weight"] = weight(layer, 3, expert, intermediate, hidden)


def qwen3_moe_config(config):
    config.update(model_type="qwen3_moe", architectures=["Qwen3MoeForCausalLM"], num_experts=EXPERTS,
                  num_experts_per_tok=2, norm_topk_prob=True, moe_intermediate_size=24, decoder_sparse_step=1,
                  mlp_only_layers=[1])


def qwen2_moe_config(config):
    del config["sliding_window"]
    config.update(model_type="qwen2_moe", architectures=["Qwen2MoeForCausalLM"], num_experts=EXPERTS,
                  num_experts_per_tok=2, norm_topk_prob=False, moe_intermediate_size=24,
                  shared_expert_intermediate_size=40, decoder_sparse_step=1, mlp_only_layers=[1], qkv_bias=True)


def shared_experts(layers, width):
    def change(weights, config):
        hidden = config["hidden_size"]
        for layer in layers:
            prefix = f"model.layers.{layer}.mlp."
            weights[prefix + "shared_expert.gate_proj.weight"] = weight(layer, 4, 0, width, hidden)
            weights[prefix + "shared_expert.up_proj.weight"] = weight(layer, 5, 0, width, hidden)
            weights[prefix + "shared_expert.down_proj.weight"] = weight(layer, 6, 0, hidden, width)
            weights[prefix + "shared_expert_gate.weight"] = weight(layer, 7, 0, 1, hidden)
        heads, kv_heads, head_dim = config["num_attention_heads"], config["num_key_value_heads"], config["head_dim"]
        for layer in range(config["num_hidden_layers"]):  # qkv_bias: the biases mistral-tiny lacks
            for kind, name, size in ((8, "q_proj", heads * head_dim), (9, "k_proj", kv_heads * head_dim),
                                     (10, "v_proj", kv_heads * head_dim)):
                weights[f"model.layers.{layer}.self_attn.{name}.bias"] = torch.tensor(
                    [((3 * j + 5 * layer + 7 * kind) % 11 - 5) / 50 for j in range(size)], dtype=torch.float32)
    return change


def olmoe_config(config):
    del config["sliding_window"]
    config.update(model_type="olmoe", architectures=["OlmoeForCausalLM"], num_experts=EXPERTS, num_experts_per_tok=2,
                  norm_topk_prob=False, clip_qkv=0.3)


def experts(layers, width, extra=None):
    def change(weights, config):
        hidden = config["hidden_size"]
        for layer in layers:
            prefix = f"model.layers.{layer}.mlp."
            for name in ("gate_proj", "up_proj", "down_proj"):
                del weights[prefix + name + ".weight"]
            weights[prefix + "gate.weight"] = weight(layer, 0, 0, EXPERTS, hidden)
            for expert in range(EXPERTS):
                weights[prefix + f"experts.{expert}.gate_proj.weight"] = weight(layer, 1, expert, width, hidden)
                weights[prefix + f"experts.{expert}.down_proj.weight"] = weight(layer, 2, expert, hidden, width)
                weights[prefix + f"experts.{expert}.up_proj.weight"] = weight(layer, 3, expert, width, hidden)
        if extra is not None:
            extra(weights, config)
    return change


def projection_norms(weights, config):
    heads, kv_heads, head_dim = config["num_attention_heads"], config["num_key_value_heads"], config["head_dim"]
    for i in range(config["num_hidden_layers"]):
        weights[f"model.layers.{i}.self_attn.q_norm.weight"] = torch.tensor(
            [1 + 0.05 * (j % 5 - 2) + 0.03 * i for j in range(heads * head_dim)], dtype=torch.float32)
        weights[f"model.layers.{i}.self_attn.k_norm.weight"] = torch.tensor(
            [1 - 0.04 * (j % 3 - 1) + 0.02 * i for j in range(kv_heads * head_dim)], dtype=torch.float32)


def run(fixture, change_config, change_weights, architecture):
    folder = variant(fixture, change_config, change_weights)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    assert type(model).__name__ == architecture, type(model)
    tokenizer = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))  # as the Java side reads it
    out = {}
    for name, prompt in (("short", SHORT_PROMPT), ("long", LONG_PROMPT)):
        ids = torch.tensor([tokenizer.encode(prompt).ids])
        routed = {}
        hook = model.model.layers[0].mlp.gate.register_forward_hook(
            lambda module, args, output: routed.update(logits=output[0], indices=output[2]))
        with torch.no_grad():
            result = model(ids, output_hidden_states=True)
        hook.remove()
        with torch.no_grad():
            tokens = model.generate(ids, max_new_tokens=10, do_sample=False)[0, ids.shape[1]:]
        out[name] = dict(summary(result.logits[0, -1]), tokens=ids.shape[1],
                         layer1=rounded(result.hidden_states[2][0, -1, :8]),
                         router=rounded(routed["logits"][-1]), experts=routed["indices"][-1].tolist(),
                         greedy10=tokens.tolist())
    return out


def mixtral_gradient():
    """The gradient of logit 5 less logit 7 at the last position of the short prompt w.r.t. layer 0's output there."""
    folder = variant("mistral-tiny", mixtral_config, mixtral_weights)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    tokenizer = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    ids = torch.tensor([tokenizer.encode(SHORT_PROMPT).ids])
    result = model(ids, output_hidden_states=True)
    layer0 = result.hidden_states[1]
    layer0.retain_grad()
    (result.logits[0, -1, 5] - result.logits[0, -1, 7]).backward()
    return rounded(layer0.grad[0, -1, :8])


if __name__ == "__main__":
    print("mixtral gradient", json.dumps(mixtral_gradient()))
    for family, values in (
            ("mixtral", run("mistral-tiny", mixtral_config, mixtral_weights, "MixtralForCausalLM")),
            ("qwen3_moe", run("qwen3-tiny", qwen3_moe_config, experts((0, 2), 24), "Qwen3MoeForCausalLM")),
            ("qwen2_moe", run("mistral-tiny", qwen2_moe_config, experts((0, 2), 24, shared_experts((0, 2), 40)),
                              "Qwen2MoeForCausalLM")),
            ("olmoe", run("mistral-tiny", olmoe_config, experts((0, 1, 2), 72, projection_norms), "OlmoeForCausalLM"))):
        for name, numbers in values.items():
            print(family, name, json.dumps(numbers))
