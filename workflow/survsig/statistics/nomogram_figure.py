"""The figure of a Cox nomogram, drawn as ``rms``'s ``plot.nomogram`` does (Fig. 2A).

:func:`plot_nomogram` draws the points axis, one axis per term, the total points, the
linear predictor and the survival axes (:func:`survival_axis`); :func:`nomogram_figure`
puts it on a figure of its own.
"""

from __future__ import annotations

import math

import numpy as np

from survsig.core.figures import new_figure, style
from survsig.core.vocabulary import horizon_text
from survsig.statistics.nomogram import CoxNomogram
from survsig.statistics.terms import Term


# --------------------------------------------------------------------------- figure
def _format_tick(value) -> str:
    text = f"{value:.6g}"
    return "0" if text in ("-0", "0") else text


def survival_axis(nomogram: CoxNomogram, t, ticks) -> tuple:
    """Positions (total points) and labels of the ``t``-month survival axis.

    The exact inverse of ``S(t) = S0(t)^exp(lp)`` places each tick; ticks whose
    linear predictor falls outside the linear predictor axis are left out, as
    ``rms`` does.
    """
    scale = nomogram.scale_
    s0 = float(np.exp(-nomogram._cumhaz(t)))
    lp_at = np.asarray(scale["lp_at"])
    positions, labels = [], []
    if not 0 < s0 < 1:
        return positions, labels
    for s in ticks:
        if not 0 < s < 1:
            continue
        lp = math.log(math.log(s) / math.log(s0))
        if lp_at.min() - 1e-12 <= lp <= lp_at.max() + 1e-12:
            positions.append((lp - scale["intercept"]) * scale["sc"])
            labels.append(_format_tick(s))
    return positions, labels


def plot_nomogram(
    nomogram: CoxNomogram,
    ax=None,
    *,
    survival_ticks=(0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05),
    title=None,
):
    """Draw the nomogram as ``rms``'s ``plot.nomogram`` does (Fig. 2A of the study).

    From the top: a Points axis (0-100), one axis per term with its values placed at
    their points, Total Points, Linear Predictor, and one overall-survival axis per
    ``nomogram.survival_times``. Faint vertical lines help reading points off.

    Parameters
    ----------
    nomogram : CoxNomogram
        A fitted nomogram.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure's when None.
    survival_ticks : sequence of float
        Survival probabilities marked on the survival axes.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    nomogram._check_fitted()
    scale = nomogram.scale_
    if ax is None:
        fig = new_figure(9, 1.0 + 0.55 * (len(nomogram.terms) + 3 + len(nomogram.survival_times)))
        ax = fig.add_subplot()
    total_ticks = np.asarray(scale["total_points"])
    total_max = float(total_ticks.max())
    to_x = 100.0 / total_max  # total points -> the points axis' width
    rows = [("Points", np.arange(0, 101, 10.0), [f"{v:g}" for v in range(0, 101, 10)], np.arange(0, 101, 5.0))]
    for term in nomogram.terms:
        axis = scale["axes"][term.name]
        values, points = np.asarray(axis["values"]), np.asarray(axis["points"])
        if term.kind == "binary":
            labels = [term.level_labels[int(v)] for v in values]
        else:
            labels = [_format_tick(v) for v in values]
        rows.append((_axis_title(term), points, labels, None))
    rows.append(("Total Points", total_ticks * to_x, [_format_tick(v) for v in total_ticks], None))
    lp_at = np.asarray(scale["lp_at"])
    rows.append(
        ("Linear Predictor", (lp_at - scale["intercept"]) * scale["sc"] * to_x, [_format_tick(v) for v in lp_at], None)
    )
    for t in nomogram.survival_times:
        positions, labels = survival_axis(nomogram, t, survival_ticks)
        rows.append((f"{horizon_text(t)} OS", np.asarray(positions) * to_x, labels, None))

    n = len(rows)
    ax.set_xlim(-48, 104)
    bbox = ax.get_position()
    units_per_inch = 152.0 / max(bbox.width * ax.figure.get_figwidth(), 1e-6)
    char_width = 0.6 * 8.5 / 72 * units_per_inch  # a DejaVu Sans character at 8.5 pt, in points units
    ax.set_ylim(n - 0.4, -0.9)
    ax.axis("off")
    for x in np.arange(0, 101, 10.0):
        ax.axvline(x, color="0.88", linewidth=0.6, zorder=0)
    for i, (label, positions, labels, minor) in enumerate(rows):
        y = i + 0.15
        ax.text(
            -46,
            y,
            label,
            ha="left",
            va="center",
            fontsize=10,
            fontweight="bold" if label in ("Points", "Total Points") else "normal",
        )
        if len(positions) == 0:
            ax.text(0, y, "(outside the range of the linear predictor)", fontsize=8, color="0.4", va="center")
            continue
        lo, hi = float(np.min(positions)), float(np.max(positions))
        ax.plot([lo, hi], [y, y], color="black", linewidth=0.9, solid_capstyle="butt")
        if minor is not None:
            for x in minor:
                ax.plot([x, x], [y, y - 0.1], color="black", linewidth=0.7)
        order = np.argsort(positions, kind="stable")
        last_right = -np.inf
        for k in order:
            x = float(positions[k])
            ax.plot([x, x], [y, y - 0.18], color="black", linewidth=0.9)
            text = labels[k]
            half = 0.5 * len(text) * char_width + 0.3 * char_width  # label half-width plus a gap
            if x - half < last_right:
                continue  # thin out labels that would overlap, as rms does with label.every
            ax.text(x, y - 0.24, text, ha="center", va="bottom", fontsize=8.5)
            last_right = x + half
    if title:
        ax.set_title(title, fontsize=12, fontweight="bold", loc="left")
    return ax


def _axis_title(term: Term) -> str:
    if term.kind == "binary":
        return term.label.split(" (")[0]
    return term.label


def nomogram_figure(nomogram: CoxNomogram, *, survival_ticks, title=None):
    """Fig. 2A: :func:`plot_nomogram` on a figure of its own, with a title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    with style():
        n_rows = len(nomogram.terms) + 3 + len(nomogram.survival_times)
        fig = new_figure(10, 1.2 + 0.62 * n_rows)
        ax = fig.add_axes([0.02, 0.02, 0.96, 0.92 if title else 0.96])
        plot_nomogram(nomogram, ax=ax, survival_ticks=survival_ticks)
        if title:
            fig.text(0.02, 0.985, title, ha="left", va="top", fontsize=12, fontweight="bold")
    return fig
