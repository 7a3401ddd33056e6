"""Sphinx extension for the course site: exercise cells, Colab banners, shared JS bundles.

Loaded by book/_config.yml (`sphinx.local_extensions`). It does four things:

1. **Exercise cells.** An exercise is one code cell tagged `exercise` holding the solution
   between `# BEGIN SOLUTION` / `# END SOLUTION` markers (`coursebuild.exercises`). The page
   runs it as written; the page shows the derived stub, then the hint fold, then the solution
   fold with the cell's output. The old two-cell tags fail the build with a message.
2. **Colab banner.** Every page that is a notebook (a MyST file with a kernelspec) gets a
   banner under its title: "Open exercises in Colab", "Open solutions in Colab", and direct
   downloads. Links point at `notebooks/<page>-{exercises,solutions}.ipynb` on the gh-pages
   branch of the repository named in book/_config.yml (`coursebuild.repo`), which is where the deploy workflow publishes `_build/html`. The theme's own Colab
   button is left off: it links a .md page to the .md file, which Colab cannot open.
3. **Notebooks.** After a successful build the same notebooks are generated into
   `<outdir>/notebooks/` (by `coursebuild.notebooks`), so every banner link has its file.
4. **Shared bundles.** plotly.js and circuitsvis's bundle are copied once into `_static/`
   and referenced from the pages that show such figures (see `micourse.display`). MathJax
   too: Sphinx would load it from a CDN; it is served from `_static/mathjax/` instead, copied
   from the pinned PyPI package django-static-mathjax (MathJax 3.2.2's official es5 build;
   the package needs no Django for this). With all three local, no page makes a request to
   another host.
"""

from __future__ import annotations

import html
import os
import posixpath
import re
import shutil
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging

from coursebuild import exercises, repo
from coursebuild import notebooks as nbmod
from coursebuild.myst import lint_myst

LOGGER = logging.getLogger(__name__)


# --------------------------------------------------------------------------- exercise cells


def _cell_tags(node: nodes.Element) -> list[str]:
    meta = node.get("cell_metadata") or {}
    tags = meta.get("tags") or []
    return [str(t) for t in tags]


def _is_hint(node: nodes.Node) -> bool:
    return isinstance(node, nodes.hint) or (isinstance(node, nodes.Element) and "hint" in node.get("classes", []))


def _with_source(cell: nodes.Element, text: str) -> None:
    """Replace the code shown in a myst-nb cell (its first literal block) by `text`."""
    old = next(cell.findall(nodes.literal_block))
    new = nodes.literal_block(text, text, **old.attributes)
    old.replace_self(new)


class ExerciseCells(SphinxPostTransform):
    """Show an `exercise` cell as a learner needs it: the stub, the hint fold, the solution fold.

    The page executed the cell as written (markers are comments, so it ran as the solution).
    Here the cell's code is shown twice: first the stub (what to write, no output), then, after
    the hint(s) that follow the cell, the solution folded under "Show solution" with the cell's
    output below it. Runs before myst-nb's HideInputCells (priority 199), which makes the fold.
    """

    default_priority = 150
    formats = ("html",)

    def _warn(self, message: str, node: nodes.Node) -> None:
        LOGGER.warning(message, location=node, type="micourse", subtype="exercise")

    def run(self, **kwargs) -> None:
        for cell in list(self.document.findall(nodes.container)):
            if cell.get("nb_element") != "cell_code":
                continue
            tags = _cell_tags(cell)
            problem = exercises.old_tag_error(tags)
            if problem:
                self._warn(problem, cell)
            elif exercises.EXERCISE_TAG in tags:
                self._split(cell)

    def _split(self, cell: nodes.Element) -> None:
        source = next(cell.findall(nodes.literal_block)).astext()
        try:
            stub, solution = exercises.stub(source), exercises.solution(source)
        except exercises.ExerciseFormatError as err:
            self._warn(f"exercise cell: {err}", cell)
            return
        # Node.deepcopy copies the cell and its children; copy.deepcopy would follow `.parent` and copy
        # the whole document (with the stubs already inserted) for every exercise: on a page of 12
        # exercises that took minutes and gigabytes.
        stub_cell = cell.deepcopy()
        for child in list(stub_cell.children):
            if child.get("nb_element") == "cell_code_output":
                stub_cell.remove(child)
        _with_source(stub_cell, stub)
        stub_cell["classes"].append("micourse-exercise-stub")
        _with_source(cell, solution)
        cell["hide_mode"] = "input"
        cell["prompt_show"] = "Show solution"
        cell["prompt_hide"] = "Hide solution"
        cell["classes"].append("micourse-solution")
        parent = cell.parent
        at = parent.index(cell)
        parent.insert(at, stub_cell)
        after = at + 2
        while after < len(parent) and _is_hint(parent[after]):
            after += 1
        if after == at + 2:
            self._warn("an exercise cell needs a hint right after it (:::{hint} with :class: dropdown)", cell)
        parent.remove(cell)
        parent.insert(after - 1, cell)


