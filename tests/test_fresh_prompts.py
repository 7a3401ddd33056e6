"""No page quietly presents one of the offline stand-in's training sentences as a fresh prompt.

Every string literal in every page's code is matched against the stand-in's training data
(`micourse.standins.phrasings`). A page may still use such a text, where the page says so or
where no prediction is read from it: list it in ALLOWED with the reason.
"""

import ast
import random
import re
from pathlib import Path

import pytest

from micourse.standins.phrasings import trained_phrasing
from micourse.standins.synthetic import name_list_copy

ROOT = Path(__file__).resolve().parents[1]
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.S | re.M)
GENESIS = "In the beginning God created the heaven and the earth."

# page -> {literal (or its beginning): why it is fine}
ALLOWED = {
    "chapters/01-transformers/01-inputs-outputs.md": {
        GENESIS: "tokenizer demo: no prediction is read",
        "In the beginning": "greedy demo; describe_prompt labels it training text on the page",
        "The capital city of France is": "the trained wording, shown as such by describe_prompt",
    },
    "chapters/01-transformers/03-clean-gpt2.md": {
        "The capital city of France is": "the trained wording, shown as such by describe_prompt",
    },
    "chapters/01-transformers/04-training.md": {
        "And God said": "samples of the page's own model; the page counts it in that model's training text",
    },
    "chapters/01-transformers/02-foundations.md": {GENESIS: "attention arithmetic: no prediction is read"},
    "chapters/01-transformers/05-sampling.md": {
        GENESIS: "nucleus sizes along a verse; the page says both models know it",
        "And God said,": "the running prompt; describe_prompt labels it training text on the page",
    },
    "chapters/03-tl-recipes/01-activations.md": {
        "The capital city of France is": "the trained wording, shown as such by describe_prompt",
    },
    "chapters/01-transformers/06-kv-cache.md": {GENESIS: "compares cached keys: no prediction is read"},
    "chapters/02-mech-interp/02-induction-heads.md": {
        GENESIS: "attention patterns of a sentence: no prediction is read"
    },
    "chapters/stand-in-models.md": {
        "The capital city of France is": "shows trained_phrasing itself",
        "When Mary and John went to the store, John gave a drink to": "same",
    },
    "chapters/04-study-plan/02-week2-transformerlens.md": {
        GENESIS: "padding demo; the page says several prompts are training phrasings",
        "I went to see the movie. It was": "same",
        "And God said, Let there be light:": "same",
        "We talked about the game.": "same",
        "Big Ben is in": "same",
        "Yesterday I had the meal.": "same",
    },
}


def _literals(page: Path) -> list[str]:
    out = []
    for cell in CELL.findall(page.read_text()):
        src = "\n".join(line for line in cell.splitlines() if not line.lstrip().startswith(("%", "!", ":")))
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                out.append(node.value)
    return out


PAGES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "chapters").rglob("*.md"))


@pytest.mark.parametrize("page", PAGES)
def test_no_unannounced_training_sentence(page):
    allowed = ALLOWED.get(page, {})
    found = [
        f"{text!r} is a {kind}"
        for text in _literals(ROOT / page)
        if (kind := trained_phrasing(text)) and not any(text.startswith(a) for a in allowed)
    ]
    assert not found, (
        f"{page} uses text the offline stand-in was trained on: {found}. Use a phrasing it never saw "
        "(see micourse.standins.synthetic's held-out lists), or say so on the page and add it to ALLOWED here."
    )


def test_allowed_entries_are_still_used():
    """A stale allowance would hide the next unannounced use of the same text."""
    for page, allowed in ALLOWED.items():
        literals = _literals(ROOT / page)
        for text in allowed:
            assert any(lit.startswith(text) for lit in literals), (
                f"{page} no longer uses {text!r}: drop it from ALLOWED"
            )


