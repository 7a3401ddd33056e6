"""What a model can and cannot show, measured live and said in plain words (the models page).

Each card is a list of rows: the question a learner would ask ("does it have induction heads?"),
what was measured, and the answer the measurement supports. The registry names each stand-in's
card (`ModelEntry.scorecard`); the functions use only TransformerLens hook names and the
tokenizer, so they score whichever model `load_model` returned: the real one online, the
stand-in offline. The thresholds are stated in the rows, not hidden in the words.
"""

from __future__ import annotations

import torch

from micourse import budget
from micourse.standins import metrics, scorecard, synthetic

# IOI sentence forms written for this card, after the stand-in was trained: in none of its
# training templates, nor in the grammar's held-out, hand-written or blind test sets.
FRESH_IOI_TEMPLATES = (
    "{A} and {B} were fixing a bike in the yard. {S} passed the wrench to {IO}.",
    "It was raining, so {A} and {B} stayed inside all day. In the evening {S} made a cup of tea for {IO}.",
    "{A} sat down beside {B} on the train. After a while, {S} offered an apple to {IO}.",
    "The shop was about to close when {A} and {B} arrived. {S} bought a postcard for {IO}.",
    "On the first day of school, {A} met {B} in the hall. {S} showed the timetable to {IO}.",
    "{A} and {B} spent the afternoon painting the fence. When they finished, {S} threw the brushes to {IO}.",
)


def _rate_words(rate: float, yes: float = 0.85, partly: float = 0.65) -> str:
    if rate >= yes:
        return "yes"
    if rate >= partly:
        return "partly"
    return "no: about chance (0.5)" if rate < 0.6 else "no: a little above chance (0.5)"


def _row(question: str, measured: str, answer: str) -> dict[str, str]:
    return {"question": question, "measured": measured, "answer": answer}


def _induction_rows(model) -> list[dict[str, str]]:
    ind = metrics.induction_scores(model)
    prev = metrics.previous_token_scores(model)
    first, repeat = metrics.repeated_halves_loss(model, batch=16)
    li, hi = divmod(int(ind.argmax()), ind.shape[1])
    lp, hp = divmod(int(prev.argmax()), prev.shape[1])
    best, best_prev = ind.max().item(), prev.max().item()
    return [
        _row(
            "Does it have induction heads?",
            f"best induction score {best:.2f} (head {li}.{hi}); yes at >= 0.5",
            "yes" if best >= 0.5 else "no",
        ),
        _row(
            "Does it have a previous-token head?",
            f"best previous-token score {best_prev:.2f} (head {lp}.{hp}); yes at >= 0.5",
            "yes" if best_prev >= 0.5 else "no",
        ),
        _row(
            "Does it predict a repeated sequence from its first copy?",
            f"loss {first:.2f} nats on random tokens, {repeat:.2f} on their repeat; yes if the repeat costs <= half",
            "yes" if repeat <= first / 2 else "no",
        ),
    ]


@torch.no_grad()
def attn_only_card(model) -> list[dict[str, str]]:
    return _induction_rows(model)


def _fresh_prompts(n: int, seed: int) -> list[dict[str, str]]:
    return synthetic.ioi_prompts(n, seed, FRESH_IOI_TEMPLATES, synthetic.IOI_NAMES)


# (family, how its prompts are made, whether the stand-in trained on that form) for `ioi_forms`
IOI_FAMILIES = (
    ("its training templates and names", lambda n: scorecard.ioi_prompt_set(n, 11, False, False), True),
    ("the grammar's held-out templates, held-out names", lambda n: scorecard.ioi_prompt_set(n, 12), False),
    ("hand-written, outside the grammar", lambda n: scorecard.ioi_prompt_set(n, 13, novel=True), False),
    ("written blind by someone who never saw the grammar", lambda n: scorecard.ioi_blind_prompt_set(n, 14), False),
    ("a sentence between the names and the action", lambda n: scorecard.ioi_gap_prompt_set(n, 15), False),
    ("a word before the subject ('Later, S gave ...')", lambda n: scorecard.ioi_lead_prompt_set(n, 16), False),
    ("a name starts a sentence", lambda n: scorecard.ioi_after_prompt_set(n, 17), False),
    ("this card's own, written after training", lambda n: _fresh_prompts(n, 18), False),
)


