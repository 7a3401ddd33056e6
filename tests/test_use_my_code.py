"""The "use my code" switch (`micourse.mycode`): one line near the top of each chapter-1 page and
week 1 makes the rest of the page run the learner's own implementations.

The structural tests run always. Executing each page's solutions notebook with the switch flipped
to True (the solutions are the learner's code there) takes a minute or two a page, so it runs only
with MICOURSE_RUN_MY_CODE=1:

    MICOURSE_RUN_MY_CODE=1 HF_HUB_OFFLINE=1 python -m pytest tests/test_use_my_code.py -k flipped
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from micourse.mycode import NotWrittenYet, choose, whose

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    "chapters/01-transformers/01-inputs-outputs.md",
    "chapters/01-transformers/02-foundations.md",
    "chapters/01-transformers/03-clean-gpt2.md",
    "chapters/01-transformers/04-training.md",
    "chapters/01-transformers/05-sampling.md",
    "chapters/01-transformers/06-kv-cache.md",
    "chapters/04-study-plan/01-week1-pytorch.md",
]
SWITCH = "USE_MY_CODE = False"
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("page", PAGES)
def test_one_switch_near_the_top_before_any_exercise(page):
    text = (ROOT / page).read_text()
    cells = CELL.findall(text)
    with_switch = [i for i, c in enumerate(cells) if SWITCH in c]
    assert len(with_switch) == 1, f"{page}: want exactly one code cell with {SWITCH!r}, found {len(with_switch)}"
    first_exercise = next(i for i, c in enumerate(cells) if c.startswith(":tags: [exercise]"))
    assert with_switch[0] < first_exercise, f"{page}: the switch must come before the first exercise"
    assert with_switch[0] <= 2, f"{page}: the switch belongs near the top (code cell {with_switch[0]})"
    assert "choose(USE_MY_CODE" in text or "if not USE_MY_CODE" in text, f"{page}: the switch is never read"


def test_choose():
    reference, mine = object(), object()
    assert choose(False, "f", reference, {"f": mine}) is reference
    assert choose(True, "f", reference, {"f": mine}) is mine
    assert choose(False, "f", reference, {}) is reference  # an unwritten exercise is fine with the switch off
    with pytest.raises(NotWrittenYet, match="run the cell of its exercise"):
        choose(True, "f", reference, {})
    with pytest.raises(TypeError, match="True or False"):
        choose("yes", "f", reference, {"f": mine})
    assert whose(True) == "your own code" and "reference" in whose(False)


def flip(notebook: Path) -> None:
    """Set the switch to True in a generated notebook (what a learner does by editing one line)."""
    nb = json.loads(notebook.read_text())
    hits = 0
    for cell in nb["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if SWITCH in src:
            cell["source"] = src.replace(SWITCH, "USE_MY_CODE = True", 1)
            hits += 1
    assert hits == 1, f"{notebook}: {hits} switches"
    notebook.write_text(json.dumps(nb))


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("MICOURSE_RUN_MY_CODE") != "1", reason="set MICOURSE_RUN_MY_CODE=1 to execute")
@pytest.mark.parametrize("page", PAGES)
def test_solutions_notebook_runs_flipped(page, tmp_path):
    subprocess.run(
        [sys.executable, "scripts/make_notebooks.py", page, "--out", str(tmp_path), "--variant", "solutions"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (notebook,) = tmp_path.rglob("*-solutions.ipynb")
    flip(notebook)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbmake",
            "--nbmake-timeout=900",
            "-p",
            "no:cacheprovider",
            "-q",
            str(notebook),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-4000:]
