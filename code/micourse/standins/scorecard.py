"""The scorecard: does a model show, on data it never trained on, what the interpretability pages teach?

Each entry is measured on held-out data: random tokens repeated (induction), indirect-object
prompts from templates and names no training IOI sentence used, facts in phrasings never trained,
and a steering vector. Only TransformerLens hook names are used, so the same functions score the
real GPT-2 small (online) and the course's stand-in (offline): a page calls them on whichever
`load_model` returned.
"""

from __future__ import annotations

import functools
import random
from collections import defaultdict
from collections.abc import Callable

import torch
from jaxtyping import Float
from torch import Tensor

from micourse.standins import metrics, synthetic
from micourse.standins.ioi_grammar import BLIND_TEMPLATES, HELDOUT_LEADS, join, subject_lead


def _head_name(layer: int, head: int) -> str:
    return f"{layer}.{head}"


def _argmax_head(scores: Float[Tensor, "layer head"]) -> tuple[str, float]:
    flat = int(scores.argmax())
    layer, head = divmod(flat, scores.shape[1])
    return _head_name(layer, head), scores[layer, head].item()


def ioi_prompt_set(
    n: int, seed: int, heldout_templates: bool = True, heldout_names: bool = True, novel: bool = False
) -> list[dict[str, str]]:
    """IOI prompts from the held-out (or trained) templates and names; `novel`: the hand-written templates."""
    if novel:
        templates = synthetic.IOI_NOVEL_TEMPLATES
    else:
        templates = synthetic.IOI_HELDOUT_TEMPLATES if heldout_templates else synthetic.IOI_TEMPLATES
    names = synthetic.HELDOUT_NAMES if heldout_names else synthetic.IOI_NAMES
    return synthetic.ioi_prompts(n, seed, templates, names)


def ioi_blind_prompt_set(n: int, seed: int, names: tuple[str, ...] = synthetic.HELDOUT_NAMES) -> list[dict[str, str]]:
    """IOI prompts from `ioi_grammar.BLIND_TEMPLATES` (40 templates written by someone who never saw the
    grammar) with held-out names, each with its "template": the nearest thing here to a maintainer's
    own prompts. (`names`: another name list, e.g. the trained IOI names, to tell the templates'
    share of the failures from the names'.)"""
    return _shaped_prompts(n, seed, lambda rng: rng.choice(BLIND_TEMPLATES), names)


def phrase_before_subject(template: str) -> bool:
    """Whether words that name no one stand between the start of the subject's sentence and the
    subject ("The next day, {S} lent ..."), where the grammar's actions start with the subject."""
    return bool(subject_lead(template))


@functools.cache
def _heldout_gaps() -> tuple[str, ...]:
    from micourse.data import web_text
    from micourse.standins.ioi_grammar import gap_sentences

    return gap_sentences(web_text("heldout"))


