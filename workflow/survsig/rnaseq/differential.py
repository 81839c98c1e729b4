"""RNA-seq branch: differential expression between high- and low-risk patients.

The steps, in the order the workflow runs them (rule file ``workflow/rules/rnaseq.smk``):

1. :func:`map_gene_ids`: gene ids to symbols. Symbols stay as they are; Ensembl ids
   (version suffix stripped) and Entrez ids are mapped with an id map
   (:func:`read_id_map`). Ids without a symbol are dropped; ids sharing a symbol are
   summed into one row (raw counts add up).
2. :func:`risk_groups_from_truth` (synthetic cohort only) or the statistics branch's
   ``results/risk_groups.tsv`` (:func:`survsig.core.files.read_risk_groups`) give each patient a risk group,
   ``high`` or ``low``; :func:`join_samples` joins them (and clinical covariates) with
   the count matrix's samples.
3. :class:`DifferentialExpression`: pydeseq2 (DESeq2's method) with design
   ``~ [covariates +] risk_group``, contrast high vs low, so a positive
   ``log2FoldChange`` means higher expression in high-risk tumours.
   :func:`call_degs` applies the DEG thresholds.
4. Figures: :func:`plot_volcano` and :func:`plot_expression_heatmap` (Supplementary
   Fig. S3 of the study: variance-stabilised expression of the top DEGs, z-scored per
   gene, samples annotated by risk group).

Enrichment of the DEGs lives in :mod:`survsig.rnaseq.enrichment`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import sys
import warnings
from typing import NamedTuple

import matplotlib.colors
import matplotlib.patches
import numpy as np
import pandas as pd
import threadpoolctl

from survsig.core import columns as col
from survsig.core.columns import HIGH, LOW, RISK_GROUP
from survsig.core.errors import InputError
from survsig.core.figures import RISK_GROUP_COLOURS, axes_in_inches, new_figure, styled
from survsig.core.io import read_table
from survsig.core.vocabulary import RISK_LABELS

logger = logging.getLogger(__name__)

#: The risk groups in the order of the contrast (first vs second) and of the heatmap.
GROUP_ORDER = (HIGH, LOW)

#: Gene id column of the validated counts and of every gene table written here.
GENE_ID = "gene_id"
GENE = "gene"

#: Columns of the DESeq2 results table, in the order written.
RESULT_COLUMNS = ("baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj", "dispersion")

#: Kinds of gene ids :func:`map_gene_ids` understands.
GENE_ID_TYPES = ("auto", "symbol", "ensembl", "entrez")

#: An Ensembl gene id, with an optional version suffix (``ENSG00000000003.14``) and
#: GENCODE's ``_PAR_Y`` tag; group 1 is the id without version.
ENSEMBL_ID = re.compile(r"^(ENS[A-Z]*G\d{6,})(?:\.\d+)?(?:_PAR_Y)?$")
ENTREZ_ID = re.compile(r"^\d+$")

#: Colours of up- and down-regulated genes: those of the risk groups they are up in.
DIRECTION_COLOURS = {"up": RISK_GROUP_COLOURS[HIGH], "down": RISK_GROUP_COLOURS[LOW], "ns": "#b3b3b3"}


# ----------------------------------------------------------------------------- gene ids
class IdMapping(NamedTuple):
    """What :func:`map_gene_ids` did, for the log.

    Attributes
    ----------
    id_type : str
        ``symbol``, ``ensembl`` or ``entrez`` (after ``auto`` detection).
    n_input : int
        Gene rows in.
    n_unmapped : int
        Rows dropped because their id has no symbol in the id map.
    n_merged : int
        Rows summed into another row of the same symbol (rows in - rows out - unmapped).
    n_symbols : int
        Gene rows out (one per symbol).
    """

    id_type: str
    n_input: int
    n_unmapped: int
    n_merged: int
    n_symbols: int

    def describe(self) -> str:
        return (
            f"gene ids ({self.id_type}): {self.n_input} rows in, {self.n_unmapped} without a symbol "
            f"dropped, {self.n_merged} summed into a row of the same symbol, {self.n_symbols} genes out"
        )


def detect_gene_id_type(ids) -> str:
    """Guess the kind of gene ids: ``ensembl`` or ``entrez`` when most ids (> 50 %) look so.

    Counts tables often carry a few other rows (spike-ins, LRG records), hence a
    majority rather than all. Anything else is taken as gene symbols.
    """
    ids = pd.Series(list(ids), dtype=str).str.strip()
    if len(ids) == 0:
        return "symbol"
    if ids.str.match(ENSEMBL_ID).mean() > 0.5:
        return "ensembl"
    if ids.str.match(ENTREZ_ID).mean() > 0.5:
        return "entrez"
    return "symbol"


def strip_ensembl_version(ids) -> pd.Series:
    """Ensembl gene ids without version suffix (``ENSG00000000003.14`` -> ``ENSG00000000003``).

    Ids that are not Ensembl gene ids are returned unchanged.
    """
    ids = pd.Series(list(ids), dtype=str).str.strip()
    return ids.str.replace(ENSEMBL_ID, r"\1", regex=True)


def read_id_map(path, *, id_type=None) -> pd.Series:
    """Read a gene id -> symbol map (TSV or CSV, optionally gzipped).

    The first column holds the ids (Ensembl or Entrez), the column named ``symbol``
    (else the second column) the gene symbols, as in
    ``ensembl_gene_index.csv.gz`` (``ensembl_gene_id,symbol``) and ``entrez_symbol.tsv``
    (``entrez_id<TAB>symbol``). Rows without a symbol are skipped; when an id repeats,
    its first row wins. Ensembl version suffixes are stripped.

    Returns
    -------
    pandas.Series
        Symbol indexed by id (both str).

    Raises
    ------
    InputError
        When the file is missing, has fewer than two columns or no row with a symbol.
    """
    try:
        table = read_table(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise InputError("gene id map not found", file=path) from None
    if table.shape[1] < 2:
        raise InputError("gene id map needs an id column and a symbol column", file=path)
    symbol_col = "symbol" if "symbol" in table.columns[1:] else table.columns[1]
    ids = table.iloc[:, 0].str.strip()
    if id_type in (None, "ensembl"):
        ids = strip_ensembl_version(ids)
    symbols = table[symbol_col].str.strip()
    keep = (ids != "") & (symbols != "") & ~symbols.str.upper().isin(["NA", "NAN"])
    mapping = pd.Series(symbols[keep].to_numpy(), index=ids[keep].to_numpy(), dtype=str)
    mapping = mapping[~mapping.index.duplicated(keep="first")]
    if mapping.empty:
        raise InputError("gene id map has no row with a symbol", file=path, column=symbol_col)
    return mapping


def map_gene_ids(counts: pd.DataFrame, *, id_type="auto", id_map=None, id_map_file=None):
    """Put gene symbols on a count matrix.

    Parameters
    ----------
    counts : pandas.DataFrame
        Raw counts, genes x samples, indexed by gene id (the validated counts with
        ``gene_id`` as index).
    id_type : {"auto", "symbol", "ensembl", "entrez"}
        Kind of the ids; ``auto`` uses :func:`detect_gene_id_type`.
    id_map : pandas.Series, optional
        Id -> symbol (:func:`read_id_map`); required for Ensembl and Entrez ids.
    id_map_file : str, optional
        The id map's path, named in errors.

    Returns
    -------
    counts : pandas.DataFrame
        Counts indexed by symbol (index name ``gene``), one row per symbol, sorted by
        symbol. Rows whose id has no symbol are dropped; rows sharing a symbol are summed.
    summary : IdMapping
        Numbers of rows in, dropped, summed and out.

    Raises
    ------
    InputError
        On an unknown ``id_type``, a missing id map, or when no id maps to a symbol.
    """
    if id_type not in GENE_ID_TYPES:
        raise InputError(f"config rnaseq.gene_ids: unknown kind {id_type!r}; known: {', '.join(GENE_ID_TYPES)}")
    ids = pd.Series(counts.index.astype(str), index=counts.index).str.strip()
    if id_type == "auto":
        id_type = detect_gene_id_type(ids)
    n_input = len(counts)
    if id_type == "symbol":
        symbols = ids
    else:
        if id_map is None:
            raise InputError(
                f"gene ids look like {id_type.capitalize()} ids: set config rnaseq.id_map to a "
                "table of id -> symbol (e.g. ensembl_gene_index.csv.gz or entrez_symbol.tsv)"
            )
        keys = strip_ensembl_version(ids) if id_type == "ensembl" else ids
        symbols = pd.Series(keys.map(id_map).to_numpy(), index=counts.index)
    mapped = symbols.notna() & (symbols.astype(str).str.len() > 0)
    if not mapped.any():
        raise InputError(
            f"none of the {n_input} {id_type} gene ids has a symbol in the id map "
            f"(first ids: {', '.join(ids.iloc[:3])})",
            file=id_map_file,
        )
    kept = counts.loc[mapped.to_numpy()]
    kept.index = pd.Index(symbols[mapped].astype(str).to_numpy(), name=GENE)
    out = kept.groupby(level=0, sort=True).sum()
    out.index.name = GENE
    summary = IdMapping(
        id_type=id_type,
        n_input=n_input,
        n_unmapped=int((~mapped).sum()),
        n_merged=int(mapped.sum()) - len(out),
        n_symbols=len(out),
    )
    return out, summary


# ----------------------------------------------------------------------------- samples
def risk_groups_from_truth(ground_truth: pd.DataFrame) -> pd.DataFrame:
    """Risk groups of the synthetic cohort from its true linear predictor.

    ``high`` when ``lp_clinical + lp_image`` is at or above its median over all
    patients, else ``low``: the split the simulator samples RNA-seq patients by.

    Returns
    -------
    pandas.DataFrame
        ``patient_id, risk_group``.
    """
    risk = ground_truth["lp_clinical"].astype(float) + ground_truth["lp_image"].astype(float)
    groups = np.where(risk >= risk.median(), HIGH, LOW)
    return pd.DataFrame({col.PATIENT_ID: ground_truth[col.PATIENT_ID].astype(str).to_numpy(), RISK_GROUP: groups})


def join_samples(
    sample_ids,
    clinical: pd.DataFrame,
    risk_groups: pd.DataFrame,
    *,
    covariates=(),
    counts_file=None,
    clinical_file=None,
    risk_groups_file=None,
    min_per_group=2,
) -> pd.DataFrame:
    """The design table of the RNA-seq samples: risk group and covariates per sample.

    Patients without counts are simply absent. Every sample needs a clinical row and a
    risk group.

    Parameters
    ----------
    sample_ids : sequence of str
        Sample columns of the count matrix (patient ids).
    clinical : pandas.DataFrame
        Validated clinical sheet (``patient_id`` and the covariate columns).
    risk_groups : pandas.DataFrame
        ``patient_id, risk_group`` (:func:`survsig.core.files.read_risk_groups`, :func:`risk_groups_from_truth`).
    covariates : sequence of str
        Clinical columns to adjust for, e.g. ``["sex", "age"]``. Numeric columns are
        centred and scaled over the samples; the others are factors.
    counts_file, clinical_file, risk_groups_file : str, optional
        Paths named in errors.
    min_per_group : int
        Fewest samples each risk group must hold (DESeq2 needs 2 to estimate dispersion).

    Returns
    -------
    pandas.DataFrame
        Indexed by sample (in the given order, index name ``sample``): ``risk_group``
        (high/low) and one column per covariate.

    Raises
    ------
    InputError
        A sample without clinical row or risk group, an unknown or constant covariate, or
        a risk group with fewer than ``min_per_group`` samples.
    """
    samples = [str(s) for s in sample_ids]
    clinical = clinical.assign(**{col.PATIENT_ID: clinical[col.PATIENT_ID].astype(str)}).set_index(col.PATIENT_ID)
    labels = risk_groups.assign(**{col.PATIENT_ID: risk_groups[col.PATIENT_ID].astype(str)}).set_index(col.PATIENT_ID)
    for sample in samples:
        if sample not in clinical.index:
            raise InputError(
                "RNA-seq sample has no row in the clinical sheet", file=counts_file, patient=sample, column=sample
            )
        if sample not in labels.index:
            raise InputError(
                "RNA-seq sample has no risk group",
                file=risk_groups_file or counts_file,
                patient=sample,
                column=RISK_GROUP,
            )
    design = pd.DataFrame(
        {RISK_GROUP: labels.loc[samples, RISK_GROUP].astype(str).to_numpy()}, index=pd.Index(samples, name="sample")
    )
    bad = ~design[RISK_GROUP].isin(GROUP_ORDER)
    if bad.any():
        sample = design.index[bad.to_numpy()][0]
        raise InputError(
            f"risk group must be 'high' or 'low', got {design.loc[sample, RISK_GROUP]!r}",
            file=risk_groups_file,
            patient=sample,
            column=RISK_GROUP,
        )
    sizes = design[RISK_GROUP].value_counts()
    n_high, n_low = int(sizes.get(HIGH, 0)), int(sizes.get(LOW, 0))
    if min(n_high, n_low) < min_per_group:
        raise InputError(
            f"differential expression needs at least {min_per_group} RNA-seq samples in each risk group; "
            f"the {len(samples)} samples hold {n_high} high-risk and {n_low} low-risk",
            file=counts_file,
        )
    for name in covariates:
        if name == RISK_GROUP or name not in clinical.columns:
            raise InputError(
                f"config rnaseq.covariates: {name!r} is not a column of the clinical sheet "
                f"({', '.join(clinical.columns)})",
                file=clinical_file,
            )
        values = clinical.loc[samples, name]
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().all() and name not in col.CATEGORY_LEVELS:
            sd = numeric.std(ddof=1)
            if not np.isfinite(sd) or sd == 0:
                raise InputError(
                    f"covariate {name!r} is constant over the RNA-seq samples", file=clinical_file, column=name
                )
            design[name] = ((numeric - numeric.mean()) / sd).to_numpy()
        else:
            values = values.astype(str)
            if values.nunique() < 2:
                raise InputError(
                    f"covariate {name!r} is constant over the RNA-seq samples", file=clinical_file, column=name
                )
            design[name] = values.to_numpy()
    return design


# ----------------------------------------------------------------------------- DESeq2
@contextlib.contextmanager
def _library_output(verbose: bool):
    """pydeseq2's progress to stderr (the rule's log) when verbose; its warnings to the log."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        with contextlib.redirect_stdout(sys.stderr if verbose else io.StringIO()):
            yield
    for message in dict.fromkeys(str(w.message) for w in caught):
        logger.warning("pydeseq2: %s", message)


