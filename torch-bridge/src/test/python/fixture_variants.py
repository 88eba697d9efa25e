"""Variants of ../shared's fixtures for the reference scripts beside this one, made as the Java tests make them.

A test that needs a model ../shared has no fixture of derives it from one in a temporary folder (`Shared.fixtureVariant`,
`Shared.replaceWeights`); its reference script derives the same model here and prints what transformers gives.
"""
import json, os, shutil, tempfile
from safetensors.torch import load_file, save_file

SHARED = os.path.join(os.path.dirname(__file__), "../../../../../shared/fixtures")


def variant(fixture, change_config, change_weights=None):
    """A temporary copy of `fixture` whose config.json `change_config(config)` edits in place and whose weights
    `change_weights(weights, config)` edits in place (a dict of names to tensors); returns its folder."""
    folder = tempfile.mkdtemp()
    source = os.path.join(SHARED, fixture)
    for name in os.listdir(source):
        shutil.copy(os.path.join(source, name), folder)
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    change_config(config)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    if change_weights is not None:
        weights = load_file(os.path.join(folder, "model.safetensors"))
        change_weights(weights, config)
        save_file(weights, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    return folder


def rounded(values, digits=7):
    return [round(float(v), digits) for v in values]


def summary(logits):
    """The first 8 logits, their sum and L2 norm, as the tests compare them."""
    return {"first8": rounded(logits[:8]), "sum": round(float(logits.sum()), 6), "l2": round(float(logits.norm()), 6)}
