"""RNA-seq branch: differential expression between high- and low-risk patients.

The steps, in the order the workflow runs them (rule file ``workflow/rules/rnaseq.smk``):

1. :func:`survsig.rnaseq.gene_ids.map_gene_ids`: gene ids to symbols (Ensembl and
   Entrez ids with an id map, :func:`survsig.rnaseq.gene_ids.read_id_map`).
2. :func:`risk_groups_from_truth` (synthetic cohort only) or the statistics branch's
   ``results/risk_groups.tsv`` (:func:`survsig.core.files.read_risk_groups`) give each patient a risk group,
   ``high`` or ``low``; :func:`join_samples` joins them (and clinical covariates) with
   the count matrix's samples.
3. :class:`DifferentialExpression`: pydeseq2 (DESeq2's method) with design
   ``~ [covariates +] risk_group``, contrast high vs low, so a positive
   ``log2FoldChange`` means higher expression in high-risk tumours.
   :func:`call_degs` applies the DEG thresholds.

:func:`differential_expression_tables` runs them all (rule ``rnaseq_deseq2``). The
figures are in :mod:`survsig.rnaseq.volcano` and :mod:`survsig.rnaseq.heatmap`
(Supplementary Fig. S3); enrichment of the DEGs lives in :mod:`survsig.rnaseq.enrichment`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd
import threadpoolctl

from survsig.core import columns as col
from survsig.core.columns import HIGH, LOW, RISK_GROUP
from survsig.core.errors import InputError
from survsig.rnaseq.gene_ids import GENE, GENE_ID, map_gene_ids

logger = logging.getLogger(__name__)

#: The risk groups in the order of the contrast (first vs second) and of the heatmap.
GROUP_ORDER = (HIGH, LOW)

#: Columns of the DESeq2 results table, in the order written.
RESULT_COLUMNS = ("baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj", "dispersion")


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
        Gene id -> symbol (:func:`~survsig.rnaseq.gene_ids.read_id_map`).
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