class DifferentialExpression:
    """DESeq2 high vs low risk with pydeseq2.

    Design ``~ [covariates +] risk_group``; Wald test of the contrast
    ``["risk_group", "high", "low"]``: a positive ``log2FoldChange`` means higher
    expression in high-risk tumours. No LFC shrinkage (as DESeq2's ``results()``).

    Parameters
    ----------
    min_total_count : int
        Genes with fewer reads over all samples are left out before fitting (the DESeq2
        vignette's ``rowSums(counts) >= 10``); 0 keeps every gene.
    alpha : float
        Significance level used by independent filtering of ``padj`` (DESeq2's
        ``results(alpha = 0.1)`` default).
    fit_type : {"parametric", "mean"}
        Dispersion trend (pydeseq2 falls back to ``mean`` when the parametric fit fails,
        with a warning in the log).
    size_factors : {"ratio", "poscounts"}
        Median-of-ratios size factors, or DESeq2's ``poscounts`` for sparse counts
        where every gene has a zero somewhere.
    cooks_filter : bool
        Set p-values of genes with a Cook's distance outlier to NA.
    vst : bool
        Also compute the blind variance-stabilising transformation (``vst_``).
    n_cpus : int
        Processes for pydeseq2 (Snakemake's ``threads``).
    verbose : bool
        pydeseq2's progress lines to stderr (in the workflow: the rule's log).

    Attributes
    ----------
    results_ : pandas.DataFrame
        Per gene (index ``gene``): :data:`RESULT_COLUMNS`, sorted by p-value then gene;
        NaN p-values (Cook's outliers) last.
    size_factors_ : pandas.Series
        Size factor per sample.
    vst_ : pandas.DataFrame or None
        Variance-stabilised expression (log2 scale), genes x samples.
    design_ : str
        The design formula fitted.
    n_filtered_ : int
        Genes left out by ``min_total_count``.
    """

    def __init__(
        self,
        *,
        min_total_count=10,
        alpha=0.1,
        fit_type="parametric",
        size_factors="ratio",
        cooks_filter=True,
        vst=True,
        n_cpus=1,
        verbose=False,
    ):
        if fit_type not in ("parametric", "mean"):
            raise ValueError(f"fit_type must be 'parametric' or 'mean', got {fit_type!r}")
        if size_factors not in ("ratio", "poscounts"):
            raise ValueError(f"size_factors must be 'ratio' or 'poscounts', got {size_factors!r}")
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
        self.min_total_count = int(min_total_count)
        self.alpha = float(alpha)
        self.fit_type = fit_type
        self.size_factors = size_factors
        self.cooks_filter = bool(cooks_filter)
        self.vst = bool(vst)
        self.n_cpus = max(1, int(n_cpus))
        self.verbose = bool(verbose)

    def fit(self, counts: pd.DataFrame, samples: pd.DataFrame) -> DifferentialExpression:
        """Fit DESeq2 to raw counts.

        Parameters
        ----------
        counts : pandas.DataFrame
            Raw integer counts, genes x samples, indexed by gene.
        samples : pandas.DataFrame
            :func:`join_samples`' table: indexed by sample, ``risk_group`` then covariates.

        Returns
        -------
        DifferentialExpression
            self, fitted.
        """
        from pydeseq2.dds import DeseqDataSet
        from pydeseq2.default_inference import DefaultInference
        from pydeseq2.ds import DeseqStats

        missing = [s for s in samples.index if s not in counts.columns]
        if missing:
            raise InputError(f"samples without counts: {', '.join(missing)}")
        matrix = counts.loc[:, list(samples.index)]
        total = matrix.sum(axis=1)
        keep = total >= max(self.min_total_count, 1)
        self.n_filtered_ = int((~keep).sum())
        if not keep.any():
            raise InputError(f"no gene has at least {max(self.min_total_count, 1)} reads over the RNA-seq samples")
        matrix = matrix.loc[keep]
        empty = matrix.sum(axis=0) == 0
        if empty.any():
            sample = str(matrix.columns[empty.to_numpy()][0])
            raise InputError("RNA-seq sample has no reads in any gene kept", patient=sample, column=sample)
        covariates = [c for c in samples.columns if c != RISK_GROUP]
        self.design_ = "~" + " + ".join([*covariates, RISK_GROUP])
        metadata = samples.copy()
        metadata.index = metadata.index.astype(str)
        x = pd.DataFrame(
            matrix.T.to_numpy(dtype=np.int64),
            index=metadata.index,
            columns=pd.Index(matrix.index.astype(str), name=None),
        )
        logger.info(
            "DESeq2 %s on %d genes x %d samples (%d high, %d low risk); %d genes with < %d reads left out",
            self.design_,
            x.shape[1],
            x.shape[0],
            int((samples[RISK_GROUP] == HIGH).sum()),
            int((samples[RISK_GROUP] == LOW).sum()),
            self.n_filtered_,
            max(self.min_total_count, 1),
        )
        inference = DefaultInference(n_cpus=self.n_cpus)
        # one BLAS thread: the per-gene fits are tiny, and threads only contend with the workers
        with _library_output(self.verbose), threadpoolctl.threadpool_limits(limits=1):
            dds = DeseqDataSet(
                counts=x,
                metadata=metadata,
                design=self.design_,
                fit_type=self.fit_type,
                size_factors_fit_type=self.size_factors,
                refit_cooks=True,
                inference=inference,
                quiet=not self.verbose,
            )
            design_matrix = dds.obsm["design_matrix"]
            if np.linalg.matrix_rank(design_matrix.to_numpy(dtype=float)) < design_matrix.shape[1]:
                raise InputError(
                    f"design {self.design_} is not full rank over the RNA-seq samples: a covariate is "
                    "confounded with the risk group or another covariate (config rnaseq.covariates)"
                )
            dds.deseq2()
            stats = DeseqStats(
                dds,
                contrast=[RISK_GROUP, HIGH, LOW],
                alpha=self.alpha,
                cooks_filter=self.cooks_filter,
                independent_filter=True,
                inference=inference,
                quiet=True,
            )
            stats.summary()
            vst = None
            if self.vst:
                dds.vst(use_design=False)
                vst = pd.DataFrame(np.asarray(dds.layers["vst_counts"]).T, index=x.columns, columns=x.index)
        table = stats.results_df.copy()
        table["dispersion"] = dds.var["dispersions"].to_numpy()
        table.index = pd.Index(table.index.astype(str), name=GENE)
        self.results_ = sort_results(table[list(RESULT_COLUMNS)])
        self.size_factors_ = pd.Series(
            np.asarray(dds.obs["size_factors"], dtype=float), index=x.index, name="size_factor"
        )
        self.vst_ = None if vst is None else vst.rename_axis(index=GENE, columns="sample")
        logger.info(
            "size factors %s; %d genes with p < 0.05, %d with padj < %g",
            ", ".join(f"{s}={v:.3f}" for s, v in self.size_factors_.items()),
            int((self.results_["pvalue"] < 0.05).sum()),
            int((self.results_["padj"] < self.alpha).sum()),
            self.alpha,
        )
        return self


