"""scripts/compare_standins.py: the numbers the training log's tables are made of."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("compare_standins", ROOT / "scripts" / "compare_standins.py")
compare_standins = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare_standins)

WEIGHTS = ROOT / "code" / "micourse" / "weights" / "gpt2-small.safetensors"


@pytest.fixture(scope="module")
def few_prompts():
    from micourse.standins import scorecard as S

    return {"hh": S.ioi_prompt_set(12, 101), "blind": S.ioi_blind_prompt_set(16, 1)}


def test_a_row_agrees_with_the_scorecard_functions(few_prompts):
    from micourse.models import load_standin
    from micourse.standins import scorecard as S

    row = compare_standins.compare(WEIGHTS, few_prompts)
    d = S.ioi_diffs(load_standin("gpt2-small", path=WEIGHTS), few_prompts["blind"])
    assert row["blind"] == round((d > 0).float().mean().item(), 3)
    assert 0 <= row["blind_phrase"] <= 1 and 0 <= row["blind_none"] <= 1 and 0 <= row["hh_top1"] <= 1
    assert row["facts_3plus"] >= 10 and row["induction"] >= 0.5  # from the recorded scorecard


def test_attention_finds_each_name_and_sums_like_a_pattern(few_prompts):
    by_split = compare_standins.attention(WEIGHTS, few_prompts["blind"])
    att = by_split["all"]
    assert 0 < att["prompts"] <= 16 and att["prompts"] == by_split["phrase"]["prompts"] + by_split["none"]["prompts"]
    for key in ("S1", "S2", "IO", "S2->S1"):
        assert len(att[key]) == 4 and all(len(layer) == 4 for layer in att[key])
        assert all(0 <= x <= 1 for layer in att[key] for x in layer)
    # from the end, the three names together take no more than all of a head's attention
    for layer in range(4):
        for head in range(4):
            assert sum(att[k][layer][head] for k in ("S1", "S2", "IO")) <= 1 + 1e-5


def test_a_name_split_into_tokens_is_left_out():
    from micourse.models import load_standin

    model = load_standin("gpt2-small", path=WEIGHTS)
    ok = {"prompt": "Then, Mary and John went to the park. John gave a ring to", "s": "John", "io": "Mary"}
    m = compare_standins._mentions(model, ok)
    assert m is not None and m["IO"][0] < m["S1"][0] < m["S2"][0]  # Mary, John, John
    split = {**ok, "prompt": "Then, Mary and Zebulonia went to the park. Zebulonia gave a ring to", "s": "Zebulonia"}
    assert compare_standins._mentions(model, split) is None
