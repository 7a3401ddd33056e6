"""Recipe 4's two definitions, pinned on constructed inputs.

The recipe's code lives in its page (readers copy it); this test runs the cells that define
`stripe_score` and `loss_split` and holds them to chapter 2's definition of the induction score
(all `seq_len` queries of the repeat) and to a loss split that counts exactly the predictable tokens.
"""

import re
from pathlib import Path

import pytest
import torch

from micourse.interp import detectors

PAGE = Path(__file__).resolve().parents[1] / "chapters/03-tl-recipes/04-induction-detection.md"
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.S | re.M)


def _definitions() -> dict:
    """Exec only the `def` blocks of the page's cells (no model is loaded)."""
    namespace = {"torch": torch}
    for cell in CELL.findall(PAGE.read_text()):
        for block in re.findall(r"^def \w+\(.*?(?=^\S|\Z)", cell, re.S | re.M):
            if block.startswith(("def stripe_score", "def loss_split")):
                exec(block, namespace)
    assert {"stripe_score", "loss_split"} <= namespace.keys(), "the page no longer defines both functions"
    return namespace


def _pattern(seq_len: int, target) -> torch.Tensor:
    """(1, 1, n, n): every query on BOS, except the queries `target` maps to a key (all attention there)."""
    n = 1 + 2 * seq_len
    p = torch.zeros(1, 1, n, n)
    p[..., 0] = 1.0
    for q in range(n):
        k = target(q)
        if k is not None:
            p[0, 0, q] = 0.0
            p[0, 0, q, k] = 1.0
    return p


@pytest.mark.parametrize("seq_len", [3, 7, 30])
def test_stripe_score_is_chapter_2s_induction_score(seq_len):
    f = _definitions()["stripe_score"]
    induction = _pattern(seq_len, lambda q: q - seq_len + 1 if q > seq_len else None)
    duplicate = _pattern(seq_len, lambda q: q - seq_len if q > seq_len else None)
    assert f(induction, seq_len, seq_len - 1).item() == pytest.approx(1.0)
    assert f(induction, seq_len, seq_len).item() == pytest.approx(0.0)
    assert f(duplicate, seq_len, seq_len).item() == pytest.approx(1.0)
    assert f(duplicate, seq_len, seq_len - 1).item() == pytest.approx(0.0)
    # the first query of the repeat (q = seq_len + 1 -> key 2) counts: one of seq_len queries
    only_first = _pattern(seq_len, lambda q: 2 if q == seq_len + 1 else None)
    assert f(only_first, seq_len, seq_len - 1).item() == pytest.approx(1 / seq_len)
    # the last query of the first copy (q = seq_len -> key 1) does not
    only_before = _pattern(seq_len, lambda q: 1 if q == seq_len else None)
    assert f(only_before, seq_len, seq_len - 1).item() == pytest.approx(0.0)
    random = torch.rand(2, 3, 2 * seq_len + 1, 2 * seq_len + 1).tril().softmax(-1)
    assert torch.allclose(f(random, seq_len, seq_len - 1), detectors.induction_score(random, seq_len))


def test_loss_split_counts_exactly_the_predictable_tokens():
    f = _definitions()["loss_split"]
    seq_len = 5
    # column p holds the loss of token p + 1; give each token its own position as its loss
    token_loss = torch.arange(1, 2 * seq_len + 1, dtype=torch.float).expand(2, -1)
    first, repeat = f(token_loss, seq_len)
    assert first == pytest.approx(sum(range(1, seq_len + 1)) / seq_len)  # tokens 1 .. seq_len
    predictable = range(seq_len + 2, 2 * seq_len + 1)  # not seq_len + 1: nothing announces the repeat
    assert repeat == pytest.approx(sum(predictable) / len(predictable))
