"""Chapter 2, page 2: each checker accepts the reference and rejects plausible mistakes."""

import pytest
import torch

from micourse.checks import CheckFailure
from micourse.checks import induction_heads as chk
from micourse.interp import detectors as ref
from micourse.interp import tokens as tok


def rejects(check, fn, *fragments):
    with pytest.raises(CheckFailure) as info:
        check(fn)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_current_token_score():
    chk.check_current_token_score(ref.current_token_score)
    rejects(chk.check_current_token_score, lambda p: p.diagonal(-1, dim1=-2, dim2=-1).mean((0, -1)), "previous token")
    rejects(chk.check_current_token_score, lambda p: p.diagonal(dim1=-2, dim2=-1).sum(-1).mean(0), "mean")
    rejects(chk.check_current_token_score, lambda p: p.diagonal(dim1=-2, dim2=-1).mean(-1), "batch")
    rejects(
        chk.check_current_token_score, lambda p: p.diagonal(dim1=-2, dim2=-1)[..., 1:].mean((0, -1)), "first position"
    )


def test_previous_token_score():
    chk.check_previous_token_score(ref.previous_token_score)
    rejects(chk.check_previous_token_score, lambda p: p.diagonal(1, dim1=-2, dim2=-1).mean((0, -1)), "offset=-1")
    rejects(chk.check_previous_token_score, lambda p: p.diagonal(dim1=-2, dim2=-1).mean((0, -1)), "main diagonal")
    rejects(chk.check_previous_token_score, lambda p: p.diagonal(-1, dim1=-2, dim2=-1).mean(), "single number")
    rejects(chk.check_previous_token_score, lambda p: p.diagonal(-1, dim1=-2, dim2=-1).sum(-1).mean(0), "mean")


def test_first_token_score():
    chk.check_first_token_score(ref.first_token_score)
    rejects(chk.check_first_token_score, lambda p: p[..., 0, :].mean((0, -1)), "column")
    rejects(chk.check_first_token_score, lambda p: p[..., 1:, 0].mean((0, -1)), "first query")
    rejects(chk.check_first_token_score, lambda p: p[..., -1].mean((0, -1)), "last key")


def test_heads_above():
    chk.check_heads_above(ref.heads_above)

    def unsorted(s, t):
        return [f"{l}.{h}" for l, h in (s > t).nonzero().tolist()]

    rejects(chk.check_heads_above, unsorted, "order")
    rejects(chk.check_heads_above, lambda s, t: [f"{h}.{l}" for l, h in (s > t).nonzero().tolist()], "expected")
    rejects(chk.check_heads_above, lambda s, t: ref.heads_above(s, t - 0.2), "threshold")
    rejects(chk.check_heads_above, lambda s, t: (s > t).nonzero(), "list of strings")


def test_repeated_tokens():
    chk.check_repeated_tokens(tok.repeated_tokens)

    def no_bos(bos, n, b, lo, hi, g):
        half = torch.randint(lo, hi, (b, n), generator=g)
        return torch.cat([half, half], 1)

    def two_draws(bos, n, b, lo, hi, g):
        return torch.cat(
            [
                torch.full((b, 1), bos),
                torch.randint(lo, hi, (b, n), generator=g),
                torch.randint(lo, hi, (b, n), generator=g),
            ],
            1,
        )

    def no_generator(bos, n, b, lo, hi, g):
        half = torch.randint(lo, hi, (b, n))
        return torch.cat([torch.full((b, 1), bos), half, half], 1)

    def float_tokens(bos, n, b, lo, hi, g):
        return tok.repeated_tokens(bos, n, b, lo, hi, g).float()

    rejects(chk.check_repeated_tokens, no_bos, "BOS")
    rejects(chk.check_repeated_tokens, two_draws, "copy")
    rejects(chk.check_repeated_tokens, no_generator, "generator")
    rejects(chk.check_repeated_tokens, float_tokens, "dtype")


def test_loss_by_half():
    chk.check_loss_by_half(lambda lp, n: torch.stack([-lp[:, :n].mean(), -lp[:, n:].mean()]))
    chk.check_loss_by_half(lambda lp, n: (-lp[:, :n].mean().item(), -lp[:, n:].mean().item()))
    rejects(chk.check_loss_by_half, lambda lp, n: torch.stack([lp[:, :n].mean(), lp[:, n:].mean()]), "NEGATIVE")
    rejects(chk.check_loss_by_half, lambda lp, n: torch.stack([-lp[:, : n + 1].mean(), -lp[:, n + 1 :].mean()]), "late")
    rejects(chk.check_loss_by_half, lambda lp, n: torch.stack([-lp[:, :n].sum(), -lp[:, n:].sum()]), "summed")


def test_induction_score():
    chk.check_induction_score(ref.induction_score)
    rejects(
        chk.check_induction_score,
        lambda p, n: p.diagonal(-n, dim1=-2, dim2=-1)[..., 1:].mean((0, -1)),
        "duplicate-token",
    )
    rejects(chk.check_induction_score, lambda p, n: p.diagonal(-(n - 1), dim1=-2, dim2=-1).mean((0, -1)), "first copy")
    rejects(
        chk.check_induction_score,
        lambda p, n: p.diagonal(-(n - 1), dim1=-2, dim2=-1)[..., 1:].mean((0, -1)),
        "last token of the first copy",
    )
    rejects(
        chk.check_induction_score, lambda p, n: p.diagonal(-(n + 1), dim1=-2, dim2=-1)[..., 1:].mean((0, -1)), "BEFORE"
    )
    rejects(
        chk.check_induction_score, lambda p, n: p.diagonal(-(n - 1), dim1=-1, dim2=-2)[..., 1:].mean((0, -1)), "differ"
    )


def test_duplicate_token_score():
    from micourse.interp.findings import duplicate_token_score

    chk.check_duplicate_token_score(duplicate_token_score)
    rejects(chk.check_duplicate_token_score, ref.induction_score, "AFTER the earlier copy")
    rejects(
        chk.check_duplicate_token_score, lambda p, n: p.diagonal(-n, dim1=-2, dim2=-1).mean((0, -1)), "query seq_len"
    )
    rejects(
        chk.check_duplicate_token_score,
        lambda p, n: p.diagonal(-(n + 1), dim1=-2, dim2=-1)[..., -n:].mean((0, -1)),
        "BEFORE",
    )
    rejects(chk.check_duplicate_token_score, lambda p, n: p.diagonal(-n, dim1=-2, dim2=-1)[..., -n:].mean(-1), "batch")


def test_uniform_induction_baseline():
    from micourse.interp.findings import uniform_induction_baseline

    chk.check_uniform_induction_baseline(uniform_induction_baseline)
    chk.check_uniform_induction_baseline(
        lambda n: sum(1 / (q + 1) for q in range(n + 1, 2 * n + 1)) / n
    )  # a plain float is fine
    rejects(chk.check_uniform_induction_baseline, lambda n: 1 / (2 * n + 1), "whole sequence")
    rejects(
        chk.check_uniform_induction_baseline,
        lambda n: sum(1 / q for q in range(n + 1, 2 * n + 1)) / n,
        "off by one",
    )
    rejects(
        chk.check_uniform_induction_baseline,
        lambda n: sum(1 / (q + 1) for q in range(n, 2 * n)) / n,
        "off by one",
    )
    rejects(
        chk.check_uniform_induction_baseline,
        lambda n: sum(1 / (q + 1) for q in range(0, 2 * n + 1)) / (2 * n + 1),
        "every query",
    )
