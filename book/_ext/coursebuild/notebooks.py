"""Generate each page's two Colab notebooks (exercises, solutions) from its MyST source.

A page under `chapters/` is the single source of the site page and of two notebooks: in the
*exercises* notebook each `exercise` cell is its stub, in the *solutions* notebook its solution
(see `coursebuild.exercises`). MyST becomes Markdown Colab renders (`coursebuild.myst`); links
to other pages open their notebook in Colab. The first cell installs the course package, on
Colab only, at the commit the site was built from, keeping Colab's own torch and numpy.

Used by the site build (book/_ext/micourse_site.py writes `_build/html/notebooks/`) and by
`scripts/make_notebooks.py` (any output folder, e.g. for nbmake).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import exercises, myst
from .repo import Repository, toc_docnames

VARIANTS = ("exercises", "solutions")
NOTEBOOKS_DIR = "notebooks"
CHAPTERS_PREFIX = "chapters/"
INSTALL_TAG = "micourse-install"


# --------------------------------------------------------------------------- naming


def front_matter(path: str | Path) -> dict | None:
    """The YAML front matter of a markdown file (None without one)."""
    tokens = myst.parser().parse(Path(path).read_text(encoding="utf8"))
    if tokens and tokens[0].type == "front_matter":
        return yaml.safe_load(tokens[0].content) or {}
    return None


def is_notebook_source(path: str | Path) -> bool:
    """A MyST page with a kernelspec in its front matter (the pages that run code)."""
    path = Path(path)
    if path.suffix != ".md" or not path.is_file():
        return False
    meta = front_matter(path)
    return bool(meta and meta.get("kernelspec"))


def notebook_stem(docname: str) -> str:
    """`chapters/01-transformers/02-foundations` -> `01-transformers/02-foundations`."""
    docname = docname.replace("\\", "/").removesuffix(".md")
    return docname.removeprefix(CHAPTERS_PREFIX)


def notebook_relpath(docname: str, variant: str) -> str:
    """Path inside a notebooks folder, e.g. `01-transformers/02-foundations-exercises.ipynb`."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    return f"{notebook_stem(docname)}-{variant}.ipynb"


def notebook_site_path(docname: str, variant: str) -> str:
    """Path inside the built site (and the gh-pages branch), e.g. `notebooks/00-pipeline-check-exercises.ipynb`."""
    return f"{NOTEBOOKS_DIR}/{notebook_relpath(docname, variant)}"


# --------------------------------------------------------------------------- the install cell

_PIP_SUMMARY = '''
def _summarise_pip(result):
    """pip's output, condensed: Colab preinstalls packages whose pins conflict with ours."""
    conflicts = [line for line in result.stderr.splitlines() if " requires " in line and "but you have" in line]
    if result.returncode != 0:
        print(result.stdout[-4000:], result.stderr[-4000:], sep="\\n")
        raise RuntimeError("pip could not install micourse: its output is above.")
    return conflicts
'''


def install_cell_source(repo: Repository, commit: str) -> str:
    """The first cell: installs micourse at `commit` on Colab only, keeping torch and numpy."""
    return f'''# Colab only: install the course package at the commit this notebook was made from
# (about 1.5-2 minutes). Colab's own torch and numpy are kept (pinned as constraints), so no
# runtime restart is needed. Anywhere else this cell does nothing: install the course as its
# README explains.
import sys

if "google.colab" in sys.modules:
    import importlib.metadata
    import subprocess
    import tempfile
{_indent(_PIP_SUMMARY, 4)}
    keep = []
    for name in ("torch", "numpy"):
        try:
            keep.append(f"{{name}}=={{importlib.metadata.version(name)}}")
        except importlib.metadata.PackageNotFoundError:
            pass
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as constraints:
        constraints.write("\\n".join(keep) + "\\n")
    print("Installing micourse (about 1.5-2 minutes)...", flush=True)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--constraint", constraints.name,
         "{repo.pip_spec(commit)}"],
        capture_output=True,
        text=True,
    )
    conflicts = _summarise_pip(result)
    print("micourse installed OK (commit {commit[:12]}).")
    if conflicts:
        print(
            f"pip also noted {{len(conflicts)}} version conflicts between packages Colab preinstalls "
            "(not used by this course); they are harmless here and need no action."
        )'''


def _indent(text: str, n: int) -> str:
    return "\n".join((" " * n + line) if line.strip() else "" for line in text.strip("\n").split("\n")) + "\n"


# --------------------------------------------------------------------------- notebooks


@dataclass(frozen=True)
class Provenance:
    """Where a notebook came from, and where its links go; written into its intro and metadata."""

    repo: Repository
    commit: str
    source: str  # repository-relative path of the page, e.g. chapters/00-pipeline-check.md
    site_url: str | None = None
    root: Path | None = None  # repository root: links to other pages are resolved against it

    def page_url(self, docname: str, variant: str = "exercises") -> str | None:
        """Where a notebook reader should go for another course page."""
        if self.root is None:
            return f"{self.site_url.rstrip('/')}/{docname}.html" if self.site_url else None
        src = self.root / f"{docname}.md"
        if not src.is_file():
            return None
        if is_notebook_source(src):
            return self.repo.colab_url(notebook_site_path(docname, variant))
        return f"{self.site_url.rstrip('/')}/{docname}.html" if self.site_url else None


