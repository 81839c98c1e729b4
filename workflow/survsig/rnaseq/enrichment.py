"""Over-representation analysis (ORA) of differentially expressed genes, offline.

gseapy's ``enrich`` runs the hypergeometric test of each gene set against the DEGs,
with the genes DESeq2 tested as background, and adjusts the p-values by
Benjamini-Hochberg. Everything stays local: libraries are read from GMT files with
:func:`survsig.core.genesets.read_gmt` and handed to gseapy as a dict, so gseapy never looks
a library name up on the Enrichr server.

gseapy's background semantics (``gseapy/enrichr.py`` and ``gseapy/stats.py``,
version 1.3.1), which we rely on:

* ``background`` as a list of genes: the universe is ``len(set(background))``; the
  query and every gene set are intersected with it first, so a set's size is its
  number of genes in the background.
* ``background`` as an int: the universe is that number and gene sets are not
  intersected, so genes absent from the experiment count in set sizes; not used here.
* ``background=None``: the union of all gene sets' genes.
* Only sets sharing at least one gene with the query are tested, and the BH
  adjustment runs over those (as clusterProfiler's ``enricher`` does).

Set sizes (counted within the background) are filtered to
``[min_set_size, max_set_size]`` before testing, as clusterProfiler's
``minGSSize``/``maxGSSize``.
"""

from __future__ import annotations

import logging
import re
import textwrap

import matplotlib.lines
import numpy as np
import pandas as pd

from survsig.core.errors import InputError
from survsig.core.figures import axes_in_inches, new_figure, styled
from survsig.core.genesets import read_gmt

logger = logging.getLogger(__name__)

#: Directions of the DEG lists tested: up in high risk, down, all DEGs together.
DIRECTIONS = ("up", "down", "all")

#: Columns of an enrichment table, in the order written.
ENRICHMENT_COLUMNS = (
    "term",
    "overlap",
    "set_size",
    "query_size",
    "background_size",
    "gene_ratio",
    "background_ratio",
    "odds_ratio",
    "pvalue",
    "padj",
    "combined_score",
    "genes",
)

#: Name prefixes of MSigDB collections, dropped in figure labels.
TERM_PREFIXES = re.compile(r"^(KEGG|GOBP|GOCC|GOMF|GO|HALLMARK|REACTOME|WP|BIOCARTA)_")


def empty_table() -> pd.DataFrame:
    """An enrichment table without rows (no DEGs, or no set shares a gene with them)."""
    return pd.DataFrame(
        {
            name: pd.Series(dtype=object if name in ("term", "overlap", "genes") else float)
            for name in ENRICHMENT_COLUMNS
        }
    )


def load_library(path) -> dict[str, list[str]]:
    """Read one gene-set library (GMT file) as ``{term: genes}``."""
    return read_gmt(path)


def filter_library(library: dict, background, *, min_set_size=10, max_set_size=500) -> dict[str, list[str]]:
    """Gene sets restricted to the background, keeping those of ``min..max`` genes there."""
    universe = set(background)
    kept = {}
    for term, genes in library.items():
        inside = [g for g in dict.fromkeys(genes) if g in universe]
        if min_set_size <= len(inside) <= max_set_size:
            kept[term] = inside
    return kept


