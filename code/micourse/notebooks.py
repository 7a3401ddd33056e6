"""Generate each page's two Colab notebooks (exercises, solutions) from its MyST source.

A page under `chapters/` is the single source of three things: the site page, an *exercises*
notebook (keeps `exercise-stub` cells, drops `exercise-solution` cells) and a *solutions*
notebook (the reverse). Colab does not understand MyST, so admonitions and hints become
HTML `<details>` blocks or block quotes, and MyST roles become plain text. The first cell of
each notebook installs the course package, on Colab only, at the commit the site was built
from, keeping Colab's own torch and numpy (reinstalling them forces a runtime restart).

Used by the site build (book/_ext/micourse_site.py writes `_build/html/notebooks/`) and by
`scripts/make_notebooks.py` (any output folder, e.g. for nbmake).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

STUB_TAG = "exercise-stub"
SOLUTION_TAG = "exercise-solution"
VARIANTS = ("exercises", "solutions")
NOTEBOOKS_DIR = "notebooks"
CHAPTERS_PREFIX = "chapters/"
DEFAULT_REPO_URL = "https://github.com/mi-course/transformers-mech-interp"


# --------------------------------------------------------------------------- naming


def is_notebook_source(path: str | Path) -> bool:
    """A MyST page with a kernelspec in its front matter (the pages that run code)."""
    path = Path(path)
    if path.suffix != ".md" or not path.is_file():
        return False
    text = path.read_text(encoding="utf8")
    front = _front_matter(text)
    return front is not None and re.search(r"^kernelspec\s*:", front, re.MULTILINE) is not None


def _front_matter(text: str) -> str | None:
    if not text.startswith("---"):
        return None
    end = text.find("\n---", 3)
    return None if end < 0 else text[3:end]


def notebook_stem(docname: str) -> str:
    """`chapters/01-transformers/02-foundations` -> `01-transformers/02-foundations`."""
    docname = docname.replace("\\", "/").removesuffix(".md")
    return docname[len(CHAPTERS_PREFIX) :] if docname.startswith(CHAPTERS_PREFIX) else docname


def notebook_relpath(docname: str, variant: str) -> str:
    """Path of a page's notebook inside a notebooks folder, e.g. `01-transformers/02-foundations-exercises.ipynb`."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    return f"{notebook_stem(docname)}-{variant}.ipynb"


def notebook_site_path(docname: str, variant: str) -> str:
    """Path inside the built site (and the gh-pages branch), e.g. `notebooks/00-pipeline-check-exercises.ipynb`."""
    return f"{NOTEBOOKS_DIR}/{notebook_relpath(docname, variant)}"


# --------------------------------------------------------------------------- MyST -> Colab markdown

_DIRECTIVE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:.-]+)\}[ \t]*(?P<arg>.*)$")
_PLAIN_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_OPTION = re.compile(r"^:(?P<key>[\w-]+):[ \t]*(?P<value>.*)$")
_ROLE = re.compile(r"\{(?P<name>[\w:.-]+)\}`(?P<content>[^`]*)`")
_TARGET = re.compile(r"^\(([^()\s]+)\)=\s*$")

_ADMONITIONS = {
    "admonition": "",
    "hint": "Hint",
    "tip": "Tip",
    "note": "Note",
    "important": "Important",
    "warning": "Warning",
    "caution": "Caution",
    "attention": "Attention",
    "danger": "Danger",
    "error": "Error",
    "seealso": "See also",
}
_DROPPED_DIRECTIVES = {"glue:figure", "glue:math", "glue", "tableofcontents", "bibliography"}


def _role(match: re.Match) -> str:
    name, content = match["name"], match["content"]
    explicit = re.match(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", content, re.DOTALL)
    if name.startswith("glue"):
        key = content.split(":", 1)[0]
        return f"`{key}` (printed above)"
    if name == "math":
        return f"${content}$"
    if name in {"doc", "ref", "numref", "eq", "term", "download", "any"}:
        if explicit:
            return explicit["text"]
        return content.rsplit("/", 1)[-1]
    if name in {"abbr", "sub", "sup", "kbd", "guilabel", "menuselection"}:
        return re.sub(r"\s*\([^)]*\)$", "", content) if name == "abbr" else content
    return f"`{content}`"


def _inline(line: str) -> str:
    return _ROLE.sub(_role, line)


def _find_close(lines: list[str], start: int, char: str, length: int) -> int:
    """Index of the line closing a fence of `length` `char`s opened before `start`."""
    closer = re.compile(r"^[ \t]*" + re.escape(char) + "{" + str(length) + r",}[ \t]*$")
    for i in range(start, len(lines)):
        if closer.match(lines[i]):
            return i
    return len(lines)  # unclosed: runs to the end, as in CommonMark


def _split_options(body: list[str]) -> tuple[dict[str, str], list[str]]:
    options: dict[str, str] = {}
    i = 0
    if body and body[0].strip() == "---":  # YAML-style option block
        end = next((j for j in range(1, len(body)) if body[j].strip() == "---"), None)
        if end is not None:
            for line in body[1:end]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    options[k.strip()] = v.strip()
            return options, body[end + 1 :]
    while i < len(body):
        m = _OPTION.match(body[i].strip())
        if not m:
            break
        options[m["key"]] = m["value"].strip()
        i += 1
    return options, body[i:]


def _admonition(name: str, arg: str, options: Mapping[str, str], body_md: str) -> str:
    label = _ADMONITIONS[name]
    title = _inline(arg.strip())
    if name != "admonition" and title:
        title = f"{label}: {title}"
    title = title or label or "Note"
    body_md = body_md.strip("\n")
    classes = options.get("class", "").split()
    if "dropdown" in classes or name == "hint":
        # Colab renders <details>; a blank line after <summary> lets the body be Markdown.
        return f"<details>\n<summary><b>{title}</b> (click to expand)</summary>\n\n{body_md}\n\n</details>"
    quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in body_md.split("\n"))
    return f"> **{title}**\n>\n{quoted}"


