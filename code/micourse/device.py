"""One place that decides where models and tensors live.

Pages, `load_model` and the training loop all ask here, so a page written on a laptop's CPU
uses the GPU as soon as it runs on a Colab GPU runtime, with no edit.
"""

from __future__ import annotations

import os

import torch


def default_device() -> torch.device:
    """`MICOURSE_DEVICE` if set (e.g. "cpu"), else CUDA when available, else the CPU.

    (Apple's MPS is not chosen automatically: some TransformerLens operations still fall back
    or differ there; set MICOURSE_DEVICE=mps to try it.)
    """
    forced = os.environ.get("MICOURSE_DEVICE", "").strip()
    if forced:
        try:
            return torch.device(forced)
        except RuntimeError as err:
            raise ValueError(f"MICOURSE_DEVICE={forced!r} is not a torch device (try 'cpu' or 'cuda').") from err
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve(device: str | torch.device | None) -> torch.device:
    """`device`, or the default when it is None."""
    return default_device() if device is None else torch.device(device)
