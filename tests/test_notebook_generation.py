"""The Colab notebooks generated from a MyST page: right cells kept, MyST made Colab-readable."""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
import pytest

from conftest import MYST_HEADER, ROOT
from coursebuild import myst, repo
from coursebuild import notebooks as nbgen

SHA = "0123456789abcdef0123456789abcdef01234567"
REPO = repo.repository(ROOT)

PAGE = MYST_HEADER + textwrap.dedent(
    """\

    # A test page

    Some prose with a glued value {glue:text}`score:.2f` and a link to {doc}`the pipeline check <00-pipeline-check>`.

    (my-label)=
    ## An exercise

    :::{admonition} Exercise: implement `double`
    :class: exercise
    Difficulty 🔴⚪⚪⚪⚪ · about 2 minutes

    Return twice the input, for example:

    ```python
    double(2) == 4
    ```
    :::

    ```{code-cell} ipython3
    :tags: [exercise]

    def double(x):
        # BEGIN SOLUTION: STUB-MARKER
        return 2 * x  # SOLUTION-MARKER
        # END SOLUTION
    ```

    :::{hint}
    :class: dropdown
    Multiply by **two**.
    :::

    :::{note}
    A colon-fenced note.
    :::

    ```{code-cell} ipython3
    assert double(3) == 6
    ```
    """
)


@pytest.fixture()
def page(tmp_path: Path) -> Path:
    src = tmp_path / "chapters" / "99-test" / "01-page.md"
    src.parent.mkdir(parents=True)
    src.write_text(PAGE, encoding="utf8")
    return src


def _build(page: Path, variant: str):
    prov = nbgen.Provenance(repo=REPO, commit=SHA, source="chapters/99-test/01-page.md")
    return nbgen.build_notebook(page, variant, prov, docname="chapters/99-test/01-page")


def _code(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def _markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_exercises_keep_stub_and_drop_solution(page: Path) -> None:
    nb = _build(page, "exercises")
    assert "STUB-MARKER" in _code(nb)
    assert "SOLUTION-MARKER" not in _code(nb)
    assert "assert double(3) == 6" in _code(nb)  # ordinary cells stay


def test_solutions_keep_solution_and_drop_stub(page: Path) -> None:
    nb = _build(page, "solutions")
    assert "SOLUTION-MARKER" in _code(nb)
    assert "STUB-MARKER" not in _code(nb) and "BEGIN SOLUTION" not in _code(nb)


@pytest.mark.parametrize("variant", nbgen.VARIANTS)
def test_first_cell_installs_the_exact_commit_on_colab_only(page: Path, variant: str) -> None:
    nb = _build(page, variant)
    first = nb.cells[0]
    assert first.cell_type == "code"
    src = first.source
    assert f"git+{REPO.url}.git@{SHA}" in src
    assert "1.5-2 minutes" in src and "installed OK" in src
    assert '"google.colab" in sys.modules' in src
    assert "--constraint" in src and '"torch", "numpy"' in src  # Colab's torch/numpy are kept
    assert "--upgrade" not in src and "--force-reinstall" not in src
    # the page's title comes right after it
    assert nb.cells[1].source.lstrip().startswith("# A test page")


def test_install_cell_does_nothing_outside_colab(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    called = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: called.append(a))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(_build(page, "exercises").cells[0].source, "<install-cell>", "exec"), {})
    assert called == []


def test_install_cell_on_colab_pins_torch_and_numpy(page: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import subprocess
    import sys
    import types

    calls = []
    conflict = (
        "ERROR: pip's dependency resolver ... \ngoogle-colab 1.0 requires pandas==2.2.2, but you have pandas 2.3.0."
    )

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, stdout="Successfully installed micourse", stderr=conflict)

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(compile(_build(page, "solutions").cells[0].source, "<install-cell>", "exec"), {})
    printed = capsys.readouterr().out
    assert "installed OK" in printed and "harmless" in printed and "requires pandas" not in printed
    assert len(calls) == 1
    cmd = calls[0]
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
    constraints = Path(cmd[cmd.index("--constraint") + 1]).read_text()
    assert "torch==" in constraints and "numpy==" in constraints


def test_myst_is_converted_for_colab(page: Path) -> None:
    md = _markdown(_build(page, "exercises"))
    assert "{hint}" not in md and "{admonition}" not in md and "{note}" not in md and "{glue" not in md
    assert "<details>" in md and "<summary><b>Hint</b>" in md and "Multiply by **two**." in md
    assert "> **Exercise: implement `double`**" in md
    assert "> ```python" in md and "> double(2) == 4" in md  # nested code fence kept, inside the quote
    assert "> **Note**" in md and "A colon-fenced note." in md
    assert "`score`" in md and "the pipeline check" in md
    assert "(my-label)=" not in md