def _shaped_prompts(
    n: int, seed: int, template: Callable[[random.Random], str], names: tuple[str, ...] = synthetic.HELDOUT_NAMES
) -> list[dict[str, str]]:
    """`n` IOI prompts with held-out names (or `names`), each from its own `template(rng)` drawn
    before its names (kept as the prompt's "template")."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        t = template(rng)
        out.append({**synthetic.ioi_sentence(rng, (t,), names), "template": t})
    return out


_SENTENCE_INTROS = tuple(i for i in synthetic.IOI_INTROS if i.endswith("."))


def ioi_gap_prompt_set(n: int, seed: int) -> list[dict[str, str]]:
    """IOI prompts with a sentence between the opening and the action, held-out names.

    A trained opening that ends a sentence, then a sentence naming no one from the held-out books
    of the World English Bible, then a trained action. Set beside the trained-templates x
    held-out-names row, it shows whether a model's IOI survives the names standing a sentence
    away from the action, as they often do in real text.
    """
    gaps = _heldout_gaps()
    return _shaped_prompts(
        n,
        seed,
        lambda rng: join(rng.choice(_SENTENCE_INTROS) + " " + rng.choice(gaps), rng.choice(synthetic.IOI_ACTIONS)),
    )


def ioi_lead_prompt_set(n: int, seed: int) -> list[dict[str, str]]:
    """IOI prompts with a word before the subject of the action, held-out names.

    A trained opening that ends a sentence, then a trained action that starts with one of
    `ioi_grammar.HELDOUT_LEADS` ("Later, S gave a ring to"). A model that has learned "the name
    that starts the action's sentence is the subject" rather than "the repeated name is the
    subject" fails here: real text often puts a word there.
    """

    def template(rng: random.Random) -> str:
        lead = rng.choice(HELDOUT_LEADS) + rng.choice((", ", " "))
        return join(rng.choice(_SENTENCE_INTROS), lead + rng.choice(synthetic.IOI_ACTIONS))

    return _shaped_prompts(n, seed, template)


def ioi_start_prompt_set(n: int, seed: int) -> list[dict[str, str]]:
    """IOI prompts whose first name starts the text, held-out names: "Mary and John met at the
    park. John gave a ring to".

    A trained opening that starts with a name, then a trained action. At the start of a text the
    name is GPT-2's unspaced token ("Mary", or two pieces), while the answer is the spaced " Mary":
    a model that has only learned to copy a name from its spaced token fails when the IO comes
    first, and answers the second name. People often start a prompt with a name.
    """
    return _shaped_prompts(
        n, seed, lambda rng: join(rng.choice(synthetic.NAME_FIRST_INTROS), rng.choice(synthetic.IOI_ACTIONS))
    )


def ioi_after_prompt_set(n: int, seed: int) -> list[dict[str, str]]:
    """IOI prompts whose first name starts a sentence after one that names no one, held-out names:
    "The gate was shut. Mary and John met at the park. John gave a ring to".

    A sentence from the held-out books of the World English Bible, then a trained opening that
    starts with a name, then a trained action. The subject of the action also starts its
    sentence, so a model that has learned "the name that starts a sentence is the subject" (and
    not "the repeated name is") answers the other name whenever the IO comes first. Set beside
    the row where a name starts the text, it separates that from the unspaced first token.
    """
    gaps = _heldout_gaps()
    return _shaped_prompts(
        n,
        seed,
        lambda rng: (
            rng.choice(gaps) + " " + join(rng.choice(synthetic.NAME_FIRST_INTROS), rng.choice(synthetic.IOI_ACTIONS))
        ),
    )


@torch.no_grad()
def ioi_diffs(model, prompts: list[dict[str, str]], fwd_hooks=()) -> Float[Tensor, " n"]:
    """logit(IO) - logit(S) at each prompt's last position; prompts of equal length run as one batch."""
    return _ioi_last_logits(model, prompts, fwd_hooks)[0]


@torch.no_grad()
def ioi_top1(model, prompts: list[dict[str, str]]) -> Float[Tensor, " n"]:
    """1.0 where the IO is the model's top prediction of all tokens, else 0.0.

    Stricter than the logit difference: a model that only pushes S down (and predicts some other
    name) wins on logit(IO) > logit(S) but says the wrong name when asked to continue the text.
    """
    return _ioi_last_logits(model, prompts, ())[1]


def _ioi_last_logits(model, prompts, fwd_hooks) -> tuple[Float[Tensor, " n"], Float[Tensor, " n"]]:
    groups: dict[int, list[int]] = defaultdict(list)
    tokens = [model.to_tokens(p["prompt"])[0] for p in prompts]
    for i, t in enumerate(tokens):
        groups[len(t)].append(i)
    diff, top1 = torch.empty(len(prompts)), torch.empty(len(prompts))
    for idx in groups.values():
        logits = model.run_with_hooks(torch.stack([tokens[i] for i in idx]), fwd_hooks=list(fwd_hooks))[:, -1]
        io = torch.tensor([model.to_single_token(" " + prompts[i]["io"]) for i in idx])
        s = torch.tensor([model.to_single_token(" " + prompts[i]["s"]) for i in idx])
        rows = torch.arange(len(idx))
        diff[idx] = logits[rows, io] - logits[rows, s]
        top1[idx] = (logits.argmax(-1) == io).float()
    return diff, top1


