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
`git rev-parse HEAD` (coursebuild.repo). The repository is `repository.url` of book/_config.yml.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book" / "_ext"))  # the build tools live beside the site extension

from coursebuild import notebooks, repo  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pages", nargs="*", help="page sources (default: every notebook page in book/_toc.yml)")
    parser.add_argument("--root", default=str(ROOT), help="repository root (its book/_config.yml names the repository)")
    parser.add_argument("--out", default=None, help="output folder (default: ROOT/_build/notebooks)")
    parser.add_argument("--variant", choices=notebooks.VARIANTS, action="append", help="default: both")
    parser.add_argument("--commit", default=None, help="git commit the install cell pins")
    args = parser.parse_args(argv)
    root = Path(args.root).resolve()
    out = Path(args.out) if args.out else root / "_build" / "notebooks"

    if args.pages:
        docs = {}
        for page in args.pages:
            src = Path(page).resolve()
            if not notebooks.is_notebook_source(src):
                parser.error(f"{page} is not a MyST notebook page (.md with a kernelspec)")
            docs[src.relative_to(root).with_suffix("").as_posix()] = src
    else:
        docs = notebooks.pages_in_toc(root / repo.TOC, root)
    written = notebooks.write_notebooks(
        docs,
        out,
        repo=repo.repository(root),
        commit=args.commit or repo.current_commit(root),
        root=root,
        site_url=repo.site_url(root),
        variants=args.variant or notebooks.VARIANTS,
    )
    for path in written:
        print(path.relative_to(root) if path.is_relative_to(root) else path)
    print(f"{len(written)} notebooks from {len(docs)} pages in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