def over_representation(genes, library, *, background, min_set_size=10, max_set_size=500) -> pd.DataFrame:
    """Hypergeometric over-representation test of ``genes`` in each set of ``library``.

    Parameters
    ----------
    genes : sequence of str
        The query (e.g. DEG symbols). Genes outside the background are ignored.
    library : dict or str or path
        ``{term: genes}``, or a GMT file.
    background : sequence of str
        The universe: genes that could have been in the query (all tested genes).
    min_set_size, max_set_size : int
        Sets with fewer or more genes within the background are not tested.

    Returns
    -------
    pandas.DataFrame
        :data:`ENRICHMENT_COLUMNS`, one row per set sharing at least one gene with the
        query, sorted by p-value then term. ``overlap`` is ``k/n``: query genes in the
        set / set size within the background; ``gene_ratio`` = k / query size and
        ``background_ratio`` = n / background size (clusterProfiler's GeneRatio and
        BgRatio); ``padj`` is Benjamini-Hochberg over the rows; ``odds_ratio`` and
        ``combined_score`` (-ln p x odds ratio) are gseapy's (Haldane-Anscombe
        corrected odds ratio); ``genes`` the overlapping genes, sorted, ``;``-separated.

    Raises
    ------
    InputError
        When the query looks like Entrez ids (gseapy would switch to integer ids).
    """
    import gseapy

    if not isinstance(library, dict):
        library = load_library(library)
    universe = sorted(set(map(str, background)))
    query = sorted(set(map(str, genes)) & set(universe))
    sets = filter_library(library, universe, min_set_size=min_set_size, max_set_size=max_set_size)
    if not query or not sets:
        return empty_table()
    if all(g.isdigit() for g in query):
        raise InputError(
            "gene ids of the DEGs are numbers (Entrez ids?): map them to symbols with config "
            "rnaseq.gene_ids: entrez and rnaseq.id_map"
        )
    result = gseapy.enrich(
        gene_list=query, gene_sets=sets, background=universe, outdir=None, no_plot=True, verbose=False
    )
    table = result.res2d
    result.close()  # drops the logging handlers gseapy made for this query
    if table is None or table.empty:
        return empty_table()
    hits = table["Overlap"].str.split("/", expand=True).astype(int)
    out = pd.DataFrame(
        {
            "term": table["Term"].astype(str),
            "overlap": table["Overlap"].astype(str),
            "set_size": hits[1],
            "query_size": len(query),
            "background_size": len(universe),
        }
    )
    out["gene_ratio"] = hits[0] / len(query)
    out["background_ratio"] = hits[1] / len(universe)
    out["odds_ratio"] = table["Odds Ratio"].astype(float)
    out["pvalue"] = table["P-value"].astype(float)
    out["padj"] = table["Adjusted P-value"].astype(float)
    out["combined_score"] = table["Combined Score"].astype(float)
    out["genes"] = [";".join(sorted(g.split(";"))) for g in table["Genes"].astype(str)]
    order = np.lexsort((out["term"].to_numpy(dtype=str), out["pvalue"].to_numpy()))
    return out.iloc[order].reset_index(drop=True)[list(ENRICHMENT_COLUMNS)]