def myst_to_colab_markdown(text: str) -> str:
    """Turn one MyST markdown cell into Markdown that Colab renders."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _DIRECTIVE_OPEN.match(line)
        if m:
            fence = m["fence"]
            close = _find_close(lines, i + 1, fence[0], len(fence))
            options, body = _split_options(lines[i + 1 : close])
            name, arg = m["name"], m["arg"]
            inner = myst_to_colab_markdown("\n".join(body))
            if name in _ADMONITIONS:
                out.append(_admonition(name, arg, options, inner))
            elif name == "dropdown":
                out.append(f"<details>\n<summary><b>{_inline(arg)}</b></summary>\n\n{inner.strip()}\n\n</details>")
            elif name in {"code-block", "code", "sourcecode"}:
                out.append(f"```{arg.strip()}\n" + "\n".join(body) + "\n```")
            elif name == "math":
                out.append("$$\n" + "\n".join(body).strip() + "\n$$")
            elif name in {"figure", "image"}:
                alt = options.get("alt") or inner.strip() or "figure"
                if arg.strip().startswith(("http://", "https://")):
                    out.append(f"![{alt}]({arg.strip()})")
                else:
                    out.append(f"*(Figure on the course site: {alt})*")
            elif name in _DROPPED_DIRECTIVES:
                pass
            else:  # containers such as tab-set, margin, epigraph: keep their content
                out.append(inner)
            i = close + 1
            continue
        m = _PLAIN_FENCE.match(line)
        if m:  # ordinary code block: copy verbatim
            close = _find_close(lines, i + 1, m["fence"][0], len(m["fence"]))
            out.extend(lines[i : close + 1])
            i = close + 1
            continue
        if _TARGET.match(line) or line.lstrip().startswith("% "):
            i += 1  # MyST labels and comments mean nothing to Colab
            continue
        out.append(_inline(line))
        i += 1
    return "\n".join(out)


_BACKTICK_DIRECTIVE_WITH_BACKTICK = re.compile(r"^[ \t]*`{3,}\{[\w:.-]+\}[^\n]*`")


def lint_myst(text: str) -> list[tuple[int, str]]:
    """Mistakes in a MyST page that render wrongly *without* any warning: [(line, message)].

    A backtick-fenced directive whose title contains a backtick (```{admonition} Implement `f`)
    is not a directive at all in CommonMark: it becomes a paragraph and a stray code fence that
    swallows the cells after it. Colon fences (:::{admonition} ...) allow backticks.
    """
    problems = []
    for number, line in enumerate(text.split("\n"), start=1):
        if _BACKTICK_DIRECTIVE_WITH_BACKTICK.match(line):
            problems.append(
                (
                    number,
                    "a ```{directive} title contains a backtick, which ends the fence's info string: "
                    "write it with a colon fence instead, :::{admonition} ... :::",
                )
            )
    return problems


# --------------------------------------------------------------------------- notebooks


def install_cell_source(repo_url: str, commit: str) -> str:
    """The first cell: installs micourse at `commit` on Colab only, keeping torch and numpy."""
    spec = f"micourse @ git+{repo_url.rstrip('/')}.git@{commit}"
    return f'''# Colab only: install the course package at the commit this notebook was made from.
# Colab's own torch and numpy are kept (pinned as constraints), so no runtime restart is needed.
# Anywhere else this cell does nothing: install the course as its README explains.
import sys

if "google.colab" in sys.modules:
    import importlib.metadata
    import subprocess
    import tempfile

    keep = []
    for name in ("torch", "numpy"):
        try:
            keep.append(f"{{name}}=={{importlib.metadata.version(name)}}")
        except importlib.metadata.PackageNotFoundError:
            pass
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as constraints:
        constraints.write("\\n".join(keep) + "\\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--constraint", constraints.name,
         "{spec}"],
        check=True,
    )
    print("micourse installed at commit {commit[:12]}")'''


@dataclass(frozen=True)
class Provenance:
    """Where a notebook came from; written into its intro cell and metadata."""

    repo_url: str
    commit: str
    source: str  # repository-relative path of the page, e.g. chapters/00-pipeline-check.md
    site_url: str | None = None


