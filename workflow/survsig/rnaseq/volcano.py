"""RNA-seq branch: the volcano plot of high vs low risk.

:func:`plot_volcano`: log2 fold change against -log10 p-value of every tested gene
(:class:`survsig.rnaseq.differential.DifferentialExpression`), DEGs
(:func:`survsig.rnaseq.differential.call_degs`) coloured by direction and the most
significant ones named.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from survsig.core.columns import HIGH, LOW
from survsig.core.figures import RISK_GROUP_COLOURS, axes_in_inches, new_figure, styled

#: Colours of up- and down-regulated genes: those of the risk groups they are up in.
DIRECTION_COLOURS = {"up": RISK_GROUP_COLOURS[HIGH], "down": RISK_GROUP_COLOURS[LOW], "ns": "#b3b3b3"}


# ----------------------------------------------------------------------------- volcano
def _neg_log10(p: pd.Series) -> pd.Series:
    smallest = p[p > 0].min() if (p > 0).any() else 1e-300
    return -np.log10(p.clip(lower=smallest))


@styled("panel")
def plot_volcano(results, degs, *, p_value="pvalue", cutoff=0.05, min_abs_log2fc=1.0, n_labels=10, ax=None):
    """Volcano plot: log2 fold change (high vs low risk) against -log10 p-value.

    DEGs up in high risk in red, down in blue, other genes grey; dashed lines at the
    thresholds; the ``n_labels`` most significant DEGs named.

    Parameters
    ----------
    results : pandas.DataFrame
        :attr:`~survsig.rnaseq.differential.DifferentialExpression.results_`.
    degs : pandas.DataFrame
        :func:`~survsig.rnaseq.differential.call_degs` of the same results.
    p_value, cutoff, min_abs_log2fc : see :func:`~survsig.rnaseq.differential.call_degs`.
    n_labels : int
        DEGs labelled with their symbol.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        ax = axes_in_inches(new_figure(5.4, 5.0), 0.75, 0.6, 4.45, 3.55)
    table = results.loc[results[p_value].notna()]
    y = _neg_log10(table[p_value])
    x = table["log2FoldChange"]
    direction = pd.Series("ns", index=table.index)
    direction[degs.index[degs["direction"] == "up"].intersection(table.index)] = "up"
    direction[degs.index[degs["direction"] == "down"].intersection(table.index)] = "down"
    labels = {
        "up": f"Up in high risk ({int((direction == 'up').sum())})",
        "down": f"Down in high risk ({int((direction == 'down').sum())})",
        "ns": f"Not significant ({int((direction == 'ns').sum())})",
    }
    for kind, size in (("ns", 6), ("down", 9), ("up", 9)):
        chosen = (direction == kind).to_numpy()
        ax.scatter(
            x[chosen],
            y[chosen],
            s=size,
            c=DIRECTION_COLOURS[kind],
            alpha=0.75 if kind != "ns" else 0.5,
            linewidths=0,
            label=labels[kind],
            rasterized=len(table) > 5000,
        )
    ax.axhline(-np.log10(cutoff), color="0.35", linestyle="--", linewidth=0.7)
    if min_abs_log2fc > 0:
        for sign in (-1, 1):
            ax.axvline(sign * min_abs_log2fc, color="0.35", linestyle="--", linewidth=0.7)
    limit = float(np.nanmax(np.abs(x))) if len(x) else 1.0
    y_top = float(np.nanmax(y)) * 1.06 + 0.2 if len(y) else 1.0
    ax.set_xlim(-limit * 1.12 - 0.1, limit * 1.12 + 0.1)
    ax.set_ylim(0, y_top)
    top = degs.loc[degs.index.intersection(table.index)]
    _label_points(ax, x[top.index[:n_labels]], y[top.index[:n_labels]], y_step=y_top * 0.04)
    p_label = "p-value" if p_value == "pvalue" else "adjusted p-value"
    ax.set_xlabel("log$_2$ fold change (high vs low risk)")
    ax.set_ylabel(f"$-$log$_{{10}}$ {p_label}")
    threshold = f"{p_label} < {cutoff:g}" + (f", |log$_2$FC| $\\geq$ {min_abs_log2fc:g}" if min_abs_log2fc > 0 else "")
    ax.set_title(f"High vs low risk: {len(degs)} DEGs\n({threshold})", loc="left", pad=24)
    ax.legend(
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=3,
        frameon=False,
        markerscale=1.6,
        handletextpad=0.1,
        columnspacing=0.8,
        fontsize=7.5,
        borderaxespad=0.2,
    )
    return ax


def _label_points(ax, x: pd.Series, y: pd.Series, *, y_step):
    """Name points: labels point outward on each side and are pushed down so none overlap."""
    placed = {-1: [], 1: []}
    for gene in y.sort_values(ascending=False).index:
        side = 1 if x[gene] >= 0 else -1
        label_y = y[gene]
        for other in placed[side]:
            if abs(other - label_y) < y_step:
                label_y = other - y_step
        placed[side].append(label_y)
        ax.annotate(
            gene,
            (x[gene], y[gene]),
            xytext=(x[gene] - side * 0.15 * abs(ax.get_xlim()[1]), label_y),
            textcoords="data",
            ha="right" if side > 0 else "left",
            va="center",
            fontsize=6.5,
            color="0.1",
            arrowprops={"arrowstyle": "-", "color": "0.5", "linewidth": 0.5, "shrinkA": 0, "shrinkB": 2},
        )