@torch.no_grad()
def _mean_z(model, prompts) -> dict[int, Tensor]:
    """Each head's mean output (hook_z) over every position of every prompt: what mean ablation puts in."""
    sums = {l: 0.0 for l in range(model.cfg.n_layers)}
    count = 0
    for p in prompts:
        _, cache = model.run_with_cache(model.to_tokens(p["prompt"]), names_filter=lambda n: n.endswith("attn.hook_z"))
        for l in range(model.cfg.n_layers):
            sums[l] = sums[l] + cache["z", l][0].sum(0)  # head d_head
        count += cache["z", 0].shape[1]
    return {l: s / count for l, s in sums.items()}


def _ablate(heads: list[tuple[int, int]], means: dict[int, Tensor]):
    by_layer: dict[int, list[int]] = defaultdict(list)
    for l, h in heads:
        by_layer[l].append(h)

    def make(layer: int):
        def hook(z, hook):
            for h in by_layer[layer]:
                z[:, :, h] = means[layer][h]
            return z

        return hook

    return [(f"blocks.{l}.attn.hook_z", make(l)) for l in by_layer]


@torch.no_grad()
def head_direct_effects(model, prompts: list[dict[str, str]]) -> Float[Tensor, "layer head"]:
    """Each head's direct logit attribution to logit(IO) - logit(S) at the last position, averaged.

    One cached forward pass per prompt: each head's output (hook_z through W_O) is divided by the
    final LayerNorm's scale and projected on the unembedding's IO - S direction.
    """
    total = torch.zeros(model.cfg.n_layers, model.cfg.n_heads)
    for p in prompts:
        _, cache = model.run_with_cache(
            model.to_tokens(p["prompt"]), names_filter=lambda n: n.endswith("hook_z") or n == "ln_final.hook_scale"
        )
        io, s = model.to_single_token(" " + p["io"]), model.to_single_token(" " + p["s"])
        direction = model.W_U[:, io] - model.W_U[:, s]  # d_model
        if getattr(model.ln_final, "w", None) is not None:  # LayerNorm weights not folded into W_U
            direction = direction * model.ln_final.w
        scale = cache["ln_final.hook_scale"][0, -1]  # 1
        for l in range(model.cfg.n_layers):
            out = torch.einsum("hd,hdm->hm", cache["z", l][0, -1], model.W_O[l])  # head d_model
            total[l] += (out / scale) @ direction
    return total / len(prompts)


@torch.no_grad()
def ioi_head_ablation(
    model, prompts: list[dict[str, str]], k: int = 3, candidates: int | None = None
) -> dict[str, object]:
    """The `k` heads whose mean ablation lowers the IOI logit difference most, and the difference with all `k` ablated.

    Heads are ranked one at a time (mean ablation: the head's output replaced by its average over
    the prompts), then the top `k` are ablated together. Ranking costs one pass per head; with
    `candidates`, only that many heads are tried, those with the largest direct effect on the
    answer (`head_direct_effects`, either sign): on a full-size model on a CPU that saves most of
    the time, at the price of missing heads that act only through later heads.
    """
    if candidates is not None and not 1 <= candidates:
        raise ValueError(f"candidates must be a positive number of heads or None, got {candidates}")
    means = _mean_z(model, prompts)
    base = ioi_diffs(model, prompts).mean().item()
    n_heads = model.cfg.n_layers * model.cfg.n_heads
    if candidates is None or candidates >= n_heads:
        tried = list(range(n_heads))
    else:
        tried = head_direct_effects(model, prompts).abs().flatten().argsort(descending=True)[:candidates].tolist()
    drops = torch.full((model.cfg.n_layers, model.cfg.n_heads), float("nan"))
    for i in tried:
        l, h = divmod(i, model.cfg.n_heads)
        drops[l, h] = base - ioi_diffs(model, prompts, _ablate([(l, h)], means)).mean().item()
    order = drops.flatten().nan_to_num(float("-inf")).argsort(descending=True)[:k].tolist()
    heads = [divmod(i, model.cfg.n_heads) for i in order]
    after = ioi_diffs(model, prompts, _ablate(heads, means)).mean().item()
    return {
        "heads": [_head_name(l, h) for l, h in heads],
        "diff_before": base,
        "diff_after": after,
        "fraction_removed": (base - after) / base if base > 0 else float("nan"),
        "heads_tried": len(tried),
        "single_head_drops": drops,
    }


