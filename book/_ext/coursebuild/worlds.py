"""Which pages can behave differently online: the ones the online rehearsal must run.

A page runs in two worlds: offline (the stand-ins) and online (the real models from the hub,
rehearsed here against a local stand-in for the hub). A page that touches neither the hub nor a
stand-in (the toy-model pages: their models are the course's own files, the same in every
world, and nothing is downloaded) executes the very same code in both, so the offline site
build already proves it; the rehearsal skips it and says so. Anything that might reach a
hub-backed model makes a page "two-world": a `load_model` of a stand-in or of a name held in a
variable, `load_reference`, `load_bridge`, any `from_pretrained` or hub download, or code that
asks which world it is in. Read from the page's code cells; `tests/test_worlds.py` holds it to
the course's pages.
"""

from __future__ import annotations

import re

from coursebuild import myst as _myst  # noqa: F401  (keeps the package's import order)

_LOAD_MODEL = re.compile(r"\bload_model\(\s*(?P<arg>[^,)]*)")
_HUB_CALLS = re.compile(
    r"\b(load_reference|load_bridge|load_standin|load_pretrained|from_pretrained\w*|boot_transformers|"
    r"hf_hub_download|snapshot_download|huggingface_hub|is_offline|in_rehearsal|require_hub|HF_ENDPOINT|sae_lens)\b"
)
_CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)


def code_of(md_text: str) -> str:
    return "\n".join(m.group("body") for m in _CODE_CELL.finditer(md_text))


def two_world_reasons(md_text: str, course_models: set[str]) -> list[str]:
    """Why the page may behave differently online (empty: it runs the same code in both worlds)."""
    code = code_of(md_text)
    reasons = [f"calls {m.group(1)}" for m in _HUB_CALLS.finditer(code)]
    for m in _LOAD_MODEL.finditer(code):
        arg = m.group("arg").strip()
        literal = re.fullmatch(r"""(['"])(?P<name>[^'"]+)\1""", arg)
        if literal is None:
            reasons.append(f"load_model({arg or '...'}): a name decided at run time")
        elif literal.group("name") not in course_models:
            reasons.append(f"load_model({arg}): a stand-in online is the real model")
    return sorted(set(reasons))
