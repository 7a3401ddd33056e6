"""Shared paths and the rule for tests that need the built site.

Tests that read `_build/html` (the browser tests, the exercises notebooks) skip when the site
has not been built, so that `pytest tests` works on its own while writing code. `make test`
sets MICOURSE_REQUIRE_SITE=1: there a missing site is a failure, never a silent skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
NOTEBOOKS = SITE / "notebooks"
SCREENSHOTS = ROOT / "_build" / "screenshots"


def site_required() -> bool:
    return os.environ.get("MICOURSE_REQUIRE_SITE", "") not in ("", "0")


def need_built(path: Path, what: str) -> None:
    """Skip (or fail, under `make test`) when a build product is missing."""
    if path.exists():
        return
    message = f"{what} not found at {path}: build it first with `make site`"
    if site_required():
        pytest.fail(message)
    pytest.skip(message)
