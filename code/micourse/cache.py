"""Files the course derives once and keeps: where they live, and how to write them safely.

The offline tokenizer folder and the stand-in saved in the Hugging Face format are built on
first use and reused by every later page, test and kernel.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def cache_root() -> Path:
    """Where the course writes files it derives once (`MICOURSE_CACHE`, else ~/.cache/micourse)."""
    root = os.environ.get("MICOURSE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "micourse"
    )
    return Path(root)


def write_folder_once(folder: Path, write: Callable[[Path], None]) -> Path:
    """Create `folder` by `write(tmp)` into a temporary sibling, then one rename.

    Two kernels may build the same cached folder at once (a page and a test, say): each writes
    its own copy and the first rename wins, so no reader ever sees a half-written folder.
    """
    import shutil

    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    write(tmp)
    try:
        tmp.rename(folder)
    except OSError:  # another process won the race; use its copy
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
