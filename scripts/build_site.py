#!/usr/bin/env python
"""Build the executed course site into `_build/html` (Jupyter Book 1.x), then check it.

Usage (from anywhere, with the venv active):

    python scripts/build_site.py                 # cached build; skips toc pages not written yet
    python scripts/build_site.py --strict-toc    # CI: a page listed in book/_toc.yml but missing fails
    python scripts/build_site.py --clean         # delete _build/ first (cache included): full rebuild
    python scripts/build_site.py --clean-cache   # re-execute every page (e.g. after changing micourse)
    python scripts/build_site.py --check-only    # only run the checks on an existing _build/html
    python scripts/build_site.py --skip chapters/01-transformers/04-training   # leave a page out

What it does:
* runs `jupyter-book build <repo> --config book/_config.yml --toc <toc> -W --keep-going`:
  pages execute through jupyter-cache (`_build/.jupyter_cache`), so a rebuild re-executes only
  pages whose code changed; a failing cell or any Sphinx warning fails the build (exit 1);
* exports MICOURSE_SITE_BUILD=1 (the kernels inherit it: `micourse.display` then emits figures
  that use the site's shared plotly.js / circuitsvis bundle) and MICOURSE_COMMIT (the git sha the
  notebooks' install cell pins); it UNSETS MICOURSE_OFFLINE, so `load_model` decides by itself:
  real models where the Hugging Face hub is reachable (GitHub Actions), stand-ins here;
* the build also writes `_build/html/notebooks/<page>-{exercises,solutions}.ipynb` (the targets
  of the Colab buttons; publish `_build/html` at the root of the gh-pages branch);
* then checks the result: no HTML page over 2 MB, every Colab link has its notebook, no page
  loads a script or stylesheet from another host (plotly.js, circuitsvis and MathJax are
  served from _static/). Exit status 0 only if the build and checks pass.

Pages listed in book/_toc.yml that do not exist yet are left out of a generated toc
(`_build/_toc.effective.yml`) with a notice, and links to them from other pages become plain
text "(coming soon)" instead of failing the build; --strict-toc (CI) fails instead.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
HTML = BUILD / "html"
TOC = ROOT / "book" / "_toc.yml"
CONFIG = ROOT / "book" / "_config.yml"
MAX_PAGE_BYTES = 2 * 1024 * 1024
# inline code that would fetch a bundle (a CDN plotly.js, circuitsvis's unpkg import, MathJax)
CDN_PATTERNS = ("cdn.plot.ly", "unpkg.com/circuitsvis", "cdn.jsdelivr.net/npm/mathjax")
_EXTERNAL_ASSET = re.compile(r'<(?:script|link)\b[^>]*\b(?:src|href)="(?:https?:)?//(?!colab\.research\.google\.com)[^"]*"[^>]*>')


def _toc_files(node) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key in ("root", "file"):
            if isinstance(node.get(key), str):
                found.append(node[key])
        for value in node.values():
            if isinstance(value, (dict, list)):
                found.extend(_toc_files(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_toc_files(item))
    return found


def _exists(docname: str) -> bool:
    return any((ROOT / f"{docname}{ext}").is_file() for ext in ("", ".md", ".ipynb"))


def _prune(node, missing: set[str]):
    """The toc without entries whose file is missing (their sub-entries are dropped too)."""
    if isinstance(node, list):
        kept = [_prune(item, missing) for item in node]
        return [item for item in kept if item is not None]
    if isinstance(node, dict):
        if node.get("file") in missing:
            return None
        out = {k: _prune(v, missing) if isinstance(v, (list, dict)) else v for k, v in node.items()}
        for key in ("chapters", "sections"):
            if key in out and not out[key]:
                del out[key]
        if "caption" in out and "chapters" not in out:
            return None  # an emptied part
        return out
    return node


def effective_toc(strict: bool, skip: list[str] = ()) -> tuple[Path, list[str]]:
    """The toc to build with, and the pages left out of it (not written yet, or --skip)."""
    toc = yaml.safe_load(TOC.read_text(encoding="utf8"))
    absent = sorted({f for f in _toc_files(toc) if not _exists(f)})
    if absent and strict:
        sys.exit("book/_toc.yml lists pages that do not exist:\n  " + "\n  ".join(absent))
    skip = {s.removesuffix(".md") for s in skip}
    unknown = skip - set(_toc_files(toc))
    if unknown:
        sys.exit(f"--skip: not in book/_toc.yml: {', '.join(sorted(unknown))}")
    missing = sorted(set(absent) | skip)
    if not missing:
        return TOC, []
    if toc.get("root") in missing:
        sys.exit(f"the root page {toc['root']} is missing")
    print("NOTICE: leaving out pages listed in book/_toc.yml (not written yet, or --skip):\n  " + "\n  ".join(missing))
    BUILD.mkdir(exist_ok=True)
    path = BUILD / "_toc.effective.yml"
    path.write_text(
        "# generated by scripts/build_site.py from book/_toc.yml, missing pages left out\n"
        + yaml.safe_dump(_prune(toc, set(missing)), sort_keys=False),
        encoding="utf8",
    )
    return path, missing


PACKAGE_STAMP = BUILD / ".micourse-package.sha256"


def package_fingerprint() -> str:
    """A hash of the course package's source: cached page outputs depend on it too."""
    import hashlib

    h = hashlib.sha256()
    for path in sorted((ROOT / "code" / "micourse").rglob("*")):
        if path.is_file() and path.suffix in {".py", ".json", ".safetensors", ".txt"}:
            h.update(path.relative_to(ROOT).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def note_package_changes(clean_cache: bool) -> None:
    """jupyter-cache only looks at a page's own code: say so when micourse changed under it."""
    cache = BUILD / ".jupyter_cache"
    now = package_fingerprint()
    if clean_cache:
        # the parsed pages go too, or Sphinx would not re-read (and so not re-execute) them
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(BUILD / ".doctrees", ignore_errors=True)
    elif cache.exists() and PACKAGE_STAMP.exists() and PACKAGE_STAMP.read_text().strip() != now:
        print(
            "NOTICE: code/micourse changed since pages were last executed; cached outputs are reused. "
            "Run with --clean-cache to re-execute every page (CI always does)."
        )
    BUILD.mkdir(exist_ok=True)
    PACKAGE_STAMP.write_text(now + "\n")


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "main"


def build(toc: Path, builder_args: list[str], skipped: list[str] = ()) -> int:
    env = dict(os.environ)
    # links to skipped pages become plain text "(coming soon)" (book/_ext/micourse_site.py)
    env["MICOURSE_SKIPPED_PAGES"] = os.pathsep.join(skipped)
    env.pop("MICOURSE_OFFLINE", None)  # let load_model decide: real models online, stand-ins offline
    env["MICOURSE_SITE_BUILD"] = "1"
    env.setdefault("MICOURSE_COMMIT", env.get("GITHUB_SHA") or git_commit())
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # silences a debugger warning on stderr
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""))
    if jb is None:
        sys.exit("jupyter-book is not installed in this environment (pip install -e '.[site]')")
    cmd = [
        jb, "build", str(ROOT),
        "--config", str(CONFIG),
        "--toc", str(toc),
        "--builder", "html",
        "-W", "--keep-going",
        *builder_args,
    ]
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def check_site() -> list[str]:
    """Problems with the built site (empty list: all good)."""
    problems: list[str] = []
    if not (HTML / "index.html").exists():
        return [f"{HTML / 'index.html'} is missing: the build did not produce a site"]
    for name in ("plotly.min.js", "circuitsvis.iife.js", "mathjax/tex-mml-chtml.js"):
        if not (HTML / "_static" / name).exists():
            problems.append(f"_static/{name} is missing")
    link = re.compile(r'data-notebook="([^"]+)"')
    for page in sorted(HTML.rglob("*.html")):
        rel = page.relative_to(HTML)
        if rel.parts[0] in {"_static", "_sources", "_images"}:
            continue
        size = page.stat().st_size
        if size > MAX_PAGE_BYTES:
            problems.append(f"{rel} is {size / 1e6:.1f} MB (limit 2 MB): an embedded bundle or a huge output?")
        text = page.read_text(encoding="utf8", errors="replace")
        for pattern in CDN_PATTERNS:
            if pattern in text:
                problems.append(f"{rel} refers to {pattern} (a CDN): figures must use the shared bundles")
        for tag in _EXTERNAL_ASSET.findall(text):
            if 'rel="canonical"' not in tag:
                problems.append(f"{rel} loads an asset from another host: {tag[:160]}")
        if "application/vnd.plotly.v1+json" in text and "Plotly.newPlot" not in text:
            problems.append(f"{rel}: a plotly figure was not rendered (did the page call setup_page()?)")
        for nb in link.findall(text):
            if not (HTML / nb).is_file():
                problems.append(f"{rel} links to {nb}, which the build did not produce")
    return problems