@torch.no_grad()
def facts_known(model) -> list[dict[str, object]]:
    """`scorecard.facts_table`, with prompts of one length run as one batch (the same greedy answers)."""
    from collections import defaultdict

    rows = synthetic.heldout_fact_prompts()
    by_len: dict[int, list[int]] = defaultdict(list)
    tokens = [model.to_tokens(r["prompt"])[0] for r in rows]
    for i, t in enumerate(tokens):
        by_len[len(t)].append(i)
    said: dict[int, str] = {}
    for idx in by_len.values():
        top = model(torch.stack([tokens[i] for i in idx]))[:, -1].argmax(-1)
        said.update({i: model.to_string(t) for i, t in zip(idx, top)})
    per_fact: dict[str, list[bool]] = defaultdict(list)
    for i, r in enumerate(rows):
        per_fact[r["fact"]].append(said[i] == r["answer"])
    return [{"fact": f, "correct": sum(ok), "phrasings": len(ok)} for f, ok in per_fact.items()]


_FORMS: dict[tuple[int, int], list[dict[str, object]]] = {}


@torch.no_grad()
def ioi_forms(model, n: int = 40) -> list[dict[str, object]]:
    """IOI win rate (logit of the indirect object above the subject's) on each family of sentence forms.

    Remembered per model and `n`: the card and the page's table share one measurement.
    """
    if (id(model), n) in _FORMS:
        return _FORMS[id(model), n]
    rows = []
    for family, prompts, trained in IOI_FAMILIES:
        diffs = scorecard.ioi_diffs(model, prompts(n))
        rows.append(
            {
                "sentence forms": family,
                "trained on this form": "yes" if trained else "no",
                "win rate": round((diffs > 0).float().mean().item(), 2),
                "mean logit difference": round(diffs.mean().item(), 2),
            }
        )
    _FORMS[id(model), n] = rows
    return rows


@torch.no_grad()
def gpt2_small_card(model, n_ioi: int | None = None) -> list[dict[str, str]]:
    if n_ioi is None:  # a real-size model on a CPU scores half as many prompts (micourse.budget)
        n_ioi = budget.scaled(model, full=40, cpu=20)
    rows = _induction_rows(model)
    forms = ioi_forms(model, n_ioi)
    trained = [r for r in forms if r["trained on this form"] == "yes"][0]
    new = [r for r in forms if r["trained on this form"] == "no"]
    worst = min(new, key=lambda r: r["win rate"])
    best = max(new, key=lambda r: r["win rate"])
    rows.append(
        _row(
            "Does it name the indirect object on the sentence forms it was trained on?",
            f"logit(IO) > logit(S) on {trained['win rate']:.2f} of {n_ioi} prompts; yes at >= 0.85, partly at >= 0.65",
            _rate_words(trained["win rate"]),
        )
    )
    rows.append(
        _row(
            "... and on sentence forms it never saw?",
            f"weakest family '{worst['sentence forms']}': {worst['win rate']:.2f}; strongest "
            f"'{best['sentence forms']}': {best['win rate']:.2f} ({len(new)} families, {n_ioi} prompts each)",
            _rate_words(worst["win rate"]) + " on every family"
            if worst["win rate"] >= 0.85
            else f"{_rate_words(worst['win rate'])} on its weakest family",
        )
    )
    facts = facts_known(model)
    known = sum(r["correct"] >= 3 for r in facts)
    rows.append(
        _row(
            "Does it know facts?",
            f"{known} of {len(facts)} facts completed in >= 3 phrasings it never trained on; yes at >= 10",
            "yes" if known >= 10 else "no",
        )
    )
    effect = metrics.steering_effect(model)
    moved = effect["plus"] > effect["base"] > effect["minus"]
    rows.append(
        _row(
            "Can its sentiment be steered?",
            "log-odds of a positive over a negative word: "
            + ", ".join(f"{k} {v:.2f}" for k, v in effect.items())
            + "; yes if adding the direction raises it and subtracting lowers it",
            "yes" if moved else "no",
        )
    )
    return rows