def _intro_markdown(variant: str, prov: Provenance, docname: str) -> str:
    other = "solutions" if variant == "exercises" else "exercises"
    what = (
        "Exercise solutions are removed: write your own in the cells that raise `NotImplementedError`, "
        "then run the check cell after each one."
        if variant == "exercises"
        else "Every exercise is filled in with its solution."
    )
    source_link = f"{prov.repo_url.rstrip('/')}/blob/{prov.commit}/{prov.source}"
    page = f"[the course site]({prov.site_url.rstrip('/')}/{docname}.html)" if prov.site_url else "the course site"
    return (
        f"*This is the **{variant}** notebook of a page of "
        f"[Transformers & Mechanistic Interpretability]({prov.repo_url}), generated from "
        f"[`{prov.source}`]({source_link}) at commit `{prov.commit[:12]}`. {what} "
        f"The {other} notebook and the rendered page are on {page}. Run the first cell before anything else.*"
    )


def build_notebook(source: str | Path, variant: str, prov: Provenance, docname: str | None = None):
    """The `variant` notebook ("exercises" or "solutions") of the MyST page at `source`."""
    import jupytext
    import nbformat

    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    source = Path(source)
    docname = docname or prov.source.removesuffix(".md")
    nb = jupytext.read(source, fmt="md:myst")
    drop = SOLUTION_TAG if variant == "exercises" else STUB_TAG
    cells = []
    for cell in nb.cells:
        tags = list(cell.get("metadata", {}).get("tags", []))
        if cell.cell_type == "code" and STUB_TAG in tags and SOLUTION_TAG in tags:
            raise ValueError(f"{source}: a cell is tagged both {STUB_TAG} and {SOLUTION_TAG}.")
        if drop in tags:
            continue
        if cell.cell_type == "markdown":
            cell.source = myst_to_colab_markdown(cell.source)
            if not cell.source.strip():
                continue
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.pop("id", None)
        cells.append(cell)
    install = nbformat.v4.new_code_cell(install_cell_source(prov.repo_url, prov.commit))
    install.metadata["tags"] = ["micourse-install"]
    install.metadata["cellView"] = "form"
    intro = nbformat.v4.new_markdown_cell(_intro_markdown(variant, prov, docname))
    # keep the page's title first, just under the install cell, then the provenance note
    title_idx = next((k for k, c in enumerate(cells) if c.cell_type == "markdown" and c.source.lstrip().startswith("# ")), None)
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
    repo_url: str = DEFAULT_REPO_URL,
    commit: str,
    repo_root: str | Path | None = None,
    site_url: str | None = None,
    variants: Iterable[str] = VARIANTS,
) -> list[Path]:
    """Write both notebooks of every page in `docs` ({docname: source path}) under `out_dir`."""
    import nbformat

    out_dir = Path(out_dir)
    written: list[Path] = []
    for docname, src in sorted(docs.items()):
        src = Path(src)
        rel_source = _repo_relative(src, repo_root) if repo_root else f"{docname}.md"
        prov = Provenance(repo_url=repo_url, commit=commit, source=rel_source, site_url=site_url)
        for variant in variants:
            nb = build_notebook(src, variant, prov, docname=docname)
            rel = notebook_relpath(docname, variant)
            nbformat.validate(nb)
            dst = out_dir / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            text = nbformat.writes(nb) + "\n"
            if not dst.exists() or dst.read_text(encoding="utf8") != text:
                dst.write_text(text, encoding="utf8")
            written.append(dst)
    return written


def _repo_relative(path: Path, root: str | Path) -> str:
    try:
        return path.resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return path.name


def write_site_notebooks(
    docs: Mapping[str, Path], site_dir: Path, *, repo_url: str, commit: str, site_url: str | None = None
) -> list[Path]:
    """Notebooks for the built site: `<site_dir>/notebooks/<page>-{exercises,solutions}.ipynb`."""
    root = _repo_root_of(next(iter(docs.values()))) if docs else None
    return write_notebooks(
        docs, Path(site_dir) / NOTEBOOKS_DIR, repo_url=repo_url, commit=commit, repo_root=root, site_url=site_url
    )


def _repo_root_of(path: Path) -> Path | None:
    for parent in Path(path).resolve().parents:
        if (parent / ".git").exists() or (parent / "pyproject.toml").exists():
            return parent
    return None


def pages_in_toc(toc_path: str | Path, root: str | Path) -> dict[str, Path]:
    """{docname: source} for every notebook page listed in a Jupyter Book `_toc.yml` that exists."""
    import yaml

    root = Path(root)
    toc = yaml.safe_load(Path(toc_path).read_text(encoding="utf8"))
    names: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    names.append(node[key])
            for value in node.values():
                if isinstance(value, (list, dict)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    docs: dict[str, Path] = {}
    for name in names:
        docname = name.removesuffix(".md").removesuffix(".ipynb")
        src = root / f"{docname}.md"
        if is_notebook_source(src):
            docs[docname] = src
    return docs