def report_sizes() -> None:
    pages = [p for p in HTML.rglob("*.html") if p.relative_to(HTML).parts[0] not in {"_static", "_sources"}]
    print("\nPage sizes (HTML only; shared _static bundles are loaded once and cached):")
    for page in sorted(pages, key=lambda p: -p.stat().st_size)[:15]:
        print(f"  {page.stat().st_size / 1024:8.0f} KB  {page.relative_to(HTML)}")
    nbs = sorted((HTML / "notebooks").rglob("*.ipynb")) if (HTML / "notebooks").exists() else []
    print(f"  {len(nbs)} notebooks under _build/html/notebooks/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the course site into _build/html.")
    parser.add_argument("--strict-toc", action="store_true", help="fail if book/_toc.yml lists a missing page")
    parser.add_argument("--clean", action="store_true", help="delete _build/ (and the execution cache) first")
    parser.add_argument("--skip", action="append", default=[], metavar="DOC",
                        help="leave a page out, e.g. --skip chapters/01-transformers/04-training (repeatable)")
    parser.add_argument("--clean-cache", action="store_true", help="re-execute every page (keeps _build/html)")
    parser.add_argument("--check-only", action="store_true", help="skip the build, check _build/html")
    parser.add_argument("--all", action="store_true", help="rewrite every page (Sphinx -a; the cache still applies)")
    args = parser.parse_args(argv)

    start = time.monotonic()
    if not args.check_only:
        if args.clean and BUILD.exists():
            shutil.rmtree(BUILD)
        note_package_changes(args.clean_cache)
        toc, skipped = effective_toc(args.strict_toc, args.skip)
        status = build(toc, ["--all"] if args.all else [], skipped)
        print(f"\njupyter-book finished with status {status} in {time.monotonic() - start:.1f} s")
        if status != 0:
            # Sphinx does not repeat an unchanged page's warnings: forget the parsed pages so
            # that the next build re-reads them all (cheap: executed outputs stay cached).
            shutil.rmtree(BUILD / ".doctrees", ignore_errors=True)
            print("BUILD FAILED: see the warnings/errors above (a cell error or a Sphinx warning).")
            return 1
    problems = check_site()
    report_sizes()
    if problems:
        print("\nSITE CHECKS FAILED:\n  " + "\n  ".join(problems))
        return 1
    print(f"\nSite OK in {time.monotonic() - start:.1f} s: open {HTML / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
