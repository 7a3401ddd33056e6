"""Chapter 2's exercises follow the single-source format: box, solution cell with markers, hint,
checker call; every checker has a test that feeds it wrong answers; the chapter has >= 24."""

import importlib
import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "chapters" / "02-mech-interp").glob("*.md"))


def exercises(page: Path):
    cells = jupytext.read(page).cells
    for i, cell in enumerate(cells):
        if cell.cell_type == "code" and "exercise" in cell.metadata.get("tags", []):
            yield cells[i - 1], cell, cells[i + 1], cells[i + 2]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_exercise_format(page):
    for box, solution, hint, check in exercises(page):
        assert ":::{admonition} Exercise" in box.source and ":class: exercise" in box.source
        assert re.search(r"Difficulty .* · Importance .* · about \d+ minutes", box.source)
        assert "# BEGIN SOLUTION" in solution.source and "# END SOLUTION" in solution.source
        assert "import " not in solution.source, "keep imports out of exercise cells"
        assert (
            hint.cell_type == "markdown" and hint.source.startswith(":::{hint}") and ":class: dropdown" in hint.source
        )
        match = re.search(r"from micourse\.checks\.(\w+) import (check_\w+)", check.source)
        assert match and f"{match[2]}(" in check.source, check.source
        module, name = match[1], match[2]
        assert callable(getattr(importlib.import_module(f"micourse.checks.{module}"), name))
        test_file = ROOT / "tests" / f"test_checks_{module}.py"
        text = test_file.read_text()
        assert re.search(rf"chk\.{name}\(", text), f"{name} is never shown to accept an answer in {test_file.name}"
        n_rejects = len(re.findall(rf"rejects\(\s*chk\.{name},", text))
        assert n_rejects >= 3, f"{name} should be shown to reject >= 3 wrong answers"


def test_chapter_has_enough_exercises():
    assert sum(1 for page in PAGES for _ in exercises(page)) >= 24
