"""Figures that render everywhere a page runs: the built site, Colab, and a local Jupyter.

The three places disagree on how interactive figures must be delivered:

* The **site** (a Jupyter Book build; the build script sets ``MICOURSE_SITE_BUILD=1`` and the
  kernel inherits it) loads plotly.js and the circuitsvis bundle once, as static files shared
  by every page. A figure must therefore be plain ``text/html`` that *refers* to those globals:
  embedding plotly.js per figure made pages 5-6 MB, and circuitsvis would either inline a
  1.3 MB bundle per view (offline) or import it from unpkg (online, a network request).
  myst-nb also ignores plotly's own ``application/vnd.plotly.v1+json`` output.
* **Colab** needs plotly's ``colab`` renderer; circuitsvis works there as it is.
* A **local Jupyter** (or VS Code) renders plotly's mimetype natively; circuitsvis works as is.

`use_site_renderers()` / `use_notebook_renderers()` switch between these; `setup_page()` (in
`micourse.page`) picks the right one. `attention_heads` and `circuitsvis_html` are for pages
that want a circuitsvis view as an object they can display or save.
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import Sequence
from typing import Any

SITE_ENV_VAR = "MICOURSE_SITE_BUILD"
SITE_RENDERER = "micourse_site"

# Where the site serves the shared bundles (the Sphinx extension in book/_ext copies them there).
PLOTLY_STATIC_NAME = "plotly.min.js"
CIRCUITSVIS_STATIC_NAME = "circuitsvis.iife.js"


# --------------------------------------------------------------------------- where are we?


def in_site_build() -> bool:
    """True inside the kernel of a site build (the build script exports MICOURSE_SITE_BUILD=1)."""
    return os.environ.get(SITE_ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


def in_colab() -> bool:
    return "google.colab" in sys.modules


def in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def environment() -> str:
    """One of "site", "colab", "jupyter", "script": decides how figures are delivered."""
    if in_site_build():
        return "site"
    if in_colab():
        return "colab"
    if in_ipython():
        return "jupyter"
    return "script"


# --------------------------------------------------------------------------- plotly


def _plotly_site_renderer():
    """A plotly renderer emitting only text/html that relies on a page-level plotly.js."""
    from plotly.io._base_renderers import MimetypeRenderer

    class SiteHtmlRenderer(MimetypeRenderer):
        def __init__(self, config: dict | None = None):
            self.config = dict(config or {})

        def to_mimebundle(self, fig_dict: dict) -> dict[str, str]:
            return {"text/html": plotly_site_html(fig_dict, config=self.config)}

    return SiteHtmlRenderer(config={"responsive": True, "displaylogo": False})


def plotly_site_html(fig: Any, config: dict | None = None) -> str:
    """HTML for one figure that needs plotly.js already on the page (it is not embedded)."""
    import plotly.io as pio

    return pio.to_html(
        fig,
        include_plotlyjs=False,
        include_mathjax=False,
        full_html=False,
        config=config or {"responsive": True, "displaylogo": False},
        validate=False,
    )


def _register_site_renderer() -> None:
    import plotly.io as pio

    if SITE_RENDERER not in pio.renderers:
        pio.renderers[SITE_RENDERER] = _plotly_site_renderer()


class LiveFigure:
    """A plotly figure drawn once and redrawn in place, for plots that grow while code runs.

    `display(fig, display_id=True)` cannot do this: plotly figures display themselves through
    `_ipython_display_`, which ignores the display id, so every update would append a new copy
    (in Jupyter, in Colab and in the built site alike). Here the figure's mime bundle, made by
    whichever plotly renderer the page uses, goes out under one display id.
    """

    def __init__(self, fig: Any):
        from IPython.display import display

        self.fig = fig
        self._handle = display(self._bundle(), raw=True, display_id=True)

    def _bundle(self) -> dict:
        import plotly.io as pio

        # plotly's own show() builds its bundle this way; there is no public equivalent
        # (plotly is pinned, and tests/test_display.py runs this in a real kernel).
        return pio.renderers._build_mime_bundle(self.fig.to_dict())

    def update(self) -> None:
        """Redraw the figure after changing its data or layout."""
        if self._handle is not None:
            self._handle.update(self._bundle(), raw=True)


# --------------------------------------------------------------------------- circuitsvis

# circuitsvis's CDN variant ends with: import { render, Name } from "...";  render("id", Name, {props})
_CV_CDN = re.compile(
    r'import\s*\{\s*render,\s*(?P<name>\w+)\s*\}\s*from\s*"[^"]*";\s*'
    r'render\(\s*"(?P<uid>[^"]+)",\s*(?P=name),\s*(?P<props>.*)\)\s*</script>\s*$',
    re.DOTALL,
)


def _shared_bundle_html(element: str, props_json: str) -> str:
    """A circuitsvis view that uses the site's shared bundle (global `CircuitsVis`)."""
    div_id = f"circuits-vis-{uuid.uuid4().hex[:12]}"
    # The bundle is loaded by a classic <script> in the page head, so `CircuitsVis` exists
    # when this inline script runs; a clear message replaces a blank box if it does not.
    return (
        f'<div id="{div_id}" class="micourse-circuitsvis" style="margin: 15px 0;"></div>\n'
        "<script>\n"
        "(function () {\n"
        f'  var el = document.getElementById("{div_id}");\n'
        '  if (typeof CircuitsVis === "undefined") {\n'
        '    el.textContent = "(circuitsvis view: the shared circuitsvis bundle did not load)";\n'
        "    return;\n"
        "  }\n"
        f'  CircuitsVis.render("{div_id}", CircuitsVis.{element}, {props_json});\n'
        "})();\n"
        "</script>"
    )