# --------------------------------------------------------------------------- notebooks & banner


def _notebook_docs(app: Sphinx) -> dict[str, Path]:
    """docname -> source path, for the documents that are notebooks (get Colab versions)."""
    found: dict[str, Path] = {}
    for docname in sorted(app.env.found_docs):
        src = Path(app.env.doc2path(docname))
        if nbmod.is_notebook_source(src):
            found[docname] = src
    return found


def _colab_url(app: Sphinx, relpath: str) -> str:
    return repo.repository(app.srcdir).colab_url(relpath)


def _banner_html(app: Sphinx, docname: str, pathto) -> str:
    links = []
    for variant, label in (("exercises", "Open exercises in Colab"), ("solutions", "Open solutions in Colab")):
        rel = nbmod.notebook_site_path(docname, variant)
        links.append(
            f'<a class="micourse-colab-button" href="{html.escape(_colab_url(app, rel))}" '
            f'target="_blank" rel="noopener" data-notebook="{html.escape(rel)}">'
            f'<img src="{pathto("_static/images/logo_colab.png", 1)}" alt="" width="18" height="18"> {label}</a>'
        )
    downloads = " · ".join(
        f'<a href="{html.escape(pathto(nbmod.notebook_site_path(docname, v), 1))}" download>{v}.ipynb</a>'
        for v in ("exercises", "solutions")
    )
    return (
        '<div class="micourse-colab-banner" role="note">'
        + "".join(links)
        + f'<span class="micourse-colab-download">Download: {downloads}</span>'
        + "</div>"
    )


def _insert_after_title(body: str, banner: str) -> str:
    end = body.find("</h1>")
    if end < 0:
        return banner + body
    end += len("</h1>")
    return body[:end] + "\n" + banner + body[end:]


