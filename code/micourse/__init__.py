"""Companion package of the course *Transformers & Mechanistic Interpretability*.

Pages import from here instead of redefining code: models by name (`micourse.models`),
the reference GPT-2 (`micourse.transformer`), sampling, training, exercise checkers
(`micourse.checks`) and display helpers (`micourse.display`).
"""

__version__ = "0.1.0"

from micourse.page import setup_page  # noqa: E402  (pages start with `from micourse import setup_page`)

__all__ = ["setup_page"]