@torch.no_grad()
def facts_table(model) -> list[dict[str, object]]:
    """For each fact: how many of its never-trained phrasings the model completes correctly (greedy)."""
    per_fact: dict[str, list[bool]] = defaultdict(list)
    answers = {}
    for row in synthetic.heldout_fact_prompts():
        per_fact[row["fact"]].append(metrics.greedy_next(model, row["prompt"]) == row["answer"])
        answers[row["fact"]] = row["answer"].strip()
    return [{"fact": f, "answer": answers[f], "correct": sum(ok), "phrasings": len(ok)} for f, ok in per_fact.items()]


@torch.no_grad()
def quick_scorecard(model, n_ioi: int = 60) -> dict[str, float]:
    """The few numbers worth watching while training (seconds on a CPU)."""
    ind = metrics.induction_scores(model)
    prev = metrics.previous_token_scores(model)
    first, repeat = metrics.repeated_halves_loss(model)
    held = ioi_diffs(model, ioi_prompt_set(n_ioi, seed=1))
    trained = ioi_diffs(model, ioi_prompt_set(n_ioi, seed=2, heldout_templates=False, heldout_names=False))
    novel = ioi_diffs(model, ioi_prompt_set(n_ioi, seed=3, novel=True))
    facts = facts_table(model)
    return {
        "induction": round(ind.max().item(), 3),
        "prev_token": round(prev.max().item(), 3),
        "loss_first_half": round(first, 2),
        "loss_repeat": round(repeat, 2),
        "ioi_heldout_win": round((held > 0).float().mean().item(), 3),
        "ioi_heldout_diff": round(held.mean().item(), 2),
        "ioi_trained_win": round((trained > 0).float().mean().item(), 3),
        "ioi_novel_win": round((novel > 0).float().mean().item(), 3),
        "facts_3plus": sum(r["correct"] >= 3 for r in facts),
        "fact_phrasings_correct": round(sum(r["correct"] for r in facts) / sum(r["phrasings"] for r in facts), 3),
    }


