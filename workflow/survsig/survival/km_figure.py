"""Kaplan-Meier figures with the table of numbers at risk.

:func:`plot_km` and :func:`plot_at_risk` draw on one axes each (``ax=None``: a new
figure) and return it; :func:`draw_km_panel` puts curves, their header (legend,
test results) and the table of numbers at risk together, sharing the time axis;
:func:`km_risk_figure` is the figure of two risk groups in one set (Fig. 3, Fig. S1).
Save them with :func:`survsig.core.figures.save_figure` (PNG and PDF, byte-reproducible).

The curves are estimated by :func:`survsig.survival.km.kaplan_meier`, the groups compared
by :func:`survsig.survival.groups.compare_groups`. Times are in months throughout;
survival probabilities are fractions in [0, 1].
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from survsig.core.columns import OS_EVENT, OS_MONTHS, RISK_GROUP, RISK_LEVELS, SPLIT
from survsig.core.errors import InputError
from survsig.core.figures import RISK_GROUP_COLOURS, new_figure, style
from survsig.core.formats import format_hr, format_median, format_p, format_survival
from survsig.core.vocabulary import RISK_LABELS, SPLIT_TITLES, horizon_text, nomogram_title
from survsig.survival.groups import compare_risk_groups
from survsig.survival.km import kaplan_meier, number_at_risk


# --------------------------------------------------------------------------- figures
@dataclass
class KMGroup:
    """One curve of a KM figure: a label, its patients' follow-up and deaths, a colour."""

    label: str
    os_months: np.ndarray
    os_event: np.ndarray
    color: str
    legend: str = ""  # text after the label in the legend (n, 3-year OS; "\n" starts a line under it)
    curve: pd.DataFrame = field(default=None, repr=False)


def time_ticks(max_months, step_months=12.0):
    """Ticks 0, step, 2 step, ... up to the first multiple of ``step`` >= ``max_months``."""
    step = float(step_months)
    if step <= 0:
        raise InputError(f"the time step must be > 0 months, got {step_months!r}")
    top = max(step, math.ceil(max(float(max_months), 0.0) / step - 1e-9) * step)
    return np.arange(0.0, top + step / 2, step)


