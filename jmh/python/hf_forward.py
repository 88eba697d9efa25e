"""transformers' forward of the fixture models, the anchor of FamilyBenchmark (docs/benchmarks.md).

Runs each model of ../shared/fixtures (and stories260K) on its reference prompt as the Java benchmark does: the type
transformers 5 loads it in by default, its default attention (sdpa), autograd off, one thread. Prints the min, median
and p90 of the forward's wall time in microseconds over 2000 calls after 200 warm-up calls.

    python jmh/python/hf_forward.py            # from the project folder, beside ../shared
    python jmh/python/hf_forward.py FOLDER...  # other model folders, each with the reference.json of its fixture
"""
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

FIXTURES = ["pythia-tiny", "qwen2-tiny", "qwen3-tiny", "mistral-tiny", "gemma2-tiny", "phi3-tiny", "llama3-bf16-tiny"]


def shared() -> Path:
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "shared").is_dir():
            return folder / "shared"
    sys.exit("../shared not found: run from the project folder")


def measure(folder: Path, prompt: str, warmup: int = 200, calls: int = 2000) -> list[float]:
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    ids = AutoTokenizer.from_pretrained(folder)(prompt, return_tensors="pt")
    times = []
    with torch.no_grad():
        for call in range(warmup + calls):
            start = time.perf_counter()
            model(**ids)
            if call >= warmup:
                times.append((time.perf_counter() - start) * 1e6)
    return sorted(times)


def main() -> None:
    torch.set_num_threads(1)
    root = shared()
    folders = [Path(folder) for folder in sys.argv[1:]] or [root / "fixtures" / name for name in FIXTURES]
    models = [(folder, json.loads((folder / "reference.json").read_text())["prompt"]) for folder in folders]
    if len(sys.argv) == 1:
        models.append((root / "models" / "stories260K", "Once upon a time, there was a little girl named Lily."))
    print(f"transformers forward, torch {torch.__version__}, 1 thread; microseconds")
    print("| model | dtype | min | median | p90 |")
    print("| --- | --- | ---: | ---: | ---: |")
    for folder, prompt in models:
        times = measure(folder, prompt)
        dtype = json.loads((folder / "config.json").read_text()).get("dtype", "float32")
        print(f"| {folder.name} | {dtype} | {times[0]:.0f} | {statistics.median(times):.0f} | "
              f"{times[int(len(times) * 0.9)]:.0f} |")


if __name__ == "__main__":
    main()
