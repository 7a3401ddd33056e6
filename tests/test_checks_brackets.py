"""Chapter 5, bracket pages: each checker accepts the reference and rejects plausible mistakes."""

import pytest
import torch

from micourse.checks import CheckFailure
from micourse.checks import brackets as chk
from micourse.toys.brackets import analysis, data
from micourse.toys.brackets.model import load


def rejects(check, fn, *fragments, args=()):
    with pytest.raises(CheckFailure) as info:
        check(fn, *args)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


@pytest.fixture(scope="module")
def model():
    torch.set_grad_enabled(False)
    return load()


def test_elevation_profile():
    chk.check_elevation_profile(data.elevations)
    rejects(chk.check_elevation_profile, lambda s: [0] + data.elevations(s), "before the first bracket")
    rejects(chk.check_elevation_profile, lambda s: [-h for h in data.elevations(s)], "signs swapped")
    rejects(chk.check_elevation_profile, lambda s: [1 if c == "(" else -1 for c in s], "running total")


def test_is_balanced():
    chk.check_is_balanced(data.is_balanced)
    rejects(chk.check_is_balanced, lambda s: s.count("(") == s.count(")"), "dips below zero")
    rejects(chk.check_is_balanced, lambda s: min(data.elevations(s) or [0]) >= 0, "exactly 0")
    rejects(chk.check_is_balanced, lambda s: data.kind_of(s) in ("balanced", "total"), "exactly 0")
    rejects(chk.check_is_balanced, lambda s: "balanced", "True or False")


def test_failure_kind():
    chk.check_failure_kind(data.kind_of)

    def first_failure(s):
        h = 0
        for c in s:
            h += 1 if c == "(" else -1
            if h < 0:
                return "negative"
        return "total" if h else "balanced"

    swap = {"total": "negative", "negative": "total"}
    rejects(chk.check_failure_kind, first_failure, "both conditions")
    rejects(chk.check_failure_kind, lambda s: swap.get(data.kind_of(s), data.kind_of(s)), "swapped")
    rejects(chk.check_failure_kind, lambda s: "unbalanced" if not data.is_balanced(s) else "balanced", "one of")


def test_is_balanced_tokens():
    chk.check_is_balanced_tokens(analysis.is_balanced_tokens)

    def total_only(toks):
        step = (toks == data.OPEN).long() - (toks == data.CLOSE).long()
        return step.sum(-1) == 0

    def pads_close(toks):
        step = torch.where(toks == data.OPEN, 1, -1)
        elev = step.cumsum(-1)
        return (elev[:, -1] == 0) & (elev.min(-1).values >= 0)

    def per_position(toks):
        step = (toks == data.OPEN).long() - (toks == data.CLOSE).long()
        return step.cumsum(-1) >= 0

    rejects(chk.check_is_balanced_tokens, total_only, "lowest elevation")
    rejects(chk.check_is_balanced_tokens, pads_close, "[pad]")
    rejects(chk.check_is_balanced_tokens, per_position, "shape")


def test_model_says_balanced(model):
    def ref(m, toks):
        lg = m(toks)[:, 0]
        return lg[:, 1] > lg[:, 0]

    chk.check_model_says_balanced(ref, model)
    rejects(chk.check_model_says_balanced, lambda m, t: m(t)[:, 0, 0] > m(t)[:, 0, 1], "reversed", args=(model,))
    rejects(chk.check_model_says_balanced, lambda m, t: m(t)[:, -1, 1] > m(t)[:, -1, 0], "last position", args=(model,))
    rejects(chk.check_model_says_balanced, lambda m, t: m(t)[..., 1] > m(t)[..., 0], "shape", args=(model,))


def test_accuracy_per_kind():
    def ref(pred, truth, kinds):
        d = data.BracketData(["x"] * len(kinds), kinds, torch.zeros(len(kinds), 1), truth)
        return analysis.accuracy_by_kind(pred, d)

    chk.check_accuracy_per_kind(ref)

    def share(pred, truth, kinds):
        return {k: float(pred[torch.tensor([x == k for x in kinds])].float().mean()) for k in set(kinds)}

    def overall(pred, truth, kinds):
        return {k: float((pred == truth).float().mean()) for k in set(kinds)}

    def count(pred, truth, kinds):
        return {k: float((pred == truth)[torch.tensor([x == k for x in kinds])].sum()) for k in set(kinds)}

    rejects(chk.check_accuracy_per_kind, share, "predicted balanced")
    rejects(chk.check_accuracy_per_kind, overall, "overall")
    rejects(chk.check_accuracy_per_kind, count, "count")
