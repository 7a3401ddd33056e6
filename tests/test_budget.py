"""Pages cut their work only for a full-size model on a CPU, and say so."""

import pytest
import torch
from torch import nn

from micourse import budget


class Big(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.empty(0))

    def parameters(self, recurse: bool = True):  # 60M "parameters" without allocating them
        yield self.w
        yield torch.nn.Parameter(torch.empty(60_000_000, device="meta"))


def test_small_models_get_the_full_budget(capsys):
    small = nn.Linear(10, 10)
    assert budget.scaled(small, full=30, cpu=12) == 30
    budget.note(small, "did less")
    assert capsys.readouterr().out == ""


def test_full_size_on_cpu_gets_the_cut_and_says_so(capsys):
    big = Big()
    assert budget.full_size_on_cpu(big)
    assert budget.scaled(big, full=30, cpu=12) == 12
    budget.note(big, "writes 12 tokens instead of 30")
    out = capsys.readouterr().out
    assert "60M-parameter model on a CPU" in out and "writes 12 tokens instead of 30" in out


def test_bad_input():
    with pytest.raises(ValueError, match="should not exceed"):
        budget.scaled(nn.Linear(2, 2), full=10, cpu=20)
    with pytest.raises(TypeError, match="nn.Module"):
        budget.full_size_on_cpu("gpt2-small")