def plot_km(curve, *, ax=None, color=None, label=None, conf_int=True, censor_marks=True):
    """Draw one Kaplan-Meier curve (step function from S(0) = 1) on ``ax``.

    Parameters
    ----------
    curve : pandas.DataFrame
        Output of :func:`~survsig.survival.km.kaplan_meier`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure's axes when None.
    color, label : str, optional
        Line colour and legend label.
    conf_int : bool, default True
        Shade the pointwise confidence band.
    censor_marks : bool, default True
        Mark censoring times with ``+`` on the curve.

    Notes
    -----
    The curve ends at the group's last observed time, as R's ``plot.survfit`` draws it.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        fig = new_figure(5, 4)
        ax = fig.add_subplot()
    if len(curve) == 0:
        return ax
    t = np.concatenate([[0.0], curve["time"].to_numpy(float)])
    s = np.concatenate([[1.0], curve["surv"].to_numpy(float)])
    (line,) = ax.step(t, s, where="post", color=color, label=label, linewidth=1.6, zorder=3)
    color = line.get_color()
    if conf_int:
        lower = np.concatenate([[1.0], curve["lower"].to_numpy(float)])
        upper = np.concatenate([[1.0], curve["upper"].to_numpy(float)])
        ok = np.isfinite(lower) & np.isfinite(upper)
        ax.fill_between(t[ok], lower[ok], upper[ok], step="post", color=color, alpha=0.15, linewidth=0, zorder=2)
    if censor_marks:
        censored = curve[curve["n_censor"] > 0]
        ax.plot(
            censored["time"],
            censored["surv"],
            linestyle="none",
            marker="+",
            markersize=5,
            markeredgewidth=1.0,
            color=color,
            zorder=4,
        )
    return ax


def plot_at_risk(groups, ticks, *, ax=None):
    """Table of numbers at risk under a KM plot: one row per group, one column per tick.

    Parameters
    ----------
    groups : list of KMGroup
        Rows, top to bottom; each row label in the group's colour.
    ticks : array_like of float
        Time points (months); the numbers sit centred on them, so an axes sharing its
        x-axis with the curves' axes puts each number under its tick.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure's axes when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        fig = new_figure(5, 0.3 + 0.22 * len(groups))
        ax = fig.add_subplot()
    ticks = np.asarray(ticks, dtype=float)
    n_rows = len(groups)
    for row, group in enumerate(groups):
        y = n_rows - 1 - row
        for t, n in zip(ticks, number_at_risk(group.os_months, ticks)):
            ax.text(t, y, str(int(n)), ha="center", va="center", color=group.color, clip_on=False)
    ax.set_ylim(-0.6, n_rows - 0.4)
    ax.set_yticks(np.arange(n_rows)[::-1], [g.label for g in groups])
    for label, group in zip(ax.get_yticklabels(), groups):
        label.set_color(group.color)
    # the numbers are centred on their ticks: keep the row labels clear of those at t = 0
    ax.tick_params(axis="y", length=0, pad=18)
    ax.tick_params(axis="x", length=0, labelbottom=False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title("Number at risk", loc="left", fontsize=9, fontweight="bold", pad=4)
    return ax


#: Layout of one KM panel, inches.
PANEL_WIDTH = 5.8
MARGIN_LEFT = 1.3
MARGIN_RIGHT = 0.25
HEADER_INDENT = 0.3  # legend and result lines start here, left of the axes, for room
TITLE_H = 0.32
LINE_H = 0.2
PLOT_H = 3.0
XLABEL_H = 0.5
RISK_TITLE_H = 0.28
RISK_ROW_H = 0.2
BOTTOM_H = 0.12


HEADER_CHARS = 78  # result lines wrap at this many characters to stay inside the panel


def wrap_lines(lines, width=HEADER_CHARS):
    """Header lines wrapped to ``width`` characters (continuations indented); blank lines kept."""
    wrapped = []
    for line in lines:
        wrapped += textwrap.wrap(line, width=width, subsequent_indent="   ", break_on_hyphens=False) or [""]
    return wrapped


def legend_line_count(groups) -> int:
    """Lines the legend of ``groups`` takes: one per group, more where its text has line breaks."""
    return sum(1 + group.legend.count("\n") for group in groups)


def panel_height(n_groups, lines, *, legend_lines=None):
    """Height (inches) of a KM panel with ``n_groups`` curves and these header lines.

    ``legend_lines`` (default ``n_groups``) is :func:`legend_line_count` of the groups.
    """
    return (
        TITLE_H
        + LINE_H * ((n_groups if legend_lines is None else legend_lines) + len(wrap_lines(lines)))
        + 0.12
        + PLOT_H
        + XLABEL_H
        + RISK_TITLE_H
        + RISK_ROW_H * n_groups
        + BOTTOM_H
    )


def draw_km_panel(
    fig,
    origin,
    groups,
    *,
    title="",
    lines=(),
    step_months=12.0,
    max_months=None,
    conf_level=0.95,
    conf_type="log",
    xlabel="Time (months)",
    ylabel="Overall survival probability",
):
    """One KM panel: title, legend, result lines, curves and the table at risk.

    The header sits above the plot, so nothing covers the curves; the table at risk is
    an axes sharing the curves' x-axis, so its numbers sit under the time ticks.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Figure to draw on; its size (inches) fixes the layout.
    origin : (float, float)
        Lower-left corner of the panel (inches from the figure's lower-left corner).
    groups : list of KMGroup
        Curves, in legend and table order.
    title : str
        Panel title (bold).
    lines : sequence of str
        Text lines under the legend (test results), wrapped by :func:`wrap_lines`.
    step_months : float, default 12
        Spacing of the time ticks (months).
    max_months : float, optional
        Right end of the time axis (months); the longest follow-up when None.
    conf_level, conf_type
        Confidence band of each curve (see :func:`~survsig.survival.km.kaplan_meier`).

    Returns
    -------
    (matplotlib.axes.Axes, matplotlib.axes.Axes)
        Axes of the curves and of the table at risk.
    """
    from matplotlib.lines import Line2D

    fw, fh = fig.get_size_inches()
    x0, y0 = origin
    n_groups, lines = len(groups), wrap_lines(lines)
    height = panel_height(n_groups, lines, legend_lines=legend_line_count(groups))
    top = y0 + height

    if max_months is None:
        longest = [float(np.max(g.os_months)) for g in groups if len(g.os_months)]
        max_months = max(longest) if longest else step_months
    ticks = time_ticks(max_months, step_months)

    plot_w = PANEL_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    risk_h = RISK_ROW_H * n_groups
    risk_bottom = y0 + BOTTOM_H
    plot_bottom = risk_bottom + risk_h + RISK_TITLE_H + XLABEL_H
    ax = fig.add_axes([(x0 + MARGIN_LEFT) / fw, plot_bottom / fh, plot_w / fw, PLOT_H / fh])
    ax_risk = fig.add_axes([(x0 + MARGIN_LEFT) / fw, risk_bottom / fh, plot_w / fw, risk_h / fh], sharex=ax)

    for group in groups:
        curve = group.curve
        if curve is None:
            curve = kaplan_meier(group.os_months, group.os_event, conf_level=conf_level, conf_type=conf_type)
        plot_km(curve, ax=ax, color=group.color, label=group.label)
    ax.set_xlim(ticks[0], ticks[-1])
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.set_ylim(-0.02, 1.02)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, color="0.9", linewidth=0.6, zorder=0)
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    plot_at_risk(groups, ticks, ax=ax_risk)
    ax.tick_params(axis="x", labelbottom=True)

    # header: title, one legend line per group, then the result lines
    left = (x0 + HEADER_INDENT) / fw
    y = top - 0.06
    if title:
        fig.text((x0 + 0.12) / fw, y / fh, title, ha="left", va="top", fontsize=10.5, fontweight="bold")
    y -= TITLE_H
    for group in groups:
        mid = (y - LINE_H / 2) / fh
        fig.add_artist(
            Line2D([left, left + 0.3 / fw], [mid, mid], color=group.color, linewidth=2.0, transform=fig.transFigure)
        )
        first, *more = group.legend.split("\n")
        fig.text(left + 0.38 / fw, mid, group.label + (f"  {first}" if first else ""), ha="left", va="center")
        y -= LINE_H
        for line in more:  # continuation lines of the legend, under its text
            fig.text(left + 0.38 / fw, (y - LINE_H / 2) / fh, line, ha="left", va="center")
            y -= LINE_H
    for line in lines:
        fig.text(left, (y - LINE_H / 2) / fh, line, ha="left", va="center")
        y -= LINE_H
    return ax, ax_risk


