"""How much work a page does, chosen by what it runs on.

The pages are written for the real models. On a GPU, or with the small offline stand-ins, they
run in a minute or two. A full-size model on a CPU (GPT-2 small's 124M parameters on a free
Colab CPU runtime, or a laptop) is another matter: this course's 2-core test machine needs about
0.2 s per generated token there, so a page that writes a few hundred tokens would take many
minutes. Such a page asks `budget.scaled` for its sizes and gets smaller ones on that hardware
only, and `budget.note` prints what it cut, so nobody mistakes a shortened run for the full one.
"""

from __future__ import annotations

import torch
from torch import nn

FULL_SIZE_PARAMS = 50_000_000  # GPT-2 small has 124M; the course's stand-ins at most a few million


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def full_size_on_cpu(model: nn.Module) -> bool:
    """True when `model` is full-size (>= 50M parameters) and sits on the CPU."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"budget needs the model (an nn.Module), got {type(model).__name__}.")
    first = next(model.parameters(), None)
    on_cpu = first is None or first.device == torch.device("cpu")
    return on_cpu and n_params(model) >= FULL_SIZE_PARAMS


def scaled(model: nn.Module, full, cpu):
    """`full` normally; `cpu` (a smaller number, or fewer items) for a full-size model on a CPU."""
    if isinstance(full, int) and isinstance(cpu, int) and cpu > full:
        raise ValueError(f"the CPU budget ({cpu}) should not exceed the full one ({full}).")
    return cpu if full_size_on_cpu(model) else full


def note(model: nn.Module, cut: str) -> None:
    """Print what this page cut, if it is running a full-size model on a CPU; else nothing."""
    if full_size_on_cpu(model):
        print(
            f"Note: a {n_params(model) / 1e6:.0f}M-parameter model on a CPU. To keep this page to a few "
            f"minutes it {cut}. On a GPU (Colab: Runtime > Change runtime type) it does the full run."
        )
