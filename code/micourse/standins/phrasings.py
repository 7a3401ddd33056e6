"""Is this prompt something the offline stand-in was trained on?

A page that asks the stand-in to complete one of its own training sentences learns nothing about
what it generalises, and must not present the result as if it were a fresh prompt. This module
answers the question for any text: it matches the text against every synthetic template (facts,
sentiment pairs, plain sentences, name lists, the IOI grammar) and against the King James
training text, as a whole or as the beginning of a sentence. A short text (under MIN_WORDS
words) matches no template, but counts as training text when a King James sentence begins with
exactly it ("In the beginning", "And God said,"): an exact match, whatever its length. tests/test_fresh_prompts.py runs it
over every string in every page's code, so a contributor hears about it before a reader does.
"""

from __future__ import annotations

import functools
import re

from micourse.standins import ioi_grammar, synthetic
from micourse.standins.name_pool import CENSUS_NAMES

_SLOT = re.compile(r"\{(\w+)\}")
MIN_WORDS = 4  # shorter fragments ("It was") match templates everywhere; below this, only exact training text counts


@functools.lru_cache(maxsize=1)
def _vocabulary() -> tuple[re.Pattern, dict[str, str]]:
    """Every word or phrase training put into a slot, and the placeholder it stands for."""
    s = synthetic
    subjects = {x for table in s.FACTS.values() for x in table}
    table = {x: "<x>" for x in subjects} | {s._capital(x): "<x>" for x in subjects}
    table |= {y: "<y>" for t in s.FACTS.values() for y in t.values()}
    for words, slot in (
        ((*s.NAMES, *CENSUS_NAMES), "<N>"),
        (s.PLACES, "<place>"),
        (s.OBJECTS, "<obj>"),
        (s.THINGS, "<thing>"),
        (s.POSITIVE + s.NEGATIVE, "<adj>"),
    ):
        table |= {w: slot for w in words if w not in table}
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in sorted(table, key=len, reverse=True)) + r")\b")
    return pattern, table


_SLOT_NAMES = {
    "A": "<N>",
    "B": "<N>",
    "S": "<N>",
    "IO": "<N>",
    "N": "<N>",
    "x": "<x>",
    "X": "<x>",
    "y": "<y>",
    "city": "<y>",
    "place": "<place>",
    "obj": "<obj>",
    "thing": "<thing>",
    "adj": "<adj>",
    "L": "<L>",
}


def _canon_text(text: str) -> str:
    pattern, table = _vocabulary()
    out = pattern.sub(lambda m: table[m.group(1)], text)
    return re.sub(r"<N>(?:, <N>)+ and <N>", "<L>", out)  # a list of three or more names


def _canon_template(template: str) -> str:
    """Slots as placeholders, and the template's own words as a text's would be ("a game" -> "a <thing>")."""
    return _canon_text(_SLOT.sub(lambda m: _SLOT_NAMES[m.group(1)], template))


def _prefixes(template: str) -> set[str]:
    """The template cut after each word (what a prompt ending there contains), in placeholders."""
    t = _canon_template(template)
    cuts = [m.end() for m in re.finditer(r"\S+", t)]
    return {t[:c].rstrip(".,") for c in cuts} | {t}


@functools.lru_cache(maxsize=1)
def _sentences() -> dict[str, set[str]]:
    s = synthetic
    firsts = s.LIKE + s.DISLIKE + s.NEUTRAL
    kinds = {
        "fact sentence": [t for ts in s._TRAIN_FACT_TEMPLATES.values() for t in ts],
        "sentiment pair": [f + " " + g for f in firsts for g in s.FOLLOW],
        "plain sentence about a person": list(s.PLAIN),
        "repeated name list": [
            "The guests were {L}. Again, the guests were {L}.",
            "{L} were the guests. Again, the guests were {L}.",  # the second phase's name_starts
        ],
    }
    return {kind: set().union(*(_prefixes(t) for t in ts)) for kind, ts in kinds.items()}


