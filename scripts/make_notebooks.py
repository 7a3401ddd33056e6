#!/usr/bin/env python
"""Generate the Colab notebooks (exercises + solutions) of every page in the table of contents.

Usage (from the repository root, with the venv active):

    python scripts/make_notebooks.py                      # -> _build/notebooks/ (for nbmake)
    python scripts/make_notebooks.py --out DIR            # any folder
    python scripts/make_notebooks.py --variant solutions  # only one variant
    python scripts/make_notebooks.py chapters/00-pipeline-check.md   # only these pages

Output: DIR/<page path without "chapters/">-{exercises,solutions}.ipynb, e.g.
`_build/notebooks/01-transformers/02-foundations-solutions.ipynb`. The site build writes the same
files under `_build/html/notebooks/` by itself (book/_ext/micourse_site.py); this script is for
testing them (nbmake runs the *solutions* notebooks: the exercises ones stop at the first
check, by design) or inspecting them without a site build.

The install cell pins the git commit: `--commit SHA`, else $MICOURSE_COMMIT, $GITHUB_SHA, or
`git rev-parse HEAD`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "code"))  # works even before `pip install -e .`

from micourse import notebooks  # noqa: E402


def current_commit() -> str:
    sha = os.environ.get("MICOURSE_COMMIT") or os.environ.get("GITHUB_SHA")
    if sha:
        return sha
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "main"


def repository_url() -> str:
    import yaml

    cfg = yaml.safe_load((ROOT / "book" / "_config.yml").read_text(encoding="utf8"))
    return cfg.get("repository", {}).get("url", notebooks.DEFAULT_REPO_URL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pages", nargs="*", help="page sources (default: every notebook page in book/_toc.yml)")
    parser.add_argument("--out", default=str(ROOT / "_build" / "notebooks"), help="output folder")
    parser.add_argument("--variant", choices=notebooks.VARIANTS, action="append", help="default: both")
    parser.add_argument("--commit", default=None, help="git commit the install cell pins")
    parser.add_argument("--toc", default=str(ROOT / "book" / "_toc.yml"))
    args = parser.parse_args(argv)

    if args.pages:
        docs = {}
        for page in args.pages:
            src = Path(page).resolve()
            if not notebooks.is_notebook_source(src):
                parser.error(f"{page} is not a MyST notebook page (.md with a kernelspec)")
            docs[src.relative_to(ROOT).with_suffix("").as_posix()] = src
    else:
        docs = notebooks.pages_in_toc(args.toc, ROOT)
    written = notebooks.write_notebooks(
        docs,
        args.out,
        repo_url=repository_url(),
        commit=args.commit or current_commit(),
        repo_root=ROOT,
        variants=args.variant or notebooks.VARIANTS,
    )
    for path in written:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    print(f"{len(written)} notebooks from {len(docs)} pages in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
