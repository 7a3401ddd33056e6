"""Run every generated *exercises* notebook: it may fail only at its stubs.

A learner opens the exercises notebook and runs it top to bottom before writing anything.
Every error they then see must be a stub saying "implement me" (`NotImplementedError` raised
inside a cell tagged `exercise`: in this notebook it is the stub), never a NameError, ImportError or SyntaxError from a
cell that forgot the learner has not written the code yet.

Executing them all is `make test-exercises` (MICOURSE_EXECUTE_EXERCISES=1); `make test` proves the
same rule by reading the notebooks (`test_exercises_static.py`, `coursebuild.stubflow`), which this
file's rule cross-checks on crafted notebooks. The *solutions* notebooks must pass outright: the
site build executes their code offline, the rehearsal executes the notebooks online.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import NOTEBOOKS, SITE_NOTEBOOKS, need_built

STUB_TAG = "exercise"  # coursebuild.exercises.EXERCISE_TAG: the cell is its stub in this notebook
CELL_TIMEOUT_S = 600
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# ipykernel names notebook frames "Cell In[7], line 3"
_CELL_FRAME = re.compile(r"Cell In\s*\[(\d+)\]")


def _exercises_notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.rglob("*-exercises.ipynb")) if NOTEBOOKS.is_dir() else []


def _is_stub(cell) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    return STUB_TAG in tags or "raise NotImplementedError" in cell.get("source", "")


def _errors(nb) -> list[tuple[int, object, dict]]:
    """(cell index, cell, error output) for every cell that raised."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append((i, cell, out))
    return found


def stub_failure_problems(nb) -> list[str]:
    """Why the executed notebook fails somewhere other than at a stub (empty when it does not)."""
    stub_counts = {c.get("execution_count") for c in nb.cells if c.cell_type == "code" and _is_stub(c)}
    stub_counts.discard(None)
    problems = []
    for i, cell, out in _errors(nb):
        where = f"cell {i} (`{cell.source.strip().splitlines()[0][:60] if cell.source.strip() else ''}`)"
        ename, evalue = out.get("ename", "?"), out.get("evalue", "")
        if ename != "NotImplementedError":
            problems.append(f"{where} raised {ename}: {evalue}")
            continue
        frames = [int(n) for n in _CELL_FRAME.findall(_ANSI.sub("", "\n".join(out.get("traceback", []))))]
        if not frames or frames[-1] not in stub_counts:
            problems.append(f"{where} raised NotImplementedError ({evalue}) outside a cell tagged `{STUB_TAG}`")
    return problems


def test_there_are_exercises_notebooks():
    need_built(NOTEBOOKS, "the generated notebooks")
    assert _exercises_notebooks(), f"no *-exercises.ipynb under {NOTEBOOKS}"


def _code_of(path: Path) -> list[tuple[str, list]]:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return [(c.source, c.metadata.get("tags", [])) for c in nb.cells if c.cell_type == "code"]


def test_tested_notebooks_are_the_published_ones():
    """The notebooks run here have the same code cells as the ones the site publishes for Colab.

    (Their intro text may differ: the site build knows the site's address, the script does not.)
    """
    need_built(NOTEBOOKS, "the generated notebooks")
    need_built(SITE_NOTEBOOKS, "the site's notebooks")
    tested = sorted(p.relative_to(NOTEBOOKS) for p in NOTEBOOKS.rglob("*.ipynb"))
    published = sorted(p.relative_to(SITE_NOTEBOOKS) for p in SITE_NOTEBOOKS.rglob("*.ipynb"))
    assert tested == published, "`make notebooks` and the site build made different sets"
    differ = [str(rel) for rel in tested if _code_of(NOTEBOOKS / rel) != _code_of(SITE_NOTEBOOKS / rel)]
    assert not differ, f"these notebooks' code differs from the published ones (rebuild the site?): {differ}"


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("MICOURSE_EXECUTE_EXERCISES", "") in ("", "0"),
    reason="executing every exercises notebook is `make test-exercises`; `make test` reads them (test_exercises_static.py)",
)
@pytest.mark.parametrize(
    "path", _exercises_notebooks(), ids=lambda p: str(p.relative_to(NOTEBOOKS)) if NOTEBOOKS in p.parents else str(p)
)
def test_exercises_notebook_fails_only_at_stubs(path: Path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    problems = stub_failure_problems(nb)
    assert not problems, f"{path.name} fails outside its stubs:\n  " + "\n  ".join(problems)


# --------------------------------------------------------------------------- the rule itself


def _fake_notebook(cells):
    import nbformat

    nb = nbformat.v4.new_notebook()
    for n, (source, tags, error) in enumerate(cells, start=1):
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": tags}, execution_count=n)
        if error:
            ename, frame = error
            cell.outputs = [
                nbformat.v4.new_output(
                    "error", ename=ename, evalue="x", traceback=[f"\x1b[0;32mCell In[{frame}], line 2\x1b[0m"]
                )
            ]
        nb.cells.append(cell)
    return nb


def test_rule_accepts_a_stub_failure_reached_through_a_checker():
    nb = _fake_notebook(
        [
            ("def f(x):\n    raise NotImplementedError('write f')", [STUB_TAG], None),
            ("check_f(f)", [], ("NotImplementedError", 1)),
        ]
    )
    assert stub_failure_problems(nb) == []


@pytest.mark.parametrize(
    "error",
    [("NameError", 2), ("ImportError", 2), ("SyntaxError", 2), ("NotImplementedError", 2)],
    ids=["name-error", "import-error", "syntax-error", "not-implemented-outside-stub"],
)
def test_rule_rejects_other_failures(error):
    nb = _fake_notebook(
        [
            ("def f(x):\n    raise NotImplementedError('write f')", [STUB_TAG], None),
            ("y = g(1)", [], error),
        ]
    )
    assert len(stub_failure_problems(nb)) == 1
