"""How the frozen nomograms do on an external cohort: the C-index table and its figure,
each nomogram against the clinical one, and the signatures against the true predictors of
a synthetic other centre."""

from __future__ import annotations

import numpy as np
import pandas as pd

from survsig.core import columns as col
from survsig.core.errors import InputError
from survsig.core.figures import table_figure
from survsig.core.formats import format_interval, format_p_cell
from survsig.core.vocabulary import nomogram_label
from survsig.statistics.cindex import CORRECTED_COLUMNS, concordance_table
from survsig.statistics.oracle import oracle_predictors, oracle_table

#: The nomogram every other is compared with on the external cohort: whether the images
#: add to the clinical terms elsewhere too
EXTERNAL_REFERENCE = "clinical"


def external_cindex_table(scores: dict, *, reference=EXTERNAL_REFERENCE, resamples=1000, seed=2022, confidence=0.95):
    """C-index of each nomogram on the external cohort, in the columns of Table 3.

    :func:`~survsig.statistics.cindex.concordance_table` on the ``external`` set, each
    nomogram compared with ``reference`` on the same patients (bootstrap and jackknife);
    Table 3's optimism columns are empty (they concern the training set).
    """
    if reference not in scores:
        raise InputError(
            f"the external cohort's C-index table compares with nomogram {reference!r}, which has no scores"
        )
    table = concordance_table(
        scores, reference=reference, resamples=resamples, seed=seed, confidence=confidence, splits=(col.EXTERNAL,)
    )
    at = table.columns.get_loc("p_value") + 1
    for j, column in enumerate(CORRECTED_COLUMNS):
        table.insert(at + j, column, np.nan)
    return table


def external_cindex_figure(table: pd.DataFrame, *, name="External cohort", confidence=0.95):
    """The external C-index table as a figure: C (CI), p, and the difference from the reference."""
    reference = str(table["reference"].iloc[0])
    n, events = int(table["n"].iloc[0]), int(table["events"].iloc[0])
    headers = [
        ["", (f"{name} (n = {n}, {events} deaths)", 2), "", (f"vs. {nomogram_label(reference).lower()}", 2), ""],
        ["Nomograms", f"C-index ({confidence:.0%} CI)", "p value", "\u0394C (CI)", "p value"],
    ]
    lines = []
    for _, r in table.iterrows():
        cells = [r["label"], format_interval(r["c_index"], r["lower"], r["upper"]), format_p_cell(r["p_value"])]
        if r["nomogram"] == reference:
            cells += ["reference", ""]
        elif np.isfinite(r["diff"]):
            # shown as this nomogram minus the reference: positive = better than the clinical one
            cells += [
                format_interval(-r["diff"], -r["diff_upper"], -r["diff_lower"], sep=", "),
                format_p_cell(r["p_bootstrap"]),
            ]
        else:
            cells += ["NA", ""]
        lines.append((cells, False, False))
    footnote = (
        "Every nomogram as the training run fit it (coefficients and baseline), nothing refit on these patients.\n"
        f"Harrell's C-index; {confidence:.0%} CI and p (H0: C = 0.5) from the infinitesimal jackknife.\n"
        f"\u0394C = C(nomogram) \u2212 C({nomogram_label(reference).lower()}); percentile CI and p from a paired "
        "bootstrap.\n* p < 0.05"
    )
    return table_figure(
        f"C-indices of the frozen nomograms, {name}", headers, lines, footnote, widths=[2.6, 1.75, 0.8, 1.95, 0.8]
    )


def oracle_of(signatures, nomograms, channels: dict) -> dict:
    """Signature or nomogram -> the true predictor it estimates: a signature the image
    predictor its channels see (:data:`survsig.core.columns.ORACLE_PREDICTOR`), a nomogram
    as :func:`~survsig.statistics.oracle.oracle_predictors` says."""
    found = {name: col.ORACLE_PREDICTOR.get(frozenset(channels[name]), col.ORACLE_IMAGE) for name in signatures}
    found.update(oracle_predictors(nomograms, channels))
    return found


def external_vs_oracle(
    signatures: dict, scores: dict, clinical: pd.DataFrame, ground_truth: pd.DataFrame, *, oracle_of: dict
) -> pd.DataFrame:
    """C-index of each signature and nomogram on the external cohort beside its true predictor's.

    Parameters
    ----------
    signatures : dict of str to pandas.DataFrame
        Signature -> its external signature table.
    scores : dict of str to pandas.DataFrame
        Nomogram -> its external scores.
    clinical : pandas.DataFrame
        The external cohort's validated clinical sheet (outcomes).
    ground_truth : pandas.DataFrame
        The synthetic other centre's true predictors.
    oracle_of : dict
        Signature or nomogram -> its true predictor's column (None: no row value).

    Returns
    -------
    pandas.DataFrame
        ``kind, name, n, events, c_index, oracle, oracle_c_index, gap``.
    """
    outcome = clinical[[col.PATIENT_ID, col.OS_MONTHS, col.OS_EVENT]].astype({col.PATIENT_ID: str})
    as_scores = {}
    for name, table in signatures.items():
        merged = table.astype({col.PATIENT_ID: str}).merge(outcome, on=col.PATIENT_ID, how="left", validate="1:1")
        missing = merged[col.OS_MONTHS].isna()
        if missing.any():
            patient = merged.loc[missing, col.PATIENT_ID].iloc[0]
            raise InputError("patient is not in the external clinical sheet", patient=patient)
        as_scores[name] = merged.rename(columns={"signature": "lp"})
    parts = []
    for kind, tables in (("signature", as_scores), ("nomogram", scores)):
        part = oracle_table(
            tables, ground_truth, {name: oracle_of.get(name) for name in tables}, splits=(col.EXTERNAL,)
        )
        part = part.rename(columns={"nomogram": "name"}).drop(columns=col.SPLIT)
        part.insert(0, "kind", kind)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)