class SiteCircuitsVis:
    """A circuitsvis view that, on the built site, uses the shared bundle instead of its own.

    Outside a site build it behaves exactly like the circuitsvis object it wraps.
    """

    def __init__(self, rendered: Any):
        if not hasattr(rendered, "cdn_src") or not hasattr(rendered, "_repr_html_"):
            raise TypeError(
                f"Expected a circuitsvis view (circuitsvis.utils.render.RenderedHTML), got {type(rendered).__name__}."
            )
        self.rendered = rendered

    def site_html(self) -> str:
        return circuitsvis_site_html(self.rendered)

    def _repr_html_(self) -> str:
        if in_site_build():
            return self.site_html()
        return self.rendered._repr_html_()

    def __str__(self) -> str:
        return str(self.rendered)


def circuitsvis_site_html(rendered: Any) -> str:
    """Turn any circuitsvis `RenderedHTML` into HTML that uses the site's shared bundle."""
    match = _CV_CDN.search(rendered.cdn_src)
    if match is None:
        raise ValueError(
            "Could not read this circuitsvis view's element and properties; circuitsvis's HTML "
            "format may have changed (micourse.display expects circuitsvis 1.43)."
        )
    return _shared_bundle_html(match["name"], match["props"].strip())


def circuitsvis_html(rendered: Any) -> SiteCircuitsVis:
    """Wrap a circuitsvis view so that the site shows it without inlining its bundle."""
    return SiteCircuitsVis(rendered)


def attention_heads(
    tokens: Sequence[str],
    pattern: Any,
    head_names: Sequence[str] | None = None,
    max_value: float | None = None,
) -> SiteCircuitsVis:
    """circuitsvis's interactive attention-heads view, in the form that works on every target.

    `pattern` is `Float[Tensor, "head query key"]` (or one head, `"query key"`); `tokens` are
    the strings of the positions, one per query/key position.
    """
    import circuitsvis as cv
    import torch

    p = torch.as_tensor(pattern).detach().float().cpu()
    if p.ndim == 2:
        p = p.unsqueeze(0)
    if p.ndim != 3 or p.shape[-1] != p.shape[-2]:
        raise ValueError(f"pattern should have shape [head, query, key] with query == key, got {tuple(p.shape)}.")
    if len(tokens) != p.shape[-1]:
        raise ValueError(f"{len(tokens)} tokens for a pattern over {p.shape[-1]} positions: they must match.")
    names = list(head_names) if head_names is not None else None
    if names is not None and len(names) != p.shape[0]:
        raise ValueError(f"{len(names)} head names for {p.shape[0]} heads.")
    rendered = cv.attention.attention_heads(
        attention=p, tokens=[str(t) for t in tokens], attention_head_names=names, max_value=max_value
    )
    return SiteCircuitsVis(rendered)


def _register_circuitsvis_formatter(ip) -> None:
    """Make plain circuitsvis objects (cv.attention.attention_heads(...)) use the shared bundle."""
    try:
        from circuitsvis.utils.render import RenderedHTML
    except ImportError:
        return
    ip.display_formatter.formatters["text/html"].for_type(RenderedHTML, circuitsvis_site_html)


# --------------------------------------------------------------------------- glue


def glue(name: str, value: Any, display: bool = False) -> None:
    """Name a computed value so that the page's prose can quote it (MyST `{glue:text}`).

    On the site this is myst-nb's `glue`. Elsewhere (Colab, Jupyter, nbmake) myst-nb is usually
    not installed and the prose cannot be filled in, so the value is printed instead, where the
    reader can see it.
    """
    if in_site_build():
        try:
            from myst_nb import glue as nb_glue
        except ImportError:  # pragma: no cover - the site build always has myst-nb
            nb_glue = None
        if nb_glue is not None:
            nb_glue(name, value, display=display)
            return
    print(f"{name} = {value}")


# --------------------------------------------------------------------------- switching


def use_site_renderers() -> None:
    """Figures as text/html relying on the site's shared plotly.js and circuitsvis bundle."""
    import plotly.io as pio

    _register_site_renderer()
    pio.renderers.default = SITE_RENDERER
    if in_ipython():
        from IPython import get_ipython

        _register_circuitsvis_formatter(get_ipython())


def use_notebook_renderers() -> None:
    """Colab: plotly's colab renderer; Jupyter: plotly's mimetype (+ HTML fallback)."""
    import plotly.io as pio

    if in_colab():
        pio.renderers.default = "colab"
    elif in_ipython():
        pio.renderers.default = "plotly_mimetype+notebook"
    # in a plain script keep plotly's own default (it opens a browser on fig.show())


def use_renderers(env: str | None = None) -> str:
    env = env or environment()
    if env == "site":
        use_site_renderers()
    else:
        use_notebook_renderers()
    return env


def static_bundles() -> dict[str, str]:
    """Files the site serves once for all pages: {name in _static: path on disk}."""
    from pathlib import Path

    import circuitsvis
    import plotly

    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    cv_js = Path(circuitsvis.__file__).parent / "dist" / "cdn" / "iife.js"
    return {PLOTLY_STATIC_NAME: str(plotly_js), CIRCUITSVIS_STATIC_NAME: str(cv_js)}


__all__ = [
    "attention_heads",
    "circuitsvis_html",
    "circuitsvis_site_html",
    "environment",
    "glue",
    "in_colab",
    "in_site_build",
    "LiveFigure",
    "plotly_site_html",
    "static_bundles",
    "use_notebook_renderers",
    "use_renderers",
    "use_site_renderers",
]