def _intro_markdown(variant: str, prov: Provenance, docname: str) -> str:
    other = "solutions" if variant == "exercises" else "exercises"
    what = (
        "Exercise solutions are removed: write your own in the cells that raise `NotImplementedError`, "
        "then run the check cell after each one."
        if variant == "exercises"
        else "Every exercise is filled in with its solution."
    )
    source_link = f"{prov.repo.url}/blob/{prov.commit}/{prov.source}"
    other_link = prov.repo.colab_url(notebook_site_path(docname, other))
    page = (
        f"[on the course site]({prov.site_url.rstrip('/')}/{docname}.html)" if prov.site_url else "on the course site"
    )
    return (
        f"*This is the **{variant}** notebook of a page of "
        f"[Transformers & Mechanistic Interpretability]({prov.repo.url}), generated from "
        f"[`{prov.source}`]({source_link}) at commit `{prov.commit[:12]}`. {what} "
        f"The [{other} notebook]({other_link}) is in Colab too, and the rendered page {page}. "
        "Run the first cell before anything else.*"
    )


def _code_cell(cell, variant: str, where: str) -> None:
    tags = list(cell.get("metadata", {}).get("tags", []))
    problem = exercises.old_tag_error(tags)
    if problem:
        raise exercises.ExerciseFormatError(f"{where}: {problem}")
    if exercises.EXERCISE_TAG in tags:
        try:
            cell.source = exercises.variant(cell.source, variant)
        except exercises.ExerciseFormatError as err:
            raise exercises.ExerciseFormatError(f"{where}: exercise cell: {err}") from None
    cell.outputs, cell.execution_count = [], None


def build_notebook(source: str | Path, variant: str, prov: Provenance, docname: str | None = None):
    """The `variant` notebook ("exercises" or "solutions") of the MyST page at `source`."""
    import jupytext
    import nbformat

    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    source = Path(source)
    docname = docname or prov.source.removesuffix(".md")
    converter = myst.Converter(docname, lambda doc: prov.page_url(doc, variant))
    nb = jupytext.read(source, fmt="md:myst")
    cells = []
    for k, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            cell.source = converter.convert(cell.source)
            if not cell.source.strip():
                continue
        elif cell.cell_type == "code":
            _code_cell(cell, variant, f"{source} (code cell {k + 1})")
        cell.pop("id", None)
        cells.append(cell)
    install = nbformat.v4.new_code_cell(install_cell_source(prov.repo, prov.commit))
    install.metadata["tags"] = [INSTALL_TAG]
    install.metadata["cellView"] = "form"
    intro = nbformat.v4.new_markdown_cell(_intro_markdown(variant, prov, docname))
    # keep the page's title first, just under the install cell, then the provenance note
    title_idx = next(
        (k for k, c in enumerate(cells) if c.cell_type == "markdown" and c.source.lstrip().startswith("# ")), None
    )
    if title_idx is not None:
        cells = [install, cells[title_idx], intro] + cells[:title_idx] + cells[title_idx + 1 :]
    else:
        cells = [install, intro] + cells
    out = nbformat.v4.new_notebook()
    out.cells = cells
    _stable_ids(out, notebook_relpath(docname, variant).removesuffix(".ipynb"))
    out.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": [], "toc_visible": True},
        "micourse": {"variant": variant, "source": prov.source, "commit": prov.commit},
    }
    return out


def _stable_ids(nb, stem: str) -> None:
    """nbformat 4.5 wants cell ids; derive them from the path so rebuilds do not churn."""
    for k, cell in enumerate(nb.cells):
        cell["id"] = f"{re.sub(r'[^A-Za-z0-9-]', '-', stem)[-40:]}-{k}"


def write_notebooks(
    docs: Mapping[str, Path],
    out_dir: str | Path,
    *,
    repo: Repository,
    commit: str,
    root: str | Path,
    site_url: str | None = None,
    variants: Iterable[str] = VARIANTS,
) -> list[Path]:
    """Write both notebooks of every page in `docs` ({docname: source path}) under `out_dir`."""
    import nbformat

    out_dir, root = Path(out_dir), Path(root)
    written: list[Path] = []
    for docname, src in sorted(docs.items()):
        src = Path(src)
        prov = Provenance(repo=repo, commit=commit, source=_repo_relative(src, root), site_url=site_url, root=root)
        for variant in variants:
            nb = build_notebook(src, variant, prov, docname=docname)
            nbformat.validate(nb)
            dst = out_dir / notebook_relpath(docname, variant)
            dst.parent.mkdir(parents=True, exist_ok=True)
            text = nbformat.writes(nb) + "\n"
            if not dst.exists() or dst.read_text(encoding="utf8") != text:
                dst.write_text(text, encoding="utf8")
            written.append(dst)
    return written


def _repo_relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def pages_in_toc(toc_path: str | Path, root: str | Path) -> dict[str, Path]:
    """{docname: source} for every notebook page listed in a Jupyter Book `_toc.yml` that exists."""
    docs: dict[str, Path] = {}
    for docname in toc_docnames(toc_path):
        src = Path(root) / f"{docname.removesuffix('.md')}.md"
        if is_notebook_source(src):
            docs[docname.removesuffix(".md")] = src
    return docs
