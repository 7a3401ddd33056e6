"""Chapter 2's pages 1-3 name induction heads from a measurement; on the stand-ins that measurement
must name the heads their scorecard (`micourse.standins.metrics.induction_scores`) finds, and no page
may print that a model lacks induction heads (issue 47: random ids the stand-in never saw made the
hooks page say so).

Each case repeats the page's own calls (the snippets asserted below keep them in step with the page).
"""

from pathlib import Path

import pytest
import torch

from micourse.interp import detectors, findings
from micourse.interp.tokens import repeated_tokens_for
from micourse.models import load_standin
from micourse.standins.metrics import induction_scores

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "chapters" / "02-mech-interp"
THRESHOLD = 0.4  # the pages' threshold for naming an induction head


@pytest.fixture(scope="module")
def standins():
    torch.set_grad_enabled(False)
    try:
        yield {name: load_standin(name) for name in ("attn-only-2l", "gpt2-small")}
    finally:
        torch.set_grad_enabled(True)


def scorecard_heads(model) -> set[str]:
    return set(detectors.heads_above(induction_scores(model), THRESHOLD))


def page2_measurement(model) -> torch.Tensor:
    """02-induction-heads: a cache of the model on repeated tokens, one induction score per layer."""
    seq_len, batch = 50, 10
    rep_tokens = repeated_tokens_for(model, batch, seq_len, seed=0)
    _, rep_cache = model.run_with_cache(rep_tokens)
    return torch.stack([detectors.induction_score(rep_cache["pattern", l], seq_len) for l in range(model.cfg.n_layers)])


def page3_attn_only(model) -> torch.Tensor:
    """03-hooks: the course's hook-based scores on the two-layer model's repeated tokens."""
    return findings.induction_scores_by_hook(model, repeated_tokens_for(model, 10, 50, seed=0))


def page3_gpt2(model) -> torch.Tensor:
    """03-hooks: the same function on gpt2-small."""
    return findings.induction_scores_by_hook(model, repeated_tokens_for(model, 4, 50, seed=1))


CASES = [
    (
        "02-induction-heads.md",
        "attn-only-2l",
        page2_measurement,
        [
            "rep_tokens = token_tools.repeated_tokens_for(model, batch, seq_len, seed=0)",
            'detectors.induction_score(rep_cache["pattern", l], seq_len) for l in range(cfg.n_layers)',
            "detectors.heads_above(induction, 0.4)",
        ],
    ),
    (
        "03-hooks.md",
        "attn-only-2l",
        page3_attn_only,
        [
            "rep_tokens = token_tools.repeated_tokens_for(model, batch, seq_len, seed=0)",
            "seq_len, batch = 50, 10",
            "attn_only_scores = findings.induction_scores_by_hook(model, rep_tokens)",
            "detectors.heads_above(attn_only_scores, 0.4)",
        ],
    ),
    (
        "03-hooks.md",
        "gpt2-small",
        page3_gpt2,
        [
            "gpt2_tokens = token_tools.repeated_tokens_for(gpt2, 4, seq_len, seed=1)",
            "gpt2_scores = findings.induction_scores_by_hook(gpt2, gpt2_tokens)",
            "detectors.heads_above(gpt2_scores, 0.4)",
        ],
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("page", "model_name", "measure", "snippets"), CASES, ids=lambda c: str(c)[:24])
def test_page_names_the_scorecards_induction_heads(standins, page, model_name, measure, snippets):
    source = (PAGES / page).read_text()
    for snippet in snippets:
        assert snippet in source, f"{page} no longer makes this call; update this test with the page: {snippet}"
    model = standins[model_name]
    expected = scorecard_heads(model)
    assert expected, f"the {model_name} stand-in's scorecard finds no induction head: the stand-in changed"
    scores = measure(model)
    assert set(detectors.heads_above(scores, THRESHOLD)) == expected
    layer, head = detectors.best_head(scores)
    assert f"{layer}.{head}" in expected


@pytest.mark.slow
def test_the_pages_baseline_is_far_below_what_they_find(standins):
    """The chance level page 2 compares with must sit far below the heads it names."""
    scores = page2_measurement(standins["attn-only-2l"])
    assert scores.max() > 10 * findings.uniform_induction_baseline(50)


@pytest.mark.parametrize(
    "path",
    [
        "chapters/02-mech-interp/01-tl-basics.md",
        "chapters/02-mech-interp/02-induction-heads.md",
        "chapters/02-mech-interp/03-hooks.md",
        "chapters/03-tl-recipes/07-transformer-bridge.md",
        "chapters/04-study-plan/02-week2-transformerlens.md",
    ],
)
def test_repeated_tokens_come_from_the_one_helper(path):
    """No hand-rolled random ids (a stand-in is blind to most of them) and no verdict that a model lacks induction heads."""
    source = (ROOT / path).read_text()
    assert "vocab_range(" not in source
    assert "randint(1000" not in source
    lowered = source.lower()
    for verdict in ("no induction head", "lacks induction", "shows no induction"):
        assert verdict not in lowered, f"{path} prints a verdict its measurement cannot support: {verdict!r}"
