"""Figures on the site: text/html that relies on the shared plotly.js / circuitsvis bundle."""

from __future__ import annotations

import sys
import types

import plotly.graph_objects as go
import plotly.io as pio
import pytest
import torch

from micourse import display, page


@pytest.fixture()
def site(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(display.SITE_ENV_VAR, "1")
    before = pio.renderers.default
    yield
    pio.renderers.default = before


@pytest.fixture()
def not_site(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(display.SITE_ENV_VAR, raising=False)
    before = pio.renderers.default
    yield
    pio.renderers.default = before


def test_site_renderer_emits_html_without_plotlyjs(site) -> None:
    display.use_site_renderers()
    assert pio.renderers.default == display.SITE_RENDERER
    fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))
    bundle = pio.renderers[display.SITE_RENDERER].to_mimebundle(fig.to_dict())
    assert set(bundle) == {"text/html"}  # myst-nb skips plotly's own JSON mimetype
    html = bundle["text/html"]
    assert "Plotly.newPlot" in html
    assert len(html) < 50_000  # plotly.js itself is ~4.8 MB
    assert "cdn.plot.ly" not in html and "<script src=" not in html


def test_setup_page_uses_site_renderer_and_fixes_seeds(site) -> None:
    assert page.setup_page() is None
    assert pio.renderers.default == display.SITE_RENDERER
    a = torch.rand(3)
    page.setup_page()
    assert torch.equal(a, torch.rand(3))
    assert page.CURRENT.environment == "site"


def test_colab_gets_plotlys_colab_renderer(not_site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert display.environment() == "colab"
    display.use_renderers()
    assert pio.renderers.default == "colab"


def test_attention_heads_uses_the_shared_bundle(site) -> None:
    pattern = torch.softmax(torch.randn(2, 4, 4), dim=-1)
    view = display.attention_heads(["a", "b", "c", "d"], pattern, head_names=["H0", "H1"])
    html = view._repr_html_()
    assert "CircuitsVis.render(" in html and "CircuitsVis.AttentionHeads" in html
    assert "unpkg.com" not in html and "import {" not in html
    assert len(html) < 20_000  # the inlined bundle alone is 1.3 MB
    assert '"H1"' in html


def test_plain_circuitsvis_objects_are_rewritten_too(site) -> None:
    import circuitsvis as cv
    from IPython.core.formatters import HTMLFormatter

    formatter = HTMLFormatter()
    fake_ip = types.SimpleNamespace(display_formatter=types.SimpleNamespace(formatters={"text/html": formatter}))
    display._register_circuitsvis_formatter(fake_ip)
    rendered = cv.attention.attention_heads(attention=torch.ones(1, 2, 2) / 2, tokens=["x", "y"])
    html = formatter(rendered)
    assert "CircuitsVis.render(" in html and len(html) < 20_000


def test_outside_the_site_circuitsvis_is_left_alone(not_site) -> None:
    fake = types.SimpleNamespace(cdn_src="<cdn>", _repr_html_=lambda: "ORIGINAL")
    assert display.circuitsvis_html(fake)._repr_html_() == "ORIGINAL"


def test_attention_heads_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="tokens"):
        display.attention_heads(["a", "b"], torch.ones(1, 3, 3))
    with pytest.raises(ValueError, match="shape"):
        display.attention_heads(["a", "b"], torch.ones(2, 3))


def test_static_bundles_exist() -> None:
    from pathlib import Path

    files = display.static_bundles()
    assert set(files) == {display.PLOTLY_STATIC_NAME, display.CIRCUITSVIS_STATIC_NAME}
    assert all(Path(p).is_file() for p in files.values())


def test_setup_page_reports_missing_weights(not_site, monkeypatch: pytest.MonkeyPatch, tmp_path, capsys) -> None:
    from micourse import registry

    monkeypatch.setenv("MICOURSE_OFFLINE", "1")
    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)
    page.setup_page()
    out = capsys.readouterr().out
    assert "outside a complete course setup" in out and "weights are missing" in out


def test_setup_page_reports_old_package(not_site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MICOURSE_OFFLINE", "0")
    problems = page.environment_problems(min_version="999.0")
    assert any("micourse >= 999.0" in p for p in problems)


def test_glue_prints_outside_the_site(not_site, capsys) -> None:
    display.glue("answer", 42)
    assert "answer = 42" in capsys.readouterr().out


@pytest.mark.parametrize("site_build", [True, False], ids=["site", "jupyter"])
def test_live_figure_redraws_in_place(site_build: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in a real kernel: updates must replace the figure, not append copies of it."""
    import nbclient
    import nbformat

    if site_build:
        monkeypatch.setenv(display.SITE_ENV_VAR, "1")
    else:
        monkeypatch.delenv(display.SITE_ENV_VAR, raising=False)
    code = (
        "from micourse import setup_page\nsetup_page()\n"
        "import plotly.graph_objects as go\nfrom micourse.display import LiveFigure\n"
        "fig = go.Figure([go.Scatter(x=[0], y=[0])])\nlive = LiveFigure(fig)\n"
        "for n in range(2, 7):\n    fig.data[0].x = fig.data[0].y = list(range(n))\n    live.update()\n"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=120).execute()

    def flat(o) -> str:
        return str(o).replace(" ", "").replace("\\", "")

    figures = [flat(o) for o in nb.cells[0].outputs if '"type":"scatter"' in flat(o)]
    assert len(figures) == 1, f"{len(figures)} copies of the figure"
    assert "[0,1,2,3,4,5]" in figures[0], "the figure shows stale data"