@functools.lru_cache(maxsize=1)
def _ioi() -> tuple[tuple[str, ...], set[str], tuple[str, ...]]:
    from micourse.data import web_text

    # the grammar's openings, and the real sentences naming two people that the second phase uses
    openings = ioi_grammar.INTROS + ioi_grammar.text_openings(web_text("train"))
    intros = tuple(sorted({_canon_template(i) for i in openings}))
    actions = set().union(*(_prefixes(a) for a in ioi_grammar.ACTIONS))
    actions |= {a[0].upper() + a[1:] for a in actions}
    return intros, actions, tuple(_canon_text(p) for p in synthetic.PREAMBLES)


def _is_ioi(canon: str) -> bool:
    intros, actions, preambles = _ioi()
    for p in preambles:  # a training IOI sentence may follow a preamble
        if canon.startswith(p + " "):
            canon = canon[len(p) + 1 :]
            break
    for intro in intros:
        if canon == intro.rstrip(".,") or canon == intro:
            return True
        if canon.startswith(intro + " ") and canon[len(intro) + 1 :] in actions:
            return True
    return False


@functools.lru_cache(maxsize=1)
def _kjv() -> str:
    from micourse.data import kjv_text

    return kjv_text("train")


@functools.lru_cache(maxsize=4096)
def _kjv_opening(text: str) -> bool:
    """Does a sentence or verse of the King James training text begin with exactly `text`?

    Short prompts ("In the beginning", "And God said,") match no template, but the stand-in read
    them thousands of times at the start of a sentence: what it continues with is recitation.
    The match is exact (case and punctuation included) and must end at a word boundary.
    """
    if not text[:1].isupper():  # a sentence begins with a capital; "in the" is everywhere
        return False
    tail = r"(?!\w)" if text[-1].isalnum() else ""
    return re.search(r"(?:\A|\n|[.;:?!] )" + re.escape(text) + tail, _kjv()) is not None


def trained_phrasing(text: str) -> str | None:
    """What kind of training text `text` is (or begins), or None if the stand-in never trained on it.

    >>> trained_phrasing("The capital city of France is")
    'fact sentence'
    >>> trained_phrasing("The Eiffel Tower is in the city of") is None  # a held-out phrasing
    True
    >>> trained_phrasing("In the beginning")  # short, but exactly how a training verse begins
    'King James Bible sentence opening'
    """
    if not isinstance(text, str):
        raise TypeError(f"trained_phrasing takes a string, got {type(text).__name__}")
    text = " ".join(text.split())
    if len(text.split()) < MIN_WORDS:
        # a short text: training text only if it is, exactly, how training sentences begin
        # (one word alone is a token, not a phrasing)
        if len(text.split()) >= 2 and _kjv_opening(text):
            return "King James Bible sentence opening"
        return None
    canon = _canon_text(text)
    for kind, prefixes in _sentences().items():
        if canon in prefixes or canon.rstrip(".,") in prefixes:
            return kind
    if _is_ioi(canon):
        return "indirect-object (IOI) sentence"
    if text in _kjv():
        return "King James Bible training text"
    return None


def describe_prompt(text: str) -> str:
    """A phrase for a page's prose: is `text` the offline stand-in's training text, and of what kind.

    Pages glue this rather than assert it, so that a change to the training data cannot leave a
    page claiming the opposite of what `trained_phrasing` says.
    """
    kind = trained_phrasing(text)
    if kind:
        return f"training text of the offline stand-in ({kind})"
    return "a phrasing the offline stand-in never trained on"


def training_sentences(text: str) -> list[tuple[str, str]]:
    """The sentences of a generated `text` that are the stand-in's training text, with their kind.

    For labelling what a model recited: beam search and greedy decoding often settle on a
    sentence the model saw many times, and a page should say so rather than present it as new.
    """
    if not isinstance(text, str):
        raise TypeError(f"training_sentences takes a string, got {type(text).__name__}")
    # a recited sentence, not a fragment: two words such as "And the" open verses but recite nothing
    pieces = [p.strip() for p in re.split(r"(?<=[.!?])\s+", text) if len(p.split()) >= MIN_WORDS]
    return [(p, kind) for p in pieces if (kind := trained_phrasing(p))]
