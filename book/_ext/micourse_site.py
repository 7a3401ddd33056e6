"""Sphinx extension for the course site: exercise cells, Colab banners, shared JS bundles.

Loaded by book/_config.yml (`sphinx.local_extensions`). It does four things:

1. **Exercise cells.** Authors tag a code cell `exercise-stub` or `exercise-solution` and
   nothing else: the stub is removed from the page (it still runs, so later cells see its
   names, then the solution replaces them), the solution's source is folded into a
   "Show solution" dropdown with its output visible.
2. **Colab banner.** Every page that is a notebook (a MyST file with a kernelspec) gets a
   banner under its title: "Open exercises in Colab", "Open solutions in Colab", and direct
   downloads. Links point at `notebooks/<page>-{exercises,solutions}.ipynb` on the gh-pages
   branch, which is where the deploy workflow publishes `_build/html`. The theme's own Colab
   button is left off: it links a .md page to the .md file, which Colab cannot open.
3. **Notebooks.** After a successful build the same notebooks are generated into
   `<outdir>/notebooks/` (by `micourse.notebooks`), so every banner link has its file.
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
import subprocess
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

STUB_TAG = "exercise-stub"
SOLUTION_TAG = "exercise-solution"


# --------------------------------------------------------------------------- exercise cells


def _cell_tags(node: nodes.Element) -> list[str]:
    meta = node.get("cell_metadata") or {}
    tags = meta.get("tags") or []
    return [str(t) for t in tags]


class ExerciseCells(SphinxPostTransform):
    """Drop stub cells and fold solution cells (runs before myst-nb's HideInputCells, 199)."""

    default_priority = 150
    formats = ("html",)

    def run(self, **kwargs) -> None:
        for node in list(self.document.findall(nodes.container)):
            if node.get("nb_element") != "cell_code":
                continue
            tags = _cell_tags(node)
            if STUB_TAG in tags and SOLUTION_TAG in tags:
                LOGGER.warning(
                    f"a cell is tagged both {STUB_TAG} and {SOLUTION_TAG}; pick one",
                    location=node,
                    type="micourse",
                    subtype="exercise",
                )
            if STUB_TAG in tags:
                node.parent.remove(node)
            elif SOLUTION_TAG in tags and not node.get("hide_mode"):
                node["hide_mode"] = "input"
                node["prompt_show"] = "Show solution"
                node["prompt_hide"] = "Hide solution"
                node["classes"].append("micourse-solution")


# --------------------------------------------------------------------------- notebooks & banner


def _import_notebooks():
    # micourse is installed in the build's environment (editable); imported lazily so that a
    # broken package shows up as a clear build error, not an extension import failure.
    from micourse import notebooks

    return notebooks


def _repo_org_name(url: str) -> tuple[str, str]:
    parts = url.rstrip("/").removesuffix(".git").split("/")
    if len(parts) < 2:
        raise ValueError(f"repository url {url!r} does not look like https://github.com/ORG/REPO")
    return parts[-2], parts[-1]


def _notebook_docs(app: Sphinx) -> dict[str, Path]:
    """docname -> source path, for the documents that are notebooks (get Colab versions)."""
    nbmod = _import_notebooks()
    found: dict[str, Path] = {}
    for docname in sorted(app.env.found_docs):
        src = Path(app.env.doc2path(docname))
        if nbmod.is_notebook_source(src):
            found[docname] = src
    return found


def _colab_url(app: Sphinx, relpath: str) -> str:
    org, repo = _repo_org_name(app.config.html_theme_options.get("repository_url", ""))
    branch = app.config.micourse_notebooks_branch
    return f"https://colab.research.google.com/github/{org}/{repo}/blob/{branch}/{relpath}"


def _banner_html(app: Sphinx, docname: str, pathto) -> str:
    nbmod = _import_notebooks()
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
    nbmod = _import_notebooks()
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


def _commit_sha(app: Sphinx) -> str:
    sha = os.environ.get("MICOURSE_COMMIT") or os.environ.get("GITHUB_SHA")
    if sha:
        return sha
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=app.srcdir, capture_output=True, text=True, check=True, timeout=10
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        LOGGER.warning("could not read the git commit; notebooks will install micourse from the branch instead")
        return app.config.html_theme_options.get("repository_branch", "main")


MATHJAX_STATIC_DIR = "mathjax"
# The parts of MathJax's es5 build that tex-mml-chtml.js loads: itself, its fonts, and the TeX
# extensions and UI pieces it fetches on demand. (sre/, the speech engine, is left out: 4 MB.)
MATHJAX_PARTS = ("tex-mml-chtml.js", "output/chtml", "input/tex/extensions", "input/mml/extensions", "ui", "a11y", "adaptors")


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
    nbmod = _import_notebooks()
    docs = getattr(app.env, "micourse_notebook_docs", {})
    org, repo = _repo_org_name(app.config.html_theme_options.get("repository_url", ""))
    written = nbmod.write_site_notebooks(
        docs,
        Path(app.outdir),
        repo_url=f"https://github.com/{org}/{repo}",
        commit=_commit_sha(app),
        # GitHub Pages serves the gh-pages branch there (derived, so the repository stays named once)
        site_url=app.config.html_baseurl or f"https://{org}.github.io/{repo}/",
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
    for line, message in _import_notebooks().lint_myst(source[0]):
        LOGGER.warning(message, location=(docname, line), type="micourse", subtype="myst")
    skipped = set(app.config.micourse_skipped_pages)
    if skipped:
        source[0] = _unlink_skipped(docname, source[0], skipped)


def setup(app: Sphinx) -> dict:
    app.add_config_value("micourse_notebooks_branch", "gh-pages", "html")
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