@pytest.mark.parametrize("variant", nbgen.VARIANTS)
def test_notebooks_are_valid_and_colab_ready(page: Path, variant: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    written = nbgen.write_notebooks(
        {"chapters/99-test/01-page": page}, out, repo=REPO, commit=SHA, root=tmp_path, variants=[variant]
    )
    assert [p.relative_to(out).as_posix() for p in written] == [f"99-test/01-page-{variant}.ipynb"]
    nb = nbformat.read(written[0], as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert "jupytext" not in nb.metadata
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_site_paths_match_what_the_banner_links() -> None:
    assert nbgen.notebook_site_path("chapters/01-transformers/02-foundations", "exercises") == (
        "notebooks/01-transformers/02-foundations-exercises.ipynb"
    )
    assert nbgen.notebook_site_path("chapters/00-pipeline-check", "solutions") == (
        "notebooks/00-pipeline-check-solutions.ipynb"
    )
    with pytest.raises(ValueError):
        nbgen.notebook_relpath("chapters/x", "answers")


@pytest.mark.parametrize("old_tag", ["exercise-stub", "exercise-solution"])
def test_the_old_two_cell_format_fails_clearly(tmp_path: Path, old_tag: str) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text(PAGE.replace(":tags: [exercise]", f":tags: [{old_tag}]"), encoding="utf8")
    with pytest.raises(ValueError, match="two-cell exercise format is gone"):
        _build(bad, "exercises")


def test_an_exercise_without_markers_fails_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text(PAGE.replace("# END SOLUTION", ""), encoding="utf8")
    with pytest.raises(ValueError, match="never closed"):
        _build(bad, "solutions")


def test_toc_pages_skip_missing_and_plain_pages(tmp_path: Path, page: Path) -> None:
    (tmp_path / "chapters" / "plain.md").write_text("# No code here\n", encoding="utf8")
    toc = tmp_path / "_toc.yml"
    toc.write_text(
        "format: jb-book\nroot: chapters/plain\nparts:\n  - caption: X\n    chapters:\n"
        "      - file: chapters/99-test/01-page\n      - file: chapters/not-written-yet\n",
        encoding="utf8",
    )
    assert list(nbgen.pages_in_toc(toc, tmp_path)) == ["chapters/99-test/01-page"]


def test_every_course_page_generates() -> None:
    docs = nbgen.pages_in_toc(ROOT / "book" / "_toc.yml", ROOT)
    assert "chapters/00-pipeline-check" in docs
    for docname, src in docs.items():
        for variant in nbgen.VARIANTS:
            prov = nbgen.Provenance(REPO, SHA, f"{docname}.md", root=ROOT)
            nb = nbgen.build_notebook(src, variant, prov, docname=docname)
            nbformat.validate(nb)


def test_backticks_in_a_backtick_fenced_directive_title_are_flagged() -> None:
    # CommonMark forbids backticks in a backtick fence's info string: such a "directive" is
    # silently read as prose plus a stray code fence, which swallows the following cells.
    bad = "```{admonition} Exercise: implement `double`\n:class: exercise\nbody\n```\n"
    good = ":::{admonition} Exercise: implement `double`\n:class: exercise\nbody\n:::\n"
    assert [line for line, _ in myst.lint_myst(bad)] == [1]
    assert myst.lint_myst(good) == []
    assert myst.lint_myst("```{admonition} Exercise: no backticks\nbody\n```\n") == []


def test_links_to_pages_open_their_notebook_or_the_site(tmp_path: Path) -> None:
    """A notebook reader cannot open a .md: "Next" goes to the next page's notebook in Colab."""
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    (chapters / "a.md").write_text(
        PAGE + "\nNext: [page B](b.md), or read {doc}`the intro <intro>`.\n", encoding="utf8"
    )
    (chapters / "b.md").write_text(PAGE, encoding="utf8")
    (chapters / "intro.md").write_text("# Intro, no code\n", encoding="utf8")
    prov = nbgen.Provenance(REPO, SHA, "chapters/a.md", site_url="https://example.org/site/", root=tmp_path)
    md = _markdown(nbgen.build_notebook(chapters / "a.md", "solutions", prov, docname="chapters/a"))
    assert f"[page B]({REPO.colab_url('notebooks/b-solutions.ipynb')})" in md
    assert "[the intro](https://example.org/site/chapters/intro.html)" in md
    assert "](b.md)" not in md and "{doc}" not in md


def test_a_fork_changes_one_line(tmp_path: Path) -> None:
    """Another repository.url in book/_config.yml: install cell, intro and links all follow it."""
    import shutil
    import subprocess
    import sys

    (tmp_path / "book").mkdir()
    config = (ROOT / "book" / "_config.yml").read_text(encoding="utf8")
    (tmp_path / "book" / "_config.yml").write_text(config.replace(REPO.url, "https://github.com/a-fork/its-course"))
    shutil.copy(ROOT / "book" / "_toc.yml", tmp_path / "book" / "_toc.yml")
    shutil.copytree(ROOT / "chapters", tmp_path / "chapters")
    out = tmp_path / "out"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "make_notebooks.py"),
            "--root",
            str(tmp_path),
            "--out",
            str(out),
            "--commit",
            SHA,
        ],
        check=True,
        capture_output=True,
    )
    notebook = (out / "01-transformers" / "01-inputs-outputs-exercises.ipynb").read_text(encoding="utf8")
    assert "git+https://github.com/a-fork/its-course.git@" + SHA in notebook
    assert (
        "colab.research.google.com/github/a-fork/its-course/blob/gh-pages/notebooks/01-transformers/02-foundations-exercises.ipynb"
        in notebook
    )
    assert "a-fork.github.io/its-course" in notebook
    assert REPO.name not in notebook
