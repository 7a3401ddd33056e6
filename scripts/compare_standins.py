"""Compare gpt2-small stand-in weight files on IOI, with more prompts than the scorecard's 100.

The scorecard (`micourse.standins.scorecard`) is sized to run on the stand-in page; choosing
between two retrained files needs larger samples (at 100 prompts a win rate moves by about 0.04
from one seed to the next) and the splits that say where a file wins or loses. Every row uses
templates never trained; names are held out unless the row says "trained names":

- hh: the grammar's held-out templates (300 prompts, seed 101), with the IO as top-1 prediction
- novel: the 8 hand-written templates (300, seed 103)
- blind: the 40 written-blind templates (400, seed 1), split by a phrase before the subject
- blind, trained names: the same templates with the trained IOI names (400, seed 1)
- lead / start / after: the scorecard's shaped sets (300 each, seeds 104-106)

Then facts, induction and the repeat ratio as the file's recorded scorecard has them. These are
the sets the training log's tables (docs/standin-training-log.md) report since session 24.

`--attention` adds, per file, where each head looks on the blind prompts whose every name mention
is one token: from the last token to S1, S2 and the IO, and from S2 back to S1 (a duplicate-token
head), on all of them and split by a phrase before the subject. The training log's circuit
tables are these numbers.

    python scripts/compare_standins.py FILE [FILE ...] [--attention] [--json OUT]

About 60 s a file on one CPU thread.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from micourse.models import load_standin
from micourse.standins import scorecard as S
from micourse.standins import synthetic
from micourse.standins.weights import read_metadata


def prompt_sets() -> dict[str, list[dict[str, str]]]:
    return {
        "hh": S.ioi_prompt_set(300, 101),
        "novel": S.ioi_prompt_set(300, 103, novel=True),
        "blind": S.ioi_blind_prompt_set(400, 1),
        "blind_trained_names": S.ioi_blind_prompt_set(400, 1, names=synthetic.IOI_NAMES),
        "lead": S.ioi_lead_prompt_set(300, 104),
        "start": S.ioi_start_prompt_set(300, 105),
        "after": S.ioi_after_prompt_set(300, 106),
    }


@torch.no_grad()
def compare(path: Path, sets: dict[str, list[dict[str, str]]]) -> dict[str, float]:
    model = load_standin("gpt2-small", path=path)
    row: dict[str, float] = {}
    for key, prompts in sets.items():
        d = S.ioi_diffs(model, prompts)
        row[key] = round((d > 0).float().mean().item(), 3)
        row[f"{key}_diff"] = round(d.mean().item(), 2)
        if key == "hh":
            row["hh_top1"] = round(S.ioi_top1(model, prompts).mean().item(), 2)
        if key.startswith("blind"):
            phrase = torch.tensor([S.phrase_before_subject(p["template"]) for p in prompts])
            row[f"{key}_phrase"] = round((d[phrase] > 0).float().mean().item(), 3)
            row[f"{key}_none"] = round((d[~phrase] > 0).float().mean().item(), 3)
    card = read_metadata(path)[1].get("scorecard")
    if card:
        row["facts_3plus"] = sum(f["correct"] >= 3 for f in card["facts"])
        row["induction"] = card["induction_score"]
        row["repeat_ratio"] = round(card["loss_repeated_half"] / card["loss_first_half"], 3)
        row["ablation_removes"] = round(card["ioi_ablation"]["fraction_removed"], 2)
    return row


def _mentions(model, prompt: dict[str, str]) -> dict | None:
    """Positions of each name's mentions ("S1", "S2", "IO": lists of indices) and the prompt's "tokens",
    or None if a mention is not one token."""
    tokens = model.to_tokens(prompt["prompt"])[0]
    words = [model.tokenizer.decode([t]).strip() for t in tokens.tolist()]
    at = {role: [i for i, w in enumerate(words) if w == prompt[role]] for role in ("s", "io")}
    if len(at["s"]) != 2 or len(at["io"]) != 1:  # a name split into several tokens somewhere
        return None
    return {"S1": at["s"][:1], "S2": at["s"][1:], "IO": at["io"], "tokens": tokens}


@torch.no_grad()
def attention(path: Path, prompts: list[dict[str, str]]) -> dict[str, dict]:
    """Mean attention per [layer][head] (from the last token to S1, S2, IO, and from S2 to S1), on
    all the prompts and on those with and without a phrase before the subject."""
    model = load_standin("gpt2-small", path=path)
    sums: dict[str, dict[str, torch.Tensor]] = {"all": {}, "phrase": {}, "none": {}}
    counts = dict.fromkeys(sums, 0)
    for p in prompts:
        m = _mentions(model, p)
        if m is None:
            continue
        _, cache = model.run_with_cache(m["tokens"][None], names_filter=lambda n: n.endswith("hook_pattern"))
        pattern = torch.stack(
            [cache["pattern", layer][0] for layer in range(model.cfg.n_layers)]
        )  # [layer, head, q, k]
        end = pattern.shape[-2] - 1
        here = {role: pattern[:, :, end, m[role]].sum(-1) for role in ("S1", "S2", "IO")}
        here["S2->S1"] = pattern[:, :, m["S2"][0], m["S1"][0]]
        for split in ("all", "phrase" if S.phrase_before_subject(p["template"]) else "none"):
            counts[split] += 1
            for k, v in here.items():
                sums[split][k] = sums[split][k] + v if k in sums[split] else v.clone()
    out = {}
    for split, by_role in sums.items():
        out[split] = {k: (v / counts[split]).tolist() for k, v in by_role.items()}
        out[split]["prompts"] = counts[split]
    return out


def print_attention(name: str, att: dict) -> None:
    for split, what in (("all", ""), ("phrase", ", a phrase before the subject"), ("none", ", no phrase")):
        a = att[split]
        if not a.get("prompts"):
            continue
        print(f"\n{name}: mean attention on {a['prompts']} blind prompts{what} (heads in order)\n")
        print("| layer | end -> S1 | end -> S2 | end -> IO | S2 -> S1 |")
        print("|---|---|---|---|---|")
        for layer in range(len(a["S1"])):
            cells = [" ".join(f"{x:.2f}" for x in a[k][layer]) for k in ("S1", "S2", "IO", "S2->S1")]
            print(f"| {layer} | " + " | ".join(cells) + " |")


COLUMNS = (
    ("hh", "hh"),
    ("hh_top1", "top-1"),
    ("novel", "novel"),
    ("blind", "blind"),
    ("blind_phrase", "phrase"),
    ("blind_none", "none"),
    ("blind_trained_names", "blind, trained names"),
    ("lead", "lead"),
    ("start", "start"),
    ("after", "after"),
    ("facts_3plus", "facts"),
    ("induction", "induction"),
    ("repeat_ratio", "ratio"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--json", type=Path, help="also write every number, per file, to this JSON file")
    parser.add_argument("--attention", action="store_true", help="also where each head looks on blind prompts")
    args = parser.parse_args()
    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        parser.error(f"no such weight file: {', '.join(missing)}")
    torch.set_num_threads(1)
    sets = prompt_sets()
    rows = {}
    print("| file | " + " | ".join(label for _, label in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for f in args.files:
        rows[str(f)] = row = compare(f, sets)
        print(f"| {f.name} | " + " | ".join(str(row.get(k, "")) for k, _ in COLUMNS) + " |", flush=True)
    if args.attention:
        for f in args.files:
            rows[str(f)]["attention"] = att = attention(f, sets["blind"])
            print_attention(f.name, att)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