def on_html_page_context(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    body = context.get("body", "")
    if doctree is not None and pagename in app.env.micourse_notebook_docs:
        context["body"] = body = _insert_after_title(body, _banner_html(app, pagename, context["pathto"]))
    # load each shared bundle only on the pages that use it (the browser caches it across pages)
    from micourse.display import CIRCUITSVIS_STATIC_NAME, PLOTLY_STATIC_NAME

    if "Plotly.newPlot" in body:
        app.add_js_file(PLOTLY_STATIC_NAME, priority=200)
    if "CircuitsVis.render" in body:
        app.add_js_file(CIRCUITSVIS_STATIC_NAME, priority=200)


def add_notebook_downloads(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Put the two notebooks at the top of the theme's download menu (runs after the theme's 501)."""
    if doctree is None or pagename not in getattr(app.env, "micourse_notebook_docs", {}):
        return
    for group in context.get("header_buttons", []):
        if group.get("label") != "download-buttons":
            continue
        extra = [
            {
                "type": "link",
                "url": context["pathto"](nbmod.notebook_site_path(pagename, variant), 1),
                "text": f"{variant}.ipynb",
                "tooltip": f"Download the {variant} notebook",
                "icon": "fas fa-code",
                "label": f"download-{variant}-notebook-button",
            }
            for variant in ("exercises", "solutions")
        ]
        group["buttons"] = extra + list(group.get("buttons", []))


def on_env_updated(app: Sphinx, env) -> None:
    env.micourse_notebook_docs = _notebook_docs(app)


MATHJAX_STATIC_DIR = "mathjax"
# The parts of MathJax's es5 build that tex-mml-chtml.js loads: itself, its fonts, and the TeX
# extensions and UI pieces it fetches on demand. (sre/, the speech engine, is left out: 4 MB.)
MATHJAX_PARTS = (
    "tex-mml-chtml.js",
    "output/chtml",
    "input/tex/extensions",
    "input/mml/extensions",
    "ui",
    "a11y",
    "adaptors",
)


def _mathjax_es5() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        return None
    es5 = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5"
    return es5 if (es5 / "tex-mml-chtml.js").is_file() else None


def on_config_inited(app: Sphinx, config) -> None:
    if _mathjax_es5() is None:
        LOGGER.warning(
            "MathJax is not installed locally (pip install django-static-mathjax==3.2.2.1): pages with "
            "math would load it from a CDN",
            type="micourse",
            subtype="mathjax",
        )
        return
    config.mathjax_path = f"{MATHJAX_STATIC_DIR}/tex-mml-chtml.js"


def _copy_mathjax(static: Path) -> None:
    es5 = _mathjax_es5()
    if es5 is None:
        return
    dst_root = static / MATHJAX_STATIC_DIR
    for part in MATHJAX_PARTS:
        src = es5 / part
        dst = dst_root / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        elif src.is_file() and (not dst.exists() or dst.stat().st_size != src.stat().st_size):
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)


def on_build_finished(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    # shared bundles, once for the whole site
    from micourse.display import static_bundles

    static = Path(app.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    for name, src in static_bundles().items():
        dst = static / name
        if not dst.exists() or dst.stat().st_size != Path(src).stat().st_size:
            shutil.copyfile(src, dst)
    _copy_mathjax(static)
    _dedupe_inline_scripts(Path(app.outdir))
    # the Colab notebooks every banner links to
    docs = getattr(app.env, "micourse_notebook_docs", {})
    root = Path(app.srcdir)
    written = nbmod.write_notebooks(
        docs,
        Path(app.outdir) / nbmod.NOTEBOOKS_DIR,
        repo=repo.repository(root),
        commit=repo.current_commit(root),
        root=root,
        site_url=repo.site_url(root),
    )
    LOGGER.info(f"[micourse] wrote {len(written)} Colab notebooks under {Path(app.outdir) / 'notebooks'}")


_INLINE_SCRIPT = re.compile(r"<script>[^<]*</script>\n?")


def _dedupe_inline_scripts(outdir: Path) -> None:
    """Drop repeated identical inline <script> blocks from every page.

    jupyter-book 1.0.4 registers sphinx-thebe's and sphinx-togglebutton's inline configuration
    twice, so every page declared `const THEBE_JS_URL` twice: a console error on every page.
    The second copy is byte-identical, so keeping the first changes nothing else.
    """
    for page in outdir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        seen: set[str] = set()

        def once(m: re.Match) -> str:
            key = m.group(0).strip()
            if key in seen:
                return ""
            seen.add(key)
            return m.group(0)

        head, sep, body = text.partition("</head>")
        if not sep:
            continue
        new = _INLINE_SCRIPT.sub(once, head) + sep + body
        if new != text:
            page.write_text(new, encoding="utf-8")


_MD_LINK = re.compile(r"\[(?P<text>[^\]]+)\]\((?P<target>[^)\s#]+?)(?:\.md)?(?P<anchor>#[^)\s]*)?\)")
_DOC_ROLE = re.compile(r"\{doc\}`(?:(?P<text>[^`<]*?)\s*<(?P<target>[^`>]+)>|(?P<bare>[^`]+))`")


def _skipped_pages() -> set[str]:
    """Pages listed in the toc but not written yet; scripts/build_site.py passes them (non-strict mode)."""
    raw = os.environ.get("MICOURSE_SKIPPED_PAGES", "")
    return {p.strip().removesuffix(".md") for p in raw.split(os.pathsep) if p.strip()}


def _unlink_skipped(docname: str, text: str, skipped: set[str]) -> str:
    """Turn links to not-yet-written pages into plain text, so that they do not fail the build."""
    here = posixpath.dirname(docname)

    def resolves_to_skipped(target: str) -> bool:
        target = target.removesuffix(".md")
        if "://" in target:
            return False
        full = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(here, target))
        return full in skipped

    def md_link(m: re.Match) -> str:
        return f"{m['text']} (coming soon)" if resolves_to_skipped(m["target"]) else m.group(0)

    def doc_role(m: re.Match) -> str:
        target = m["target"] or m["bare"]
        if not resolves_to_skipped(target.strip()):
            return m.group(0)
        return f"{(m['text'] or target.rsplit('/', 1)[-1]).strip()} (coming soon)"

    return _DOC_ROLE.sub(doc_role, _MD_LINK.sub(md_link, text))


def on_source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    """Flag MyST that would silently render wrong (the build runs with -W: this fails it)."""
    for line, message in lint_myst(source[0]):
        LOGGER.warning(message, location=(docname, line), type="micourse", subtype="myst")
    skipped = set(app.config.micourse_skipped_pages)
    if skipped:
        source[0] = _unlink_skipped(docname, source[0], skipped)


def setup(app: Sphinx) -> dict:
    # a config value (rebuild "env"): when the set of skipped pages changes, every page is re-read
    app.add_config_value("micourse_skipped_pages", sorted(_skipped_pages()), "env")
    app.add_post_transform(ExerciseCells)
    app.connect("config-inited", on_config_inited)
    app.connect("source-read", on_source_read)
    app.connect("env-updated", on_env_updated)
    app.connect("html-page-context", on_html_page_context)
    app.connect("html-page-context", add_notebook_downloads, priority=600)
    app.connect("build-finished", on_build_finished)
    app.add_css_file("micourse.css")
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