# --------------------------------------------------------------------------- risk groups
def group_legend(result, level, time_months):
    return (
        f"n = {result[f'n_{level}']}, deaths {result[f'events_{level}']}; {horizon_text(time_months)} OS "
        + format_survival(result[f"os_{level}"], result[f"os_{level}_lower"], result[f"os_{level}_upper"])
        + "\n"
        + format_median(result[f"median_{level}"], result[f"median_{level}_lower"], result[f"median_{level}_upper"])
    )


def risk_group_curves(frame, result, time_months):
    return [
        KMGroup(
            RISK_LABELS[level],
            frame.loc[frame[RISK_GROUP] == level, OS_MONTHS].to_numpy(float),
            frame.loc[frame[RISK_GROUP] == level, OS_EVENT].to_numpy(int),
            RISK_GROUP_COLOURS[level],
            legend=group_legend(result, level, time_months),
        )
        for level in RISK_LEVELS
    ]


def comparison_line(result, conf_level, what="High vs low risk"):
    return (
        f"{what}: {format_hr(result['hr'], result['hr_lower'], result['hr_upper'], confidence=conf_level)}; "
        f"log-rank {format_p(result['logrank_p'])}"
    )


# --------------------------------------------------------------------------- Fig. 3
def km_risk_figure(
    groups,
    cutoff_row,
    split,
    *,
    nomogram=None,
    title=None,
    time_months=36.0,
    conf_level=0.95,
    conf_type="log",
    step_months=12.0,
    cutoff_text=None,
):
    """Kaplan-Meier curves of the two risk groups in one split (Fig. 3 A-F).

    Header: legend with n, deaths, survival at ``time_months`` (CI) and median survival
    (CI) per group; the
    hazard ratio (high vs low, Cox) and log-rank p; the cut-off (``cutoff_text`` replaces
    its line). Under the plot: the
    numbers at risk at each time tick. The title names the nomogram
    (:func:`survsig.core.vocabulary.nomogram_title`) or, when given, ``title``. Returns the
    figure (save with :func:`survsig.core.figures.save_figure`).
    """
    part = groups[groups[SPLIT] == split]
    result = compare_risk_groups(part, time_months=time_months, conf_level=conf_level, conf_type=conf_type)
    lines = [
        comparison_line(result, conf_level),
        cutoff_text or f"Cut-off learned on the training set: high risk = lp > {cutoff_row['cutoff']:.4g}",
    ]
    if result["note"]:
        lines.append(f"Note: {result['note']}")
    title = f"{title or nomogram_title(nomogram)}, {SPLIT_TITLES[split]}"
    max_months = float(groups[OS_MONTHS].max())
    km_groups = risk_group_curves(part, result, time_months)
    with style("km"):
        fig = new_figure(PANEL_WIDTH, panel_height(2, lines, legend_lines=legend_line_count(km_groups)))
        draw_km_panel(
            fig,
            (0, 0),
            km_groups,
            title=title,
            lines=lines,
            step_months=step_months,
            max_months=max_months,
            conf_level=conf_level,
            conf_type=conf_type,
        )
    return fig
