"""The "use my code" switch: run the rest of a page on the learner's own implementations.

After each exercise a page goes on with the course's reference, so that one mistake (or an
exercise not yet done) does not break every later cell. That is the right default, but it means
the learner never sees *their* code do the page's real work. Each chapter-1 page and week 1 of
the study plan therefore has one line near the top,

    USE_MY_CODE = False

and every later cell that would use a reference asks `choose` for it. With the line set to True,
`choose` hands back the learner's function or class of that name instead, so their GPT-2 loads the
weights, their sampler writes the text, their MLP is the one held to 95% on MNIST.

`choose` takes the name as a string and the notebook's `globals()`, rather than the learner's
object itself, so that with the switch off a page never touches an unfinished stub (the
exercises notebook must run top to bottom before anything is written).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class NotWrittenYet(NameError):
    pass


def choose(use_mine: bool, name: str, reference: Any, namespace: Mapping[str, Any]) -> Any:
    """`namespace[name]` (the learner's own) if `use_mine`, else `reference` (the course's).

    Raises a clear error when the switch is on but the learner's `name` does not exist (its
    exercise cell was not run): a page must not fall back to the reference without saying so.
    """
    if not isinstance(use_mine, bool):
        raise TypeError(f"USE_MY_CODE must be True or False, not {use_mine!r}.")
    if not use_mine:
        return reference
    if name not in namespace:
        raise NotWrittenYet(
            f"USE_MY_CODE is True, but `{name}` is not defined in this notebook: run the cell of its "
            "exercise first (or set USE_MY_CODE = False to use the course's version)."
        )
    return namespace[name]


def whose(use_mine: bool) -> str:
    """Words for the page's prose: whose implementation produced the numbers."""
    return "your own code" if use_mine else "the course's reference code"


def announce(use_mine: bool) -> None:
    """The line a page prints under its switch."""
    if use_mine:
        print("USE_MY_CODE = True: after each exercise, this page runs YOUR implementation.")
    else:
        print(
            "USE_MY_CODE = False: after each exercise, this page runs the course's reference. "
            "Set it to True (and run all cells) to see the page run on your code."
        )