@torch.no_grad()
def scorecard(
    model, n_ioi: int = 100, seed: int = 0, ablate_k: int = 3, ablate_n: int = 24, ablate_candidates: int | None = None
) -> dict[str, object]:
    """Every number of the issue's bars, on held-out data (about 20 s for the stand-in on a CPU).

    The head ablation uses the first `ablate_n` held-out IOI prompts: it runs one pass per head,
    which for the real GPT-2 small (144 heads) is most of the cost.
    """
    ind = metrics.induction_scores(model, seed=seed)
    prev = metrics.previous_token_scores(model, seed=seed)
    # 32 sequences: with 8, the ratio of the same weights swings by 0.08 from seed to seed
    first, repeat = metrics.repeated_halves_loss(model, batch=32, seed=seed)
    card: dict[str, object] = {}
    card["induction_head"], card["induction_score"] = _argmax_head(ind)
    card["prev_token_head"], card["prev_token_score"] = _argmax_head(prev)
    card["loss_first_half"], card["loss_repeated_half"] = first, repeat
    sets = {
        "heldout_templates_heldout_names": ioi_prompt_set(n_ioi, seed + 10),
        "heldout_templates_trained_names": ioi_prompt_set(n_ioi, seed + 11, heldout_names=False),
        "trained_templates_heldout_names": ioi_prompt_set(n_ioi, seed + 12, heldout_templates=False),
        "trained_templates_trained_names": ioi_prompt_set(n_ioi, seed + 13, False, False),
        "novel_templates_heldout_names": ioi_prompt_set(n_ioi, seed + 14, novel=True),
        "trained_templates_heldout_names_gap": ioi_gap_prompt_set(n_ioi, seed + 15),
        "trained_templates_heldout_names_lead": ioi_lead_prompt_set(n_ioi, seed + 16),
        "trained_templates_heldout_names_start": ioi_start_prompt_set(n_ioi, seed + 17),
        "blind_templates_heldout_names": ioi_blind_prompt_set(n_ioi, seed + 18),
        "trained_templates_heldout_names_after": ioi_after_prompt_set(n_ioi, seed + 19),
    }
    card["ioi"], diffs = {}, {}
    for key, prompts in sets.items():
        d, top1 = _ioi_last_logits(model, prompts, ())
        diffs[key] = d
        card["ioi"][key] = {
            "win_rate": (d > 0).float().mean().item(),
            "mean_logit_diff": d.mean().item(),
            "top1_rate": top1.mean().item(),
        }
    # Where a small model falls back on position ("the name mentioned last"), IO-first prompts fail.
    held, d = sets["heldout_templates_heldout_names"], diffs["heldout_templates_heldout_names"]
    io_first = torch.tensor([p["first"] == p["io"] for p in held])
    card["ioi_name_order"] = {
        "io_first_win_rate": (d[io_first] > 0).float().mean().item(),
        "s_first_win_rate": (d[~io_first] > 0).float().mean().item(),
    }
    # The blind set's commonest failure: a phrase before the subject ("The next day, S lent ...").
    blind, d = sets["blind_templates_heldout_names"], diffs["blind_templates_heldout_names"]
    lead = torch.tensor([phrase_before_subject(p["template"]) for p in blind])
    card["ioi_blind_by_shape"] = {
        "phrase_before_subject_win_rate": (d[lead] > 0).float().mean().item(),
        "subject_first_win_rate": (d[~lead] > 0).float().mean().item(),
    }
    abl = ioi_head_ablation(
        model, sets["heldout_templates_heldout_names"][:ablate_n], k=ablate_k, candidates=ablate_candidates
    )
    card["ioi_ablation"] = {k: v for k, v in abl.items() if k != "single_head_drops"}
    facts = facts_table(model)
    card["facts"] = facts
    card["facts_with_3_heldout_phrasings"] = sum(r["correct"] >= 3 for r in facts)
    card["steering"] = metrics.steering_effect(model)
    return card


# (scorecard key, what the row measures) for the IOI sets beyond the four of the issue
EXTRA_IOI_ROWS = (
    ("novel_templates_heldout_names", "hand-written templates outside the grammar x held-out names"),
    (
        "blind_templates_heldout_names",
        "40 templates written by someone who never saw the grammar x held-out names",
    ),
    (
        "trained_templates_heldout_names_gap",
        "trained templates x held-out names, a sentence between opening and action",
    ),
    (
        "trained_templates_heldout_names_lead",
        'trained templates x held-out names, a word before the subject ("Later, S gave")',
    ),
    (
        "trained_templates_heldout_names_start",
        'trained templates x held-out names, a name starts the text ("A and B met ...")',
    ),
    (
        "trained_templates_heldout_names_after",
        "trained templates x held-out names, a name starts a sentence after one naming no one",
    ),
)


