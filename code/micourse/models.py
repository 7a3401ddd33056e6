"""Models by name: the one way pages load a model.

`load_model("gpt2-small")` returns TransformerLens's real GPT-2 when the Hugging Face hub is
reachable, and the course's own stand-in (same tokenizer, same hook names, much smaller)
when it is not. Either way it prints which model ran, so a page's output is honest about
where its numbers came from.

Both worlds hand a page the same kind of model. `HookedTransformer.from_pretrained` processes
the weights (folds each LayerNorm's scale and bias into the next layer, centres the weights
that write to the residual stream and the unembedding), so the stand-in gets the same
processing offline. Pages that need the raw checkpoint, such as loading weights into a GPT-2
written from scratch, ask for `process_weights=False` (online:
`HookedTransformer.from_pretrained_no_processing`).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import torch

from micourse import registry
from micourse.device import resolve
from micourse.local_models import _processing_note, load_local, quiet_transformer_lens
from micourse.model_info import ModelInfo
from micourse.offline import hub_endpoint, in_rehearsal, is_offline, require_hub
from micourse.registry import UnknownModelError

__all__ = [
    "ModelInfo",
    "UnknownModelError",
    "describe",
    "known_models",
    "load_bridge",
    "load_model",
    "load_pretrained",
    "load_reference",
    "load_standin",
]


def known_models() -> list[str]:
    """Every name `load_model` takes (aliases aside): the registry's entries."""
    return registry.known_models()


def _canonical(name: str) -> str:
    return registry.get(name).name


@contextlib.contextmanager
def _no_progress_bars():
    """Hide transformers' "Loading weights" bars while booting (they fill a page's output), then restore them."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def load_standin(
    name: str, device: str | torch.device | None = None, *, process_weights: bool = True, path: Path | None = None
):
    """The course's stand-in for `name`, whatever the network says (`path`: another weight file, e.g. a retrained one)."""
    if registry.get(name).kind != "standin":
        raise ValueError(f"{name!r} is a course model, not a stand-in: load it with load_model.")
    return load_local(name, device, process_weights=process_weights, path=path)


def load_pretrained(name: str, device: str | torch.device | None = None, *, process_weights: bool = True):
    """TransformerLens's pretrained model for `name`, from the Hugging Face hub (or `HF_ENDPOINT`)."""
    from transformer_lens import HookedTransformer

    quiet_transformer_lens()
    entry = registry.get(name)
    canonical = entry.name
    device = resolve(device)
    require_hub()  # a dead endpoint: a clear error now, not 23 s of retries
    loader = HookedTransformer.from_pretrained if process_weights else HookedTransformer.from_pretrained_no_processing
    model = loader(canonical, device=str(device))
    model.eval()
    rehearsal = in_rehearsal()
    if rehearsal:
        description = (
            f"{canonical}: a REHEARSAL COPY, loaded by TransformerLens's from_pretrained from the course's "
            f"local stand-in for the hub ({hub_endpoint()}), which serves "
            f"{os.environ.get('MICOURSE_REHEARSAL_WEIGHTS') or 'the course stand-in weights'} "
            f"under the real repository names ({_processing_note(process_weights)}). Not the real model."
        )
    else:
        description = (
            f"{canonical}: the real pretrained model, loaded by TransformerLens from the Hugging Face hub "
            f"({_processing_note(process_weights)})."
        )
    model.micourse_info = ModelInfo(
        name=canonical, standin=rehearsal, processed=process_weights, rehearsal=rehearsal, description=description
    )
    return model


