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

    python scripts/compare_standins.py FILE [FILE ...] [--json OUT]

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
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
