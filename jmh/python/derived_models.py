"""Writes the models the tests derive from ../shared's fixtures (Gemma 3, OLMo 2 and 3, the mixtures of experts, GPT-OSS) into
a folder, one sub-folder each, for FamilyBenchmark and hf_forward.py to measure as they measure the fixtures.

    python jmh/python/derived_models.py /tmp/derived      # from the project folder, beside ../shared

Each model is made by the derivation of its reference script in torch-bridge/src/test/python, so it is the model its
test checks against transformers.
"""
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "torch-bridge/src/test/python"))
from fixture_variants import variant  # noqa: E402
import gemma3_references  # noqa: E402
import gpt_oss_references  # noqa: E402
import moe_references  # noqa: E402
import olmo_references  # noqa: E402

MODELS = {
    "gemma3-tiny": ("gemma2-tiny", gemma3_references.gemma3_config, gemma3_references.query_key_norms),
    "olmo2-tiny": ("mistral-tiny", olmo_references.olmo2_config, olmo_references.olmo2_weights),
    "olmo3-tiny": ("mistral-tiny", olmo_references.olmo3_config, olmo_references.olmo2_weights),
    "mixtral-tiny": ("mistral-tiny", moe_references.mixtral_config, moe_references.mixtral_weights),
    "qwen3-moe-tiny": ("qwen3-tiny", moe_references.qwen3_moe_config, moe_references.experts((0, 2), 24)),
    "qwen2-moe-tiny": ("mistral-tiny", moe_references.qwen2_moe_config,
                       moe_references.experts((0, 2), 24, moe_references.shared_experts((0, 2), 40))),
    "olmoe-tiny": ("mistral-tiny", moe_references.olmoe_config,
                   moe_references.experts((0, 1, 2), 72, moe_references.projection_norms)),
    "gpt-oss-tiny": ("mistral-tiny", gpt_oss_references.gpt_oss_config, gpt_oss_references.gpt_oss_weights),
}


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    for name, (fixture, change_config, change_weights) in MODELS.items():
        folder = target / name
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(variant(fixture, change_config, change_weights), folder)
        print(folder)


if __name__ == "__main__":
    main()