def load_model(
    name: str, device: str | torch.device | None = None, *, process_weights: bool | None = None, verbose: bool = True
):
    """A TransformerLens `HookedTransformer` for `name`: the real one online, the stand-in offline.

    A course model (`micourse.registry`, kind "course": the toy models) is the same committed file
    in every world; for it `process_weights` defaults to the entry's own setting (as trained).

    `process_weights=False` gives the raw checkpoint (LayerNorm weights kept, nothing centred),
    which is what a from-scratch GPT-2 needs to load; the default matches
    `HookedTransformer.from_pretrained`. `device`: default `micourse.device.default_device()`.
    Set `MICOURSE_OFFLINE=1` to force the stand-in, `MICOURSE_OFFLINE=0` to force the hub.
    """
    entry = registry.get(name)  # a bad name fails before any network or disk access
    if process_weights is not None and not isinstance(process_weights, bool):
        raise TypeError(f"process_weights must be True or False, not {process_weights!r}.")
    if process_weights is None:
        process_weights = entry.process_weights
    if entry.kind == "course" or is_offline():
        model = load_local(entry.name, device, process_weights=process_weights)
    elif "online_loader" in entry.extra:  # a real model TransformerLens cannot load by name
        model = registry.resolve(entry.extra["online_loader"])(entry, device, process_weights=process_weights)
    else:
        model = load_pretrained(entry.name, device, process_weights=process_weights)
    if verbose:
        print(f"Loaded {model.micourse_info}")
    return model


def load_reference(name: str = "gpt2-small", device: str | torch.device | None = None, *, verbose: bool = True):
    """The course's reference `GPT2` (`micourse.transformer`) holding model `name`'s raw weights.

    It is loaded unprocessed: the reference GPT-2 has real LayerNorms with scales and biases,
    which `from_pretrained`'s processing would have folded away.
    """
    from micourse.transformer.loading import from_hooked_transformer

    hooked = load_model(name, device, process_weights=False, verbose=verbose)
    model = from_hooked_transformer(hooked)
    model.micourse_info = hooked.micourse_info
    return model


def load_bridge(name: str = "gpt2-small", device: str | torch.device | None = None, *, verbose: bool = True):
    """TransformerLens's newer `TransformerBridge` around the Hugging Face model for `name`.

    The bridge wraps the Hugging Face implementation itself instead of re-implementing it (the
    line TransformerLens 4.x keeps). Online it boots the real checkpoint; offline it boots the
    stand-in saved in the Hugging Face format (`micourse.hf_export`), so the same code runs in both.
    Only models with a Hugging Face architecture have a bridge: `attn-only-2l` has none.
    """
    from transformer_lens.model_bridge import TransformerBridge

    from micourse.hf_export import standin_hf_folder

    entry = registry.get(name)
    canonical = entry.name
    if entry.hub is None or entry.hub.layout != "hf-gpt2":
        raise ValueError(
            f"{canonical} has no Hugging Face architecture (it is a TransformerLens-native or course model), so it "
            "has no TransformerBridge; load it with load_model."
        )
    device = resolve(device)
    quiet_transformer_lens()
    if is_offline():
        with _no_progress_bars():
            bridge = TransformerBridge.boot_transformers(str(standin_hf_folder(canonical)), device=str(device))
        info = ModelInfo(
            name=canonical,
            standin=True,
            processed=False,
            description=(
                f"{canonical} as a TransformerBridge: the course's OFFLINE STAND-IN ({entry.summary}) "
                "saved in the Hugging Face GPT-2 format. Not the real model."
            ),
        )
    else:
        require_hub()
        with _no_progress_bars():
            bridge = TransformerBridge.boot_transformers(entry.hub.repo, device=str(device))
        rehearsal = in_rehearsal()
        info = ModelInfo(
            name=canonical,
            standin=rehearsal,
            processed=False,
            rehearsal=rehearsal,
            description=(
                f"{canonical} as a TransformerBridge, booted from "
                + (
                    f"the course's local stand-in for the hub ({hub_endpoint()}): a REHEARSAL COPY holding the stand-in's weights."
                    if rehearsal
                    else "the Hugging Face hub: the real pretrained model."
                )
            ),
        )
    bridge.eval()
    bridge.micourse_info = info
    if verbose:
        print(f"Loaded {info}")
    return bridge


def describe(model) -> str:
    """Which model this is, in a sentence; pages print it next to results."""
    info = getattr(model, "micourse_info", None)
    if info is None:
        return f"{getattr(model.cfg, 'model_name', type(model).__name__)} (not loaded through micourse.load_model)"
    return str(info)
