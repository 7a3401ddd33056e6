"""Building a registry entry's model from its committed weight file (no network).

Used offline for a stand-in, in every world for a course model, and by the tools that turn a
stand-in into the hub's own formats (`micourse.hf_export`). `micourse.models.load_model` is the
one function pages call; this module is what it calls when the weights are the course's own.
"""

from __future__ import annotations

from pathlib import Path

import torch

from micourse import registry
from micourse.device import resolve
from micourse.model_info import ModelInfo


def _processing_note(processed: bool) -> str:
    if processed:
        return "weights processed as from_pretrained does: LayerNorm folded, weights centred"
    return "raw weights, unprocessed: LayerNorm scales and biases kept"


def quiet_transformer_lens() -> None:
    import warnings

    warnings.filterwarnings("ignore", message=".*HookedTransformer.*deprecated.*")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="transformer_lens")


def check_architecture(entry: registry.ModelEntry, path: Path) -> None:
    """The file was trained for the architecture the entry declares, or a clear error saying how not."""
    trained_for = registry.read_metadata(path)[0]
    if trained_for != entry.cfg:
        diff = {k: (trained_for.get(k), entry.cfg.get(k)) for k in set(trained_for) | set(entry.cfg)}
        diff = {k: v for k, v in sorted(diff.items()) if v[0] != v[1]}
        raise ValueError(
            f"{path} was trained for another architecture than the registry's {entry.name!r} "
            f"(file vs micourse.registry): {diff}. Retrain it (`{entry.train_command}`), or update the entry."
        )


def load_local(
    name: str,
    device: str | torch.device | None = None,
    *,
    process_weights: bool | None = None,
    path: Path | None = None,
):
    """The course's own weights for `name` as a `HookedTransformer`, whatever the network says.

    `process_weights`: None takes the entry's default (stand-ins as `from_pretrained` gives them,
    course models as trained). `path`: another weight file of the same architecture (e.g. a retrained one).
    """
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    from micourse.standins.weights import load_state

    quiet_transformer_lens()
    entry = registry.get(name)
    if process_weights is None:
        process_weights = entry.process_weights
    device = resolve(device)
    path = Path(path) if path is not None else entry.weights_path
    if not path.exists():
        raise FileNotFoundError(
            f"The weights of {entry.name!r}, {path}, are missing. Rebuild them with `{entry.train_command}`."
        )
    check_architecture(entry, path)
    prefix = "micourse-standin-" if entry.kind == "standin" else "micourse-"
    kwargs = {"seed": 0, **entry.cfg, "model_name": prefix + entry.name, "device": str(device)}
    cfg = HookedTransformerConfig(**kwargs)
    tokenizer = None
    if entry.tokenizer == "gpt2":
        from transformers import AutoTokenizer

        from micourse.tokenizer import tokenizer_dir

        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir()))
    elif entry.tokenizer is not None:
        raise ValueError(f"{entry.name}: unknown tokenizer {entry.tokenizer!r} (the course ships 'gpt2').")
    model = HookedTransformer(cfg, tokenizer=tokenizer, move_to_device=False)
    state = load_state(path, cfg.d_vocab)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith((".IGNORE", ".mask")) and "hook" not in k]
    if missing or unexpected:
        raise RuntimeError(
            f"The weights in {path} do not fit {entry.name}: missing {missing}, unexpected {unexpected}."
        )
    if "after_load" in entry.extra:  # what a model needs beyond its weights (e.g. a padding mask's hook)
        registry.resolve(entry.extra["after_load"])(model)
    if process_weights:  # what from_pretrained does to the real model, with its defaults
        model.process_weights_(fold_ln=True, center_writing_weights=True, center_unembed=True)
    if device.type != "cpu":  # (TransformerLens prints a line for every move, even a no-op)
        model.to(device)
    model.eval()
    n_params = sum(p.numel() for k, p in model.named_parameters() if not k.startswith(("embed.", "unembed.")))
    shape = f"{cfg.n_layers} layer{'s' if cfg.n_layers != 1 else ''}, d_model {cfg.d_model}, {cfg.n_heads} heads, {n_params / 1e6:.2f}M non-embedding parameters"
    if entry.kind == "standin":
        description = (
            f"{entry.name}: the course's OFFLINE STAND-IN, {entry.summary} ({shape}; "
            f"{_processing_note(process_weights)}). Not the real {entry.name}: numbers on this page come from "
            "this small model."
        )
    else:
        description = (
            f"{entry.name}: the course's own model, {entry.summary} ({shape}), the same file online and offline "
            f"(retrain: `{entry.train_command}`)."
        )
    model.micourse_meta = registry.read_metadata(path)[1]  # how it was trained (steps, seconds, scorecard)
    model.micourse_info = ModelInfo(
        name=entry.name, standin=entry.kind == "standin", processed=process_weights, description=description
    )
    return model
