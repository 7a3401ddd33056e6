"""The pipeline-check page's checker accepts a right softmax and explains wrong ones."""

from __future__ import annotations

import pytest
import torch

from micourse.checks import CheckFailure
from micourse.checks.pipeline_check import check_softmax, reference_softmax


def test_accepts_the_reference(capsys) -> None:
    check_softmax(reference_softmax)
    assert "all checks passed" in capsys.readouterr().out


def test_accepts_torch_softmax() -> None:
    check_softmax(lambda x: torch.softmax(x, dim=-1))


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda x: x.exp() / x.exp().sum(-1, keepdim=True), "subtract each row's maximum"),
        (lambda x: torch.softmax(x, dim=0), "first axis"),
        (lambda x: (x - x.amax(-1, keepdim=True)).exp(), "not normalised"),
        (lambda x: None, "return"),
        (lambda x: torch.softmax(x, dim=-1)[..., :-1], "shape"),
    ],
)
def test_rejects_plausible_mistakes(wrong, message: str) -> None:
    with pytest.raises(CheckFailure, match=message):
        check_softmax(wrong)


def test_stub_error_passes_through() -> None:
    def stub(x):
        raise NotImplementedError("write me")

    with pytest.raises(NotImplementedError):
        check_softmax(stub)