def degs_of_direction(degs: pd.DataFrame, direction: str) -> list[str]:
    """DEG symbols of one direction: ``up``, ``down`` or ``all``."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    if direction == "all":
        return sorted(degs.index.astype(str))
    return sorted(degs.index[degs["direction"] == direction].astype(str))


def enrich_degs(degs, background, library, *, direction="all", min_set_size=10, max_set_size=500, name=None):
    """:func:`over_representation` of the DEGs of one direction, with a log line.

    Parameters
    ----------
    degs : pandas.DataFrame
        :func:`survsig.rnaseq.differential.call_degs` output (index gene, ``direction`` column).
    background : sequence of str
        All tested genes (:func:`survsig.rnaseq.differential.tested_genes`).
    library : dict or path
        Gene sets.
    direction : {"up", "down", "all"}
    name : str, optional
        Library name for the log.
    """
    genes = degs_of_direction(degs, direction)
    table = over_representation(
        genes, library, background=background, min_set_size=min_set_size, max_set_size=max_set_size
    )
    n_sig = int((table["padj"] < 0.05).sum())
    logger.info(
        "%s, %s DEGs (%d genes, background %d): %d sets tested with an overlap, %d with padj < 0.05%s",
        name or "library",
        direction,
        len(genes),
        len(set(background)),
        len(table),
        n_sig,
        f"; top: {table['term'].iloc[0]} (p = {table['pvalue'].iloc[0]:.3g})" if len(table) else "",
    )
    return table


DIRECTION_TITLES = {"up": "DEGs up in high risk", "down": "DEGs down in high risk", "all": "all DEGs"}


def top_terms_title(table: pd.DataFrame, library: str, direction: str) -> str:
    """Figure title: library, DEG direction and the number of DEGs tested."""
    n = f" (n = {int(table['query_size'].iloc[0])})" if len(table) else ""
    return f"{library}: {DIRECTION_TITLES[direction]}{n}"


def term_label(term: str, width=42) -> str:
    """A term as shown in figures: collection prefix dropped, underscores as spaces, wrapped."""
    label = TERM_PREFIXES.sub("", str(term)).replace("_", " ")
    return textwrap.fill(label, width=width)


@styled("panel")
def plot_top_terms(table: pd.DataFrame, *, n_terms=10, title=None, ax=None):
    """Dot plot of the ``n_terms`` most significant terms (Fig. 5 of the study).

    x: gene ratio (DEGs in the term / DEGs tested); dot size: number of DEGs in the
    term; colour: -log10 adjusted p-value; terms ordered by p-value, the smallest on
    top. Terms with adjusted p < 0.05 carry a star.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`over_representation` output.
    n_terms : int
    title : str, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    top = table.head(n_terms)
    if ax is None:
        rows = max(len(top), 3)
        height = 0.36 * rows
        fig = new_figure(7.2, height + 1.15)
        ax = axes_in_inches(fig, 3.05, 0.6, 2.55, height)
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    if top.empty:
        ax.text(
            0.5,
            0.5,
            "no gene set shares a gene\nwith this DEG list",
            ha="center",
            va="center",
            transform=ax.transAxes,
            color="0.3",
        )
        ax.set_xticks([])
        ax.set_yticks([])
        return ax
    y = np.arange(len(top))[::-1]
    count = top["overlap"].str.split("/").str[0].astype(int).to_numpy()
    score = -np.log10(top["padj"].clip(lower=1e-300).to_numpy())
    size = 25 + 175 * count / count.max()
    points = ax.scatter(
        top["gene_ratio"],
        y,
        s=size,
        c=score,
        cmap="viridis_r",
        edgecolors="0.2",
        linewidths=0.4,
        vmin=0,
        vmax=max(score.max(), -np.log10(0.05)),
    )
    labels = [term_label(t) + (" *" if p < 0.05 else "") for t, p in zip(top["term"], top["padj"])]
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7.5)
    ax.set_ylim(-0.7, len(top) - 0.3)
    ratio_max = float(top["gene_ratio"].max())
    ax.set_xlim(0, max(ratio_max * 1.1, min(ratio_max * 1.25, 1.05)))  # a gene ratio is at most 1
    ax.set_xlabel("Gene ratio (DEGs in term / DEGs)")
    ax.grid(axis="x", color="0.9", linewidth=0.6)
    ax.set_axisbelow(True)
    bar_ax = ax.inset_axes([1.06, 0.55, 0.05, 0.45])
    bar = ax.figure.colorbar(points, cax=bar_ax)
    bar.set_label("$-$log$_{10}$ adj. p", fontsize=7.5)
    bar.ax.tick_params(labelsize=7)
    marks = sorted({int(v) for v in np.unique(np.quantile(count, [0.0, 0.5, 1.0]))})
    handles = [
        matplotlib.lines.Line2D(
            [],
            [],
            linestyle="",
            marker="o",
            markersize=np.sqrt(25 + 175 * m / count.max()),
            markerfacecolor="0.6",
            markeredgecolor="0.2",
            markeredgewidth=0.4,
            label=str(m),
        )
        for m in marks
    ]
    ax.legend(
        handles=handles,
        title="DEGs",
        loc="upper left",
        bbox_to_anchor=(1.03, 0.45),
        frameon=False,
        fontsize=7.5,
        title_fontsize=7.5,
        labelspacing=0.9,
        borderaxespad=0,
    )
    if (top["padj"] < 0.05).any():
        ax.annotate(
            "* adjusted p < 0.05 (Benjamini-Hochberg)",
            xy=(0, 0),
            xycoords="figure fraction",
            xytext=(6, 6),
            textcoords="offset points",
            fontsize=7,
            color="0.3",
        )
    return ax
