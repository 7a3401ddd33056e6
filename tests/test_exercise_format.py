"""Single-source exercises: one cell, three variants (exercises notebook, solutions notebook, site).

The format (COMMON.md, CONTRIBUTING.md): an `exercise` cell holds the solution, with
`# BEGIN SOLUTION[: message]` / `# END SOLUTION` around what the learner writes.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from conftest import MYST_HEADER, ROOT
from coursebuild import exercises, repo
from coursebuild import notebooks as nbgen

CELL = textwrap.dedent(
    '''\
    class Doubler:
        """Doubles things (kept in the stub)."""

        def __init__(self, k: int = 2):
            self.k = k  # kept

        def __call__(self, x):
            # BEGIN SOLUTION: Multiply x by self.k.
            y = x * self.k
            return y
            # END SOLUTION


    def triple(x):
        # BEGIN SOLUTION
        return 3 * x
        # END SOLUTION'''
)


def test_stub_keeps_the_skeleton_and_raises_where_the_learner_writes() -> None:
    stub = exercises.stub(CELL)
    assert '"""Doubles things (kept in the stub)."""' in stub and "self.k = k  # kept" in stub
    assert '        raise NotImplementedError("Multiply x by self.k.")' in stub
    assert f"    raise NotImplementedError({exercises.DEFAULT_MESSAGE!r})".replace("'", '"') in stub
    assert "x * self.k" not in stub and "3 * x" not in stub and "SOLUTION" not in stub
    namespace: dict = {}
    exec(stub, namespace)  # the stub defines the same names, and runs
    with pytest.raises(NotImplementedError, match="Multiply x by self.k"):
        namespace["Doubler"]()(3)


def test_solution_drops_only_the_markers() -> None:
    solution = exercises.solution(CELL)
    assert "SOLUTION" not in solution
    assert solution.count("\n") == CELL.count("\n") - 4
    namespace: dict = {}
    exec(solution, namespace)
    assert namespace["Doubler"]()(3) == 6 and namespace["triple"](2) == 6


@pytest.mark.parametrize(
    "bad, problem",
    [
        ("x = 1", "at least one"),
        ("# BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n# END SOLUTION", "without a BEGIN"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION", "inside the block"),
    ],
)
def test_bad_markers_fail_clearly(bad: str, problem: str) -> None:
    with pytest.raises(exercises.ExerciseFormatError, match=problem):
        exercises.stub(bad)
    with pytest.raises(exercises.ExerciseFormatError, match=problem):
        exercises.solution(bad)


PAGE = MYST_HEADER + textwrap.dedent(
    """\

    # One exercise

    :::{admonition} Exercise: implement `double`
    :class: exercise
    Return twice the input.
    :::

    ```{code-cell} ipython3
    :tags: [exercise]

    def double(x):
        \"\"\"Twice x.\"\"\"
        # BEGIN SOLUTION: STUB-MESSAGE
        return 2 * x  # SOLUTION-LINE
        # END SOLUTION


    print("SOLUTION-OUTPUT", double(21))
    ```

    :::{hint}
    :class: dropdown
    HINT-TEXT
    :::

    ```{code-cell} ipython3
    assert double(3) == 6
    print("CHECK-OUTPUT")
    ```
    """
)


@pytest.fixture(scope="module")
def one_exercise_repo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    (root / "book").mkdir()
    (root / "book" / "_config.yml").write_text("repository:\n  url: https://github.com/a-fork/its-course\n")
    (root / "page.md").write_text(PAGE, encoding="utf8")
    return root


@pytest.mark.parametrize("variant", nbgen.VARIANTS)
def test_notebooks_get_their_variant(one_exercise_repo: Path, variant: str, tmp_path: Path) -> None:
    import nbformat

    [path] = nbgen.write_notebooks(
        {"page": one_exercise_repo / "page.md"},
        tmp_path,
        repo=repo.repository(one_exercise_repo),
        commit="abc",
        root=one_exercise_repo,
        variants=[variant],
    )
    [cell] = [c for c in nbformat.read(path, as_version=4).cells if "exercise" in c.metadata.get("tags", [])]
    if variant == "exercises":
        assert 'raise NotImplementedError("STUB-MESSAGE")' in cell.source and "SOLUTION-LINE" not in cell.source
    else:
        assert "SOLUTION-LINE" in cell.source and "NotImplementedError" not in cell.source
    assert '"""Twice x."""' in cell.source and "BEGIN SOLUTION" not in cell.source


@pytest.mark.slow
def test_site_shows_stub_then_hint_then_solution_fold(one_exercise_repo: Path, tmp_path: Path) -> None:
    """A real Sphinx + myst-nb build of the page with the course's extension: the page executes."""
    from sphinx.application import Sphinx

    (one_exercise_repo / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'book' / '_ext')!r})\n"
        "extensions = ['myst_nb', 'micourse_site']\n"
        "myst_enable_extensions = ['colon_fence']\n"
        "root_doc = 'page'\n"
        "exclude_patterns = ['_build', 'book']\n"
        "nb_execution_mode = 'force'\n"
        "nb_execution_raise_on_error = True\n"
    )
    out = tmp_path / "html"
    app = Sphinx(
        str(one_exercise_repo),
        str(one_exercise_repo),
        str(out),
        str(tmp_path / "doctrees"),
        "html",
        status=None,
        warningiserror=True,
    )
    app.build()
    html = (out / "page.html").read_text(encoding="utf8")
    text = re.sub(r"<[^>]+>", "", html)
    stub_at = text.index("STUB-MESSAGE")
    hint_at = text.index("HINT-TEXT")
    solution_at = text.index("SOLUTION-LINE")
    assert stub_at < hint_at < solution_at < text.index("CHECK-OUTPUT")
    assert "BEGIN SOLUTION" not in text and text.count("SOLUTION-LINE") == 1
    assert text.count("STUB-MESSAGE") == 1
    assert "Show solution" in html
    assert hint_at < text.index("SOLUTION-OUTPUT 42") < text.index("CHECK-OUTPUT")  # the solution's output, with it
    # the page's Colab buttons and notebooks follow the repository its book/_config.yml names
    assert "colab.research.google.com/github/a-fork/its-course/blob/gh-pages/notebooks/page-exercises.ipynb" in html
    stub_nb = (out / "notebooks" / "page-exercises.ipynb").read_text(encoding="utf8")
    assert "STUB-MESSAGE" in stub_nb and "SOLUTION-LINE" not in stub_nb