def scorecard_rows(card: dict[str, object]) -> list[dict[str, object]]:
    """The scorecard as (measure, value, bar) rows for a page's table."""
    ioi = card["ioi"]
    hh = ioi["heldout_templates_heldout_names"]
    abl = card["ioi_ablation"]
    steer = card["steering"]
    rows = [
        {
            "measure": f"best induction score (head {card['induction_head']})",
            "value": round(card["induction_score"], 2),
            "bar": ">= 0.5",
        },
        {
            "measure": f"best previous-token score (head {card['prev_token_head']})",
            "value": round(card["prev_token_score"], 2),
            "bar": "",
        },
        {
            "measure": "loss on repeated half / first half (nats)",
            "value": f"{card['loss_repeated_half']:.2f} / {card['loss_first_half']:.2f}",
            "bar": "repeat <= first / 2",
        },
        {
            "measure": "IOI win rate, held-out templates x held-out names",
            "value": round(hh["win_rate"], 2),
            "bar": ">= 0.9",
        },
        {
            "measure": "IOI mean logit diff, held-out templates x held-out names",
            "value": round(hh["mean_logit_diff"], 2),
            "bar": "> 1",
        },
        {
            "measure": "IOI win rate, held-out templates x trained names",
            "value": round(ioi["heldout_templates_trained_names"]["win_rate"], 2),
            "bar": "",
        },
        {
            "measure": "IOI win rate, trained templates x held-out names",
            "value": round(ioi["trained_templates_heldout_names"]["win_rate"], 2),
            "bar": "",
        },
        {
            "measure": "IOI win rate, trained templates x trained names (fresh sentences)",
            "value": round(ioi["trained_templates_trained_names"]["win_rate"], 2),
            "bar": "",
        },
    ]
    if "top1_rate" in hh:  # the copying of names: held-out names against trained ones
        ht = ioi["heldout_templates_trained_names"]
        rows.append(
            {
                "measure": "IOI: the IO is the top prediction of all tokens, held-out templates x held-out / trained names",
                "value": f"{hh['top1_rate']:.2f} / {ht['top1_rate']:.2f}",
                "bar": "",
            }
        )
    # rows that scorecards recorded before these sets existed do not have
    for key, label in EXTRA_IOI_ROWS:
        if key in ioi:
            rows.append({"measure": f"IOI win rate, {label}", "value": round(ioi[key]["win_rate"], 2), "bar": ""})
    if shape := card.get("ioi_blind_by_shape"):
        rows.append(
            {
                "measure": "IOI win rate, written-blind templates: a phrase before the subject / none",
                "value": f"{shape['phrase_before_subject_win_rate']:.2f} / {shape['subject_first_win_rate']:.2f}",
                "bar": "",
            }
        )
    if order := card.get("ioi_name_order"):
        rows.append(
            {
                "measure": "IOI win rate, held-out x held-out: IO named first / S named first",
                "value": f"{order['io_first_win_rate']:.2f} / {order['s_first_win_rate']:.2f}",
                "bar": "",
            }
        )
    return rows + [
        {
            "measure": f"IOI logit diff after ablating heads {', '.join(abl['heads'])}",
            "value": f"{abl['diff_after']:.2f} (from {abl['diff_before']:.2f})",
            "bar": "most removed",
        },
        {
            "measure": "facts right in >= 3 never-trained phrasings",
            "value": f"{card['facts_with_3_heldout_phrasings']} of {len(card['facts'])}",
            "bar": ">= 10",
        },
        {
            "measure": "steering: mood with -, 0, + vector",
            "value": f"{steer['minus']:.2f}, {steer['base']:.2f}, {steer['plus']:.2f}",
            "bar": "increasing",
        },
    ]


def to_json(card: dict[str, object]) -> dict[str, object]:
    """The scorecard with plain floats (for a weight file's metadata)."""

    def plain(v):
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        if isinstance(v, float):
            return round(v, 4)
        return v

    return plain(card)


def record(path, model=None) -> dict[str, object]:
    """Score the stand-in stored at `path` and write the scorecard into the file's metadata."""
    from pathlib import Path

    from micourse.standins.weights import update_meta

    if model is None:
        from micourse.local_models import load_local as load_standin

        model = load_standin("gpt2-small", path=Path(path))
    card = to_json(scorecard(model))
    update_meta(Path(path), scorecard=card)
    return card


if __name__ == "__main__":  # python -m micourse.standins.scorecard PATH: record a weight file's scorecard
    import json
    import sys

    print(json.dumps(record(sys.argv[1]), indent=1))
