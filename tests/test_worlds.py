"""The rehearsal runs every page that may behave differently online (coursebuild.worlds)."""

from __future__ import annotations

import pytest

from conftest import ROOT
from coursebuild import notebooks, worlds
from micourse import registry

COURSE = set(registry.known_models("course"))


def _page(code: str) -> str:
    return f"# t\n\n```{{code-cell}} ipython3\n{code}\n```\n"


@pytest.mark.parametrize(
    "code",
    [
        'model = load_model("gpt2-small")',
        "model = load_model(NAME)",
        "ref = load_reference()",
        'bridge = load_bridge("gpt2-small")',
        'HookedTransformer.from_pretrained("gpt2")',
        "from micourse.offline import is_offline",
        "import sae_lens",
    ],
)
def test_anything_that_may_reach_the_hub_is_rehearsed(code):
    assert worlds.two_world_reasons(_page(code), COURSE)


def test_a_page_of_course_models_and_plain_code_runs_the_same_everywhere():
    code = "import torch\nx = torch.ones(3)\n" + "".join(f'm = load_model("{n}")\n' for n in sorted(COURSE))
    assert worlds.two_world_reasons(_page(code), COURSE) == []


def test_prose_is_not_code():
    assert worlds.two_world_reasons('Call `load_model("gpt2-small")` online.\n\n' + _page("x = 1"), COURSE) == []


def test_every_page_that_loads_a_standin_is_two_world():
    for page in notebooks.pages_in_toc(ROOT / "book" / "_toc.yml", ROOT).values():
        text = page.read_text(encoding="utf8")
        code = worlds.code_of(text)
        if any(f'"{e.name}"' in code or f"'{e.name}'" in code for e in registry.entries("standin")):
            assert worlds.two_world_reasons(text, COURSE), page
