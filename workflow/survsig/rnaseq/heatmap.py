"""RNA-seq branch: the heatmap of the top DEGs (Supplementary Fig. S3 of the study).

:func:`plot_expression_heatmap`: variance-stabilised expression
(:attr:`survsig.rnaseq.differential.DifferentialExpression.vst_`) of the genes of
:func:`heatmap_genes`, z-scored per gene (:func:`zscore_rows`), genes ordered by
hierarchical clustering (:func:`cluster_order`), samples annotated by risk group.
"""

from __future__ import annotations

import matplotlib.colors
import matplotlib.patches
import numpy as np
import pandas as pd

from survsig.core.columns import HIGH, LOW, RISK_GROUP
from survsig.core.figures import RISK_GROUP_COLOURS, axes_in_inches, new_figure, styled
from survsig.core.vocabulary import RISK_LABELS
from survsig.rnaseq.differential import GROUP_ORDER


def zscore_rows(matrix: pd.DataFrame) -> pd.DataFrame:
    """Centre and scale each row (gene) to mean 0, SD 1 (ddof=1); constant rows become 0."""
    sd = matrix.std(axis=1, ddof=1).replace(0, np.nan)
    return matrix.sub(matrix.mean(axis=1), axis=0).div(sd, axis=0).fillna(0.0)


def heatmap_genes(results, degs, *, n_genes=50) -> tuple[list[str], bool]:
    """Genes of the heatmap: the ``n_genes`` DEGs of smallest p-value.

    With fewer than two DEGs, the ``n_genes`` genes of smallest p-value instead; the
    flag returned says so (``True`` = DEGs).
    """
    if len(degs) >= 2:
        return list(degs.index[:n_genes]), True
    return list(results.index[results["pvalue"].notna()][:n_genes]), False


def cluster_order(matrix: pd.DataFrame) -> list:
    """Row order of average-linkage clustering on correlation distance (deterministic)."""
    if len(matrix) < 3:
        return list(matrix.index)
    from scipy.cluster.hierarchy import leaves_list, linkage

    values = matrix.to_numpy(dtype=float)
    values = values + np.linspace(0, 1e-9, values.shape[1])[None, :]  # constant rows: defined distance
    tree = linkage(values, method="average", metric="correlation", optimal_ordering=True)
    return list(matrix.index[leaves_list(tree)])


@styled("panel")
def plot_expression_heatmap(vst: pd.DataFrame, samples: pd.DataFrame, genes, *, title=None, clip=2.5, ax=None):
    """Heatmap of variance-stabilised expression, z-scored per gene (Fig. S3).

    Columns are samples, high-risk first, with a coloured risk-group strip on top;
    rows are genes ordered by hierarchical clustering (average linkage, correlation).

    Parameters
    ----------
    vst : pandas.DataFrame
        Variance-stabilised expression, genes x samples
        (:attr:`~survsig.rnaseq.differential.DifferentialExpression.vst_`).
    samples : pandas.DataFrame
        Indexed by sample with a ``risk_group`` column.
    genes : sequence of str
        Genes to show (e.g. :func:`heatmap_genes`).
    title : str, optional
    clip : float
        Colour scale limits, in SD.
    ax : matplotlib.axes.Axes, optional
        Without one, a figure sized to the matrix (about 0.22 x 0.14 inch per cell).

    Returns
    -------
    matplotlib.axes.Axes
        The heatmap's axes (the risk-group strip and colour bar are insets of it).
    """
    genes = [g for g in genes if g in vst.index]
    order = sorted(samples.index, key=lambda s: (GROUP_ORDER.index(samples.loc[s, RISK_GROUP]), str(s)))
    z = zscore_rows(vst.loc[genes, order])
    z = z.loc[cluster_order(z)]
    show_genes = len(z) <= 80
    if ax is None:
        cell_w, cell_h = 0.24, (0.14 if show_genes else 0.04)
        left, right, top, bottom = 1.05, 1.45, 0.95, 0.85
        width = max(1.4, cell_w * len(order))
        height = max(1.2, cell_h * len(z))
        fig = new_figure(left + width + right, bottom + height + top)
        ax = axes_in_inches(fig, left, bottom, width, height)
    image = ax.imshow(z.to_numpy(), aspect="auto", cmap="RdBu_r", vmin=-clip, vmax=clip, interpolation="nearest")
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels(order, rotation=90, fontsize=7)
    if show_genes:
        ax.set_yticks(range(len(z)))
        ax.set_yticklabels(z.index, fontsize=6.5)
    else:
        ax.set_yticks([])
        ax.set_ylabel(f"{len(z)} genes")
    ax.tick_params(length=2, pad=1.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(True)
    strip = ax.inset_axes([0, 1.012, 1, 0.03 if len(z) > 20 else 0.08])
    groups = [samples.loc[s, RISK_GROUP] for s in order]
    colours = matplotlib.colors.ListedColormap([RISK_GROUP_COLOURS[HIGH], RISK_GROUP_COLOURS[LOW]])
    strip.imshow(
        np.array([[GROUP_ORDER.index(g) for g in groups]]),
        aspect="auto",
        cmap=colours,
        vmin=0,
        vmax=1,
        interpolation="nearest",
    )
    strip.set_xticks([])
    strip.set_yticks([])
    handles = [matplotlib.patches.Patch(color=RISK_GROUP_COLOURS[g], label=RISK_LABELS[g]) for g in GROUP_ORDER]
    ax.legend(
        handles=handles,
        title="Risk group",
        loc="upper left",
        bbox_to_anchor=(1.04, 1.045),
        frameon=False,
        fontsize=7.5,
        title_fontsize=7.5,
        handlelength=1.0,
        borderaxespad=0,
        alignment="left",
    )
    bar_ax = ax.inset_axes(
        [1.06, 0.0, 0.06 if len(order) < 12 else 0.035, min(0.45, 2.2 / max(ax.figure.get_size_inches()[1], 1))]
    )
    bar = ax.figure.colorbar(image, cax=bar_ax)
    bar.set_label("z-score\n(VST expression)", fontsize=7)
    bar.ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, loc="left", pad=14 if len(z) > 20 else 22, fontsize=9)
    return ax