def sort_results(table: pd.DataFrame) -> pd.DataFrame:
    """Genes by p-value (NaN last), ties by gene name: a deterministic order."""
    order = np.lexsort((table.index.to_numpy(dtype=str), table["pvalue"].fillna(np.inf).to_numpy()))
    return table.iloc[order]


def call_degs(results: pd.DataFrame, *, p_value="pvalue", cutoff=0.05, min_abs_log2fc=1.0) -> pd.DataFrame:
    """Differentially expressed genes: ``p_value < cutoff`` and ``|log2FoldChange| >= min_abs_log2fc``.

    Parameters
    ----------
    results : pandas.DataFrame
        :attr:`DifferentialExpression.results_`.
    p_value : {"pvalue", "padj"}
        Which p-value the cutoff applies to (the study: ``pvalue < 0.05``).
    cutoff : float
        Strict upper bound of the p-value.
    min_abs_log2fc : float
        Smallest absolute log2 fold change (0 = no fold-change threshold).

    Returns
    -------
    pandas.DataFrame
        The DEG rows of ``results`` (same order) with a ``direction`` column: ``up``
        (higher in high risk) or ``down``.
    """
    if p_value not in ("pvalue", "padj"):
        raise ValueError(f"p_value must be 'pvalue' or 'padj', got {p_value!r}")
    lfc = results["log2FoldChange"]
    significant = (results[p_value] < cutoff) & (lfc.abs() >= min_abs_log2fc) & (lfc != 0)
    degs = results.loc[significant.fillna(False).to_numpy()].copy()
    degs["direction"] = np.where(degs["log2FoldChange"] > 0, "up", "down")
    return degs


