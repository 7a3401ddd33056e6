"""Plotly figures for the toy-model pages: one function per kind of picture, sliders over instances.

A slider here toggles which instance's traces are visible (`method="update"`), so the figure is
plain plotly.js with no frames or callbacks: it works on the static site, in Jupyter and in Colab.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from torch import Tensor

from micourse.toys import geometry

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def _slider(n_inst: int, traces_per_inst: int, labels: Sequence[str], prefix: str, active: int = 0) -> dict:
    steps = []
    for i in range(n_inst):
        visible = [j // traces_per_inst == i for j in range(n_inst * traces_per_inst)]
        steps.append(dict(method="update", args=[{"visible": visible}], label=labels[i]))
    return dict(active=active, currentvalue={"prefix": prefix}, steps=steps, pad={"t": 40})


def features_2d(
    W: Tensor,
    labels: Sequence[str],
    prefix: str = "",
    title: str = "",
    active: int = 0,
    importance: Tensor | None = None,
) -> go.Figure:
    """Each feature's direction in a 2-d hidden space, one instance at a time (slider).

    W: [n_inst, 2, n_features]. Hover a point for the feature index, its length and its angle.
    """
    W = W.detach().cpu()
    n_inst, d, n_feat = W.shape
    if d != 2:
        raise ValueError(f"features_2d draws a 2-d hidden space, got d_hidden = {d}")
    angles = geometry.angles_2d(W)
    norms = geometry.feature_norms(W)
    fig = go.Figure()
    for i in range(n_inst):
        for f in range(n_feat):
            x, y = W[i, 0, f].item(), W[i, 1, f].item()
            extra = f"<br>importance {importance[f]:.2f}" if importance is not None else ""
            fig.add_trace(
                go.Scatter(
                    x=[0, x],
                    y=[0, y],
                    mode="lines+markers",
                    line=dict(color=COLORS[f % len(COLORS)], width=3),
                    marker=dict(size=[0, 10]),
                    name=f"feature {f}",
                    legendgroup=f"feature {f}",
                    showlegend=i == active,
                    visible=i == active,
                    hovertext=["", f"feature {f}<br>length {norms[i, f]:.2f}<br>angle {angles[i, f]:.0f}°{extra}"],
                    hoverinfo="text",
                )
            )
    lim = max(1.3, float(W.abs().max()) * 1.1)
    fig.update_layout(
        title=title,
        sliders=[_slider(n_inst, n_feat, labels, prefix, active)],
        xaxis=dict(range=[-lim, lim], zeroline=True, title="hidden dim 0"),
        yaxis=dict(range=[-lim, lim], scaleanchor="x", scaleratio=1, title="hidden dim 1"),
        width=560,
        height=620,
        margin=dict(l=40, r=20, t=60, b=30),
    )
    return fig


def matrices(
    mats: Tensor, labels: Sequence[str], prefix: str = "", title: str = "", zmax: float = 1.0, axis: str = "feature"
) -> go.Figure:
    """One [rows, cols] heatmap per instance (e.g. W^T W), red-blue around 0, with a slider."""
    mats = mats.detach().cpu()
    fig = go.Figure()
    for i in range(mats.shape[0]):
        fig.add_trace(
            go.Heatmap(
                z=mats[i].numpy(),
                zmin=-zmax,
                zmax=zmax,
                colorscale="RdBu",
                reversescale=True,
                visible=i == 0,
                hovertemplate=f"row {axis} %{{y}}<br>column feature %{{x}}<br>value %{{z:.2f}}<extra></extra>",
            )
        )
    fig.update_layout(
        title=title,
        sliders=[_slider(mats.shape[0], 1, labels, prefix)],
        yaxis=dict(autorange="reversed", title=axis),
        xaxis=dict(title="feature"),
        height=560,
        margin=dict(l=50, r=20, t=60, b=30),
    )
    return fig


def neuron_weights(W: Tensor, labels: Sequence[str], prefix: str = "", title: str = "") -> go.Figure:
    """Per-neuron input weights W[i, neuron, :] as grouped bars (one colour per feature), a slider over instances."""
    W = W.detach().cpu()
    n_inst, n_neurons, n_feat = W.shape
    fig = go.Figure()
    for i in range(n_inst):
        for f in range(n_feat):
            fig.add_trace(
                go.Bar(
                    x=[f"neuron {n}" for n in range(n_neurons)],
                    y=W[i, :, f].numpy(),
                    name=f"feature {f}",
                    marker_color=COLORS[f % len(COLORS)],
                    legendgroup=f"feature {f}",
                    showlegend=i == 0,
                    visible=i == 0,
                    hovertemplate=f"%{{x}}<br>feature {f}<br>weight %{{y:.2f}}<extra></extra>",
                )
            )
    lim = float(W.abs().max()) * 1.05
    fig.update_layout(
        title=title,
        barmode="group",
        sliders=[_slider(n_inst, n_feat, labels, prefix)],
        yaxis=dict(range=[-lim, lim], title="input weight"),
        height=460,
        margin=dict(l=50, r=20, t=60, b=30),
    )
    return fig
