"""Single-source exercises: one code cell holds the solution; the stub is derived from it.

An exercise is a code cell tagged `exercise`. Inside it, each part the learner writes is
fenced by marker comments:

    def double(x):
        "Twice x (a docstring stays in the stub)."
        # BEGIN SOLUTION: Multiply x by two.
        return 2 * x
        # END SOLUTION

The *stub* (exercises notebook, site) keeps every line outside the markers and replaces each
fenced block by `raise NotImplementedError("<message>")` at the marker's indentation. The
*solution* (solutions notebook, site execution, the site's solution fold) drops the marker
lines. Markers are comments, so the cell runs as the solution wherever it is executed as is.
"""

from __future__ import annotations

import re

EXERCISE_TAG = "exercise"
# The two-cell format this replaced; a page still using it fails the build with this message.
OLD_TAGS = ("exercise-stub", "exercise-solution")
DEFAULT_MESSAGE = "Write this part: see the exercise above."

_BEGIN = re.compile(r"^(?P<indent>[ \t]*)#[ \t]*BEGIN SOLUTION[ \t]*(?::[ \t]*(?P<message>.*?))?[ \t]*$")
_END = re.compile(r"^[ \t]*#[ \t]*END SOLUTION[ \t]*$")


class ExerciseFormatError(ValueError):
    """An exercise cell whose markers do not pair up, or a cell in the old two-cell format."""


def old_tag_error(tags) -> str | None:
    """The message for a cell still tagged in the old two-cell format (None if it is not)."""
    old = [t for t in tags if t in OLD_TAGS]
    if not old:
        return None
    return (
        f"cell tagged {old[0]!r}: the two-cell exercise format is gone. Write ONE cell tagged "
        f"{EXERCISE_TAG!r} holding the solution, with '# BEGIN SOLUTION' / '# END SOLUTION' around "
        "what the learner writes (see CONTRIBUTING.md, 'An exercise')."
    )


def _blocks(source: str) -> list[tuple[int, int, str, str]]:
    """(begin line, end line, indentation, message) of every marked block, checked."""
    lines = source.split("\n")
    blocks = []
    open_at: tuple[int, str, str] | None = None
    for n, line in enumerate(lines):
        begin, end = _BEGIN.match(line), _END.match(line)
        if begin:
            if open_at is not None:
                raise ExerciseFormatError(
                    f"line {n + 1}: BEGIN SOLUTION inside the block opened at line {open_at[0] + 1}"
                )
            open_at = (n, begin["indent"], begin["message"] or DEFAULT_MESSAGE)
        elif end:
            if open_at is None:
                raise ExerciseFormatError(f"line {n + 1}: END SOLUTION without a BEGIN SOLUTION before it")
            blocks.append((open_at[0], n, open_at[1], open_at[2]))
            open_at = None
    if open_at is not None:
        raise ExerciseFormatError(f"line {open_at[0] + 1}: BEGIN SOLUTION is never closed by END SOLUTION")
    if not blocks:
        raise ExerciseFormatError("an exercise cell needs at least one '# BEGIN SOLUTION' ... '# END SOLUTION' block")
    return blocks


def _literal(text: str) -> str:
    """A double-quoted Python string literal (the style ruff format writes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def stub(source: str) -> str:
    """What the learner starts from: each marked block becomes `raise NotImplementedError(msg)`."""
    lines = source.split("\n")
    out: list[str] = []
    last = 0
    for begin, end, indent, message in _blocks(source):
        out.extend(lines[last:begin])
        out.append(f"{indent}raise NotImplementedError({_literal(message)})")
        last = end + 1
    out.extend(lines[last:])
    return "\n".join(out).rstrip("\n")


def solution(source: str) -> str:
    """The reference answer: the cell without its marker lines."""
    _blocks(source)  # the same checks as the stub, so that both variants fail alike
    return "\n".join(line for line in source.split("\n") if not (_BEGIN.match(line) or _END.match(line))).rstrip("\n")


def variant(source: str, which: str) -> str:
    """`stub(source)` for "exercises", `solution(source)` for "solutions"."""
    if which == "exercises":
        return stub(source)
    if which == "solutions":
        return solution(source)
    raise ValueError(f"variant must be 'exercises' or 'solutions', got {which!r}")
