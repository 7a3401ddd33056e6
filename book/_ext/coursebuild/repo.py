"""Where the course lives: repository URL, commit, site address, table of contents. Read once, here.

The repository URL has one source, `repository.url` in `book/_config.yml`: a fork edits that
line and the Colab links, the notebooks' intros and install cells, and the browser tests follow.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
CONFIG = Path("book") / "_config.yml"
TOC = Path("book") / "_toc.yml"
NOTEBOOKS_BRANCH = "gh-pages"  # where the deploy workflow publishes _build/html (and the notebooks)
COLAB = "https://colab.research.google.com/github"


@dataclass(frozen=True)
class Repository:
    """A GitHub repository of the course, e.g. Repository("mi-course", "transformers-mech-interp")."""

    org: str
    name: str

    @classmethod
    def from_url(cls, url: str) -> Repository:
        parts = url.strip().rstrip("/").removesuffix(".git").split("/")
        if len(parts) < 5 or parts[2] != "github.com" or not parts[3] or not parts[4]:
            raise ValueError(f"repository url {url!r} does not look like https://github.com/ORG/REPO")
        return cls(parts[3], parts[4])

    @property
    def url(self) -> str:
        return f"https://github.com/{self.org}/{self.name}"

    @property
    def pages_url(self) -> str:
        """Where GitHub Pages serves the gh-pages branch: the site."""
        return f"https://{self.org}.github.io/{self.name}/"

    def colab_url(self, path: str, branch: str = NOTEBOOKS_BRANCH) -> str:
        """Colab's address of a notebook committed at `path` on `branch`."""
        return f"{COLAB}/{self.org}/{self.name}/blob/{branch}/{path}"

    def pip_spec(self, commit: str) -> str:
        return f"micourse @ git+{self.url}.git@{commit}"


def book_config(root: str | Path = ROOT) -> dict:
    return yaml.safe_load((Path(root) / CONFIG).read_text(encoding="utf8")) or {}


def repository(root: str | Path = ROOT) -> Repository:
    """The repository named by `repository.url` in book/_config.yml."""
    url = (book_config(root).get("repository") or {}).get("url")
    if not url:
        raise ValueError(f"{Path(root) / CONFIG} has no repository.url")
    return Repository.from_url(url)


def site_url(root: str | Path = ROOT) -> str:
    """`html.baseurl` of book/_config.yml if set, else the repository's GitHub Pages address."""
    base = (book_config(root).get("html") or {}).get("baseurl")
    return base or repository(root).pages_url


def current_commit(root: str | Path = ROOT) -> str:
    """The commit the notebooks install: $MICOURSE_COMMIT, $GITHUB_SHA, `git rev-parse HEAD`, else "main"."""
    sha = os.environ.get("MICOURSE_COMMIT") or os.environ.get("GITHUB_SHA")
    if sha:
        return sha
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True, timeout=10
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "main"


def toc_docnames(toc_path: str | Path) -> list[str]:
    """Every docname of a Jupyter Book `_toc.yml`, in reading order (parsed by sphinx-external-toc)."""
    from sphinx_external_toc.parsing import parse_toc_yaml

    site_map = parse_toc_yaml(Path(toc_path))
    order: list[str] = []

    def walk(docname: str) -> None:
        if docname in order or docname not in site_map:
            return
        order.append(docname)
        for tree in site_map[docname].subtrees:
            for item in tree.items:
                if isinstance(item, str):
                    walk(item)

    walk(site_map.root.docname)
    return order