def test_matcher_on_known_cases():
    assert trained_phrasing("The capital city of France is") == "fact sentence"
    assert trained_phrasing("The capital of France is") is None  # never trained, for any country
    assert trained_phrasing("The Eiffel Tower is in the city of") is None  # the tutorials' held-out prompt
    assert trained_phrasing("When Mary and John went to the store, John gave a drink to").startswith("indirect")
    assert trained_phrasing("While Mary and John were working at the store, John sent a drink to") is None
    assert trained_phrasing("It was a sunny day. When Mary and John went to the store,").startswith("indirect")
    assert trained_phrasing("And God said, Let there be light:").startswith("King James")
    assert trained_phrasing("Hello world, how are you today?") is None
    # short texts: exactly how a training sentence begins, whatever the length
    assert trained_phrasing("In the beginning") == "King James Bible sentence opening"
    assert trained_phrasing("And God said,") == "King James Bible sentence opening"
    assert trained_phrasing("And God said") == "King James Bible sentence opening"
    assert trained_phrasing("in the") is None  # no sentence begins in lower case
    assert trained_phrasing("And God sai") is None  # a word boundary, not a prefix of a word
    assert trained_phrasing("The end.") is None  # no verse is just that
    assert trained_phrasing("Hello world") is None
    assert trained_phrasing("And") is None  # one word is a token, not a phrasing
    for seed in range(5):  # both shapes of the name lists, the second phase's (a name first) too
        for first in (False, True):
            text = name_list_copy(random.Random(seed), name_first=first)
            head = text.split(". Again")[0]
            assert trained_phrasing(text) == trained_phrasing(head) == "repeated name list", text
    with pytest.raises(TypeError, match="string"):
        trained_phrasing(["The capital of France is"])


def test_matcher_knows_the_real_openings_of_the_second_phase():
    """The second phase trains on real sentences naming two people (`text_openings`): those are training text."""
    from micourse.data import web_text
    from micourse.standins.ioi_grammar import text_openings

    for opening in text_openings(web_text("train"))[:40:7]:
        text = opening.replace("{A}", "Mary").replace("{B}", "John")
        assert trained_phrasing(text) == "indirect-object (IOI) sentence", text
        assert trained_phrasing(text + " John gave a drink to") == "indirect-object (IOI) sentence", text


def test_scorecard_prompts_are_all_fresh():
    """The scorecard's held-out data really is held out: the matcher finds none of it in training."""
    from micourse.standins import metrics, scorecard, synthetic

    prompts = [metrics.STEERING_PROMPT, *metrics.FACT_PROMPTS]
    prompts += [r["prompt"] for r in synthetic.heldout_fact_prompts()]
    prompts += [p["prompt"] for p in scorecard.ioi_prompt_set(200, seed=0)]
    prompts += [p["prompt"] for p in scorecard.ioi_prompt_set(200, seed=1, heldout_names=False)]
    prompts += [p["prompt"] for p in scorecard.ioi_prompt_set(100, seed=3, novel=True)]
    prompts += [p["prompt"] for p in scorecard.ioi_blind_prompt_set(200, seed=4)]
    trained = [(p, k) for p in prompts if (k := trained_phrasing(p))]
    assert not trained, trained[:5]
    # ... while the trained sets are recognised as trained
    for p in scorecard.ioi_prompt_set(50, seed=2, heldout_templates=False, heldout_names=False):
        assert trained_phrasing(p["prompt"]), p["prompt"]


def test_training_sentences_labels_what_a_model_recited():
    """Beam search from "The end." recited a fact sentence offline; the page labels it with this."""
    from micourse.standins.phrasings import describe_prompt, training_sentences

    text = " You can visit the Forbidden City in Beijing. My cat sleeps all day."
    assert training_sentences(text) == [("You can visit the Forbidden City in Beijing.", "fact sentence")]
    assert training_sentences("My cat sleeps all day.") == []
    assert describe_prompt("In the beginning").startswith("training text")
    assert describe_prompt("The capital of France is").startswith("a phrasing the offline stand-in never")
    with pytest.raises(TypeError, match="string"):
        training_sentences(None)