def tested_genes(results: pd.DataFrame) -> list[str]:
    """Genes that could be called DEGs (a p-value exists): the enrichment background."""
    return sorted(results.index[results["pvalue"].notna()].astype(str))


# ----------------------------------------------------------------------------- figures
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
        :attr:`DifferentialExpression.results_`.
    degs : pandas.DataFrame
        :func:`call_degs` of the same results.
    p_value, cutoff, min_abs_log2fc : see :func:`call_degs`.
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
        Variance-stabilised expression, genes x samples (:attr:`DifferentialExpression.vst_`).
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


# ----------------------------------------------------------------------------- stage
class DifferentialExpressionTables(NamedTuple):
    """What the ``rnaseq_deseq2`` rule writes."""

    results: pd.DataFrame
    degs: pd.DataFrame
    vst: pd.DataFrame
    samples: pd.DataFrame


def differential_expression_tables(
    counts: pd.DataFrame,
    clinical: pd.DataFrame,
    risk_groups: pd.DataFrame,
    options: dict,
    *,
    id_map=None,
    n_cpus=1,
    verbose=False,
    files=None,
) -> DifferentialExpressionTables:
    """The whole DE step of the workflow, from the validated counts to the tables.

    Parameters
    ----------
    counts : pandas.DataFrame
        Validated counts: ``gene_id`` column, then one count column per patient.
    clinical : pandas.DataFrame
        Validated clinical sheet.
    risk_groups : pandas.DataFrame
        ``patient_id, risk_group`` (high/low).
    options : dict
        The config's ``rnaseq`` block (``gene_ids``, ``covariates``,
        ``min_total_count``, ``size_factors``, ``alpha``, ``deg``), with the schema's
        defaults filled in (``workflow/schemas/config.schema.yaml``).
    id_map : pandas.Series, optional
        Gene id -> symbol (:func:`read_id_map`).
    n_cpus : int
    verbose : bool
        pydeseq2's progress lines to stderr.
    files : dict, optional
        Paths by role (``counts``, ``clinical``, ``risk_groups``, ``id_map``), named in errors.

    Returns
    -------
    DifferentialExpressionTables
        Tables ready to write: ``results`` and ``degs`` with a ``gene`` column first,
        ``vst`` (``gene`` then samples) and ``samples`` (``sample``, ``risk_group``,
        covariates).
    """
    files = dict(files or {})
    matrix = counts.set_index(GENE_ID) if GENE_ID in counts.columns else counts
    matrix, mapping = map_gene_ids(matrix, id_type=options["gene_ids"], id_map=id_map, id_map_file=files.get("id_map"))
    logger.info("%s", mapping.describe())
    samples = join_samples(
        matrix.columns,
        clinical,
        risk_groups,
        covariates=options["covariates"] or (),
        counts_file=files.get("counts"),
        clinical_file=files.get("clinical"),
        risk_groups_file=files.get("risk_groups"),
    )
    model = DifferentialExpression(
        min_total_count=options["min_total_count"],
        alpha=options["alpha"],
        size_factors=options["size_factors"],
        n_cpus=n_cpus,
        verbose=verbose,
    ).fit(matrix, samples)
    deg = options["deg"]
    degs = call_degs(
        model.results_,
        p_value=deg["p_value"],
        cutoff=deg["cutoff"],
        min_abs_log2fc=deg["min_abs_log2fc"],
    )
    logger.info(
        "%d DEGs: %d up and %d down in high risk",
        len(degs),
        int((degs["direction"] == "up").sum()),
        int((degs["direction"] == "down").sum()),
    )
    return DifferentialExpressionTables(
        results=model.results_.reset_index(),
        degs=degs.reset_index(),
        vst=model.vst_.reset_index(),
        samples=samples.reset_index(),
    )
