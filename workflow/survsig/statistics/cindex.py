"""How well the nomograms rank patients: the C-index (Table 3) and paired comparisons.

* :func:`~survsig.survival.concordance.harrell_c`: Harrell's C with the standard error of
  R's ``survival::concordance`` (infinitesimal jackknife);
  :func:`~survsig.survival.concordance.compare_c` compares two scores on the same
  patients (the same jackknife, as R's ``concordance(fit1, fit2)``, and a paired
  bootstrap, :func:`bootstrap_c`).
* :func:`concordance_table`: Table 3, the C-index of each nomogram per split and its
  difference from the reference nomogram's; :func:`with_optimism_correction` adds the
  internal validation's corrected C and :func:`table3_figure` draws the table.

Times are in months. Scores follow the package's sign: higher = higher risk.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri  # light imports: scipy.stats costs ~1 s per job

from survsig.core import columns as col
from survsig.core.errors import InputError
from survsig.core.figures import table_figure
from survsig.core.formats import format_interval, format_p_cell
from survsig.core.vocabulary import nomogram_label
from survsig.survival.checks import survival_arrays
from survsig.survival.concordance import compare_c, harrell_c, pair_matrices

log = logging.getLogger(__name__)

TRAIN, TEST = col.SPLIT_LEVELS


def c_index_row(time, event, score, *, confidence=0.95) -> dict:
    """C with its Wald CI and the two-sided p of ``C = 0.5`` (z = (C - 0.5) / se)."""
    res = harrell_c(time, event, score)
    q = ndtri(0.5 + confidence / 2)
    c, se = res["c"], res["se"]
    p = 2 * ndtr(-abs(c - 0.5) / se) if np.isfinite(se) and se > 0 else float("nan")
    return {"c_index": c, "se": se, "lower": c - q * se, "upper": c + q * se, "p_value": p, "pairs": res["pairs"]}


def bootstrap_counts(n, *, resamples, seed) -> np.ndarray:
    """How often each of ``n`` patients is drawn in each resample (resamples x n).

    ``numpy.random.default_rng(seed).integers`` draws the indices, so the same seed
    gives the same resamples.
    """
    if resamples < 1:
        raise InputError(f"bootstrap resamples must be >= 1, got {resamples}")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(resamples, n))
    counts = np.zeros((resamples, n))
    np.add.at(counts, (np.repeat(np.arange(resamples), n), draws.ravel()), 1.0)
    return counts


def bootstrap_c(time, event, scores: dict, *, counts) -> pd.DataFrame:
    """Harrell's C of each score in each bootstrap resample (the same resamples for all).

    A resample weighting patient ``i`` by ``w_i`` copies has
    ``C = sum_ij w_i w_j (conc_ij + tied_ij / 2) / sum_ij w_i w_j comparable_ij``,
    exactly Harrell's C of the resampled data set (two copies of one patient are tied
    in time and never comparable).

    Parameters
    ----------
    time, event : array_like
    scores : dict of str to array_like
        Name -> risk score (higher = higher risk).
    counts : numpy.ndarray, shape (resamples, n)
        :func:`bootstrap_counts`.

    Returns
    -------
    pandas.DataFrame
        One column per score, one row per resample (NaN when a resample has no
        comparable pair).
    """
    time, event = survival_arrays(time, event)
    counts = np.asarray(counts, dtype=float)
    comparable = pair_matrices(time, event, np.zeros(len(time)))[0].astype(float)
    denominator = np.einsum("bi,bi->b", counts @ comparable, counts)
    out = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for name, score in scores.items():
            _, _, score = survival_arrays(time, event, score)
            _, concordant, _, tied_x = pair_matrices(time, event, score)
            weight = concordant + 0.5 * tied_x
            out[name] = np.einsum("bi,bi->b", counts @ weight, counts) / denominator
    return pd.DataFrame(out)


#: Columns of Table 3 (:func:`concordance_table`).
TABLE3_COLUMNS = (
    "nomogram",
    "label",
    "split",
    "n",
    "events",
    "c_index",
    "se",
    "lower",
    "upper",
    "p_value",
    "reference",
    "diff",
    "diff_se_bootstrap",
    "diff_lower",
    "diff_upper",
    "p_bootstrap",
    "diff_se_jackknife",
    "p_jackknife",
    "note",
)


def concordance_table(
    scores: dict, *, reference="integrated", resamples=1000, seed=2022, confidence=0.95, splits=col.SPLIT_LEVELS
):
    """Table 3: C-index (CI, p vs 0.5) per nomogram and split, and each vs ``reference``.

    Parameters
    ----------
    scores : dict of str to pandas.DataFrame
        Nomogram -> its scores file (``patient_id, split, os_months, os_event, lp``).
        All must hold the same patients.
    reference : str
        Nomogram the others are compared with (the study: the integrated nomogram).
    resamples : int
        Paired bootstrap resamples (patients drawn with replacement within the split;
        the same resamples for every nomogram).
    seed : int
        Seed of the resamples (training set drawn first, then the test set).
    confidence : float
    splits : sequence of str
        The sets, in order (an external cohort's table: ``("external",)``).

    Returns
    -------
    pandas.DataFrame
        :data:`TABLE3_COLUMNS`. ``c_index`` with the jackknife SE of R's
        ``concordance()``, Wald CI and p of C = 0.5. ``diff`` = C(reference) - C(this
        nomogram) on the same patients: bootstrap SE, percentile CI and normal-theory p
        (``diff / se``), and the joint-jackknife SE and p (:func:`compare_c`). A split
        without events gets NaN and a ``note``.
    """
    if reference not in scores:
        raise InputError(f"the reference nomogram {reference!r} has no scores")
    names = list(scores)
    base = scores[reference].set_index(col.PATIENT_ID)
    alpha = 1 - confidence
    rows = []
    rng_seed = seed
    for split in splits:
        part = base[base[col.SPLIT] == split]
        ids = part.index
        time = part[col.OS_MONTHS].to_numpy(float)
        event = part[col.OS_EVENT].to_numpy(int)
        lps = {}
        for name in names:
            frame = scores[name].set_index(col.PATIENT_ID)
            missing = ids[~ids.isin(frame.index)]
            if len(missing):
                raise InputError(f"patient has no score of nomogram '{name}'", patient=missing[0])
            lps[name] = frame.loc[ids, "lp"].to_numpy(float)
        n_events = int(event.sum())
        note = "" if n_events else f"no events in the {split} set"
        if n_events and resamples:
            counts = bootstrap_counts(len(ids), resamples=resamples, seed=rng_seed)
            boot = bootstrap_c(time, event, lps, counts=counts)
        else:
            boot = None
        rng_seed += 1  # the test set's resamples come from the next seed
        for name in names:
            row = dict.fromkeys(TABLE3_COLUMNS, np.nan)
            row.update(
                nomogram=name,
                label=nomogram_label(name),
                split=split,
                n=len(ids),
                events=n_events,
                reference=reference,
                note=note,
            )
            if n_events:
                res = c_index_row(time, event, lps[name], confidence=confidence)
                row.update(
                    c_index=res["c_index"], se=res["se"], lower=res["lower"], upper=res["upper"], p_value=res["p_value"]
                )
                if name != reference:
                    jack = compare_c(time, event, lps[reference], lps[name])
                    row.update(diff=jack["diff"], diff_se_jackknife=jack["se"], p_jackknife=jack["p_value"])
                    if boot is not None:
                        d = (boot[reference] - boot[name]).dropna().to_numpy()
                        se = float(np.std(d, ddof=1)) if len(d) > 1 else float("nan")
                        row.update(
                            diff_se_bootstrap=se,
                            diff_lower=float(np.quantile(d, alpha / 2)),
                            diff_upper=float(np.quantile(d, 1 - alpha / 2)),
                            p_bootstrap=2 * ndtr(-abs(jack["diff"]) / se) if se > 0 else np.nan,
                        )
            rows.append(row)
        if not n_events:
            log.warning("Table 3: no events in the %s set; C-indices are NaN", split)
    return pd.DataFrame(rows, columns=list(TABLE3_COLUMNS))


#: Columns :func:`with_optimism_correction` adds to Table 3.
CORRECTED_COLUMNS = ("c_optimism", "c_corrected")


def with_optimism_correction(table: pd.DataFrame, summary: pd.DataFrame, *, file=None) -> pd.DataFrame:
    """Table 3 with the bootstrap optimism and corrected C of each nomogram on the training set.

    ``summary`` is the internal validation's summary (``nomogram``, ``c_optimism``,
    ``c_corrected``); test-set rows get NaN, as the correction concerns the set the
    nomogram was fit on.
    """
    for column in ("nomogram", *CORRECTED_COLUMNS):
        if column not in summary.columns:
            raise InputError("internal validation summary lacks its column", file=file, column=column)
    missing = sorted(set(table["nomogram"]) - set(summary["nomogram"]))
    if missing:
        raise InputError(f"nomogram {missing[0]!r} has no row in the internal validation summary", file=file)
    values = summary.set_index("nomogram").loc[table["nomogram"], list(CORRECTED_COLUMNS)].to_numpy()
    out = table.copy()
    train = (out["split"] == TRAIN).to_numpy()
    for j, column in enumerate(CORRECTED_COLUMNS):
        out.insert(out.columns.get_loc("p_value") + 1 + j, column, np.where(train, values[:, j], np.nan))
    return out


def table3_figure(table: pd.DataFrame, *, confidence=0.95):
    """Table 3 as a figure: C-index (CI) and p per nomogram, training and test set (and the
    bootstrap-corrected training C when the table has it).

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = {s: int(table.loc[table["split"] == s, "n"].iloc[0]) for s in col.SPLIT_LEVELS}
    reference_label = nomogram_label(str(table["reference"].iloc[0])).lower()
    corrected = "c_corrected" in table.columns
    headers = [
        [
            "",
            (f"Training set (n = {n[TRAIN]})", 3 if corrected else 2),
            "",
            *([""] if corrected else []),
            f"Test set (n = {n[TEST]})",
            "",
            "",
            "",
        ],
        [
            "Nomograms",
            f"C-index ({confidence:.0%} CI)",
            "p value",
            *(["Corrected C"] if corrected else []),
            f"C-index ({confidence:.0%} CI)",
            "p value",
            f"\u0394C vs. {reference_label}, test",
            "p value",
        ],
    ]
    lines = []
    for name in dict.fromkeys(table["nomogram"]):
        rows = table[table["nomogram"] == name].set_index("split")
        cells = [rows["label"].iloc[0]]
        for split in col.SPLIT_LEVELS:
            r = rows.loc[split]
            cells += [format_interval(r["c_index"], r["lower"], r["upper"]), format_p_cell(r["p_value"])]
            if corrected and split == TRAIN:
                cells.append(f"{r['c_corrected']:.3f}" if np.isfinite(r["c_corrected"]) else "NA")
        r = rows.loc[TEST]
        if name == r["reference"]:
            cells += ["reference", ""]
        elif np.isfinite(r["diff"]):
            cells += [
                format_interval(r["diff"], r["diff_lower"], r["diff_upper"], sep=", "),
                format_p_cell(r["p_bootstrap"]),
            ]
        else:
            cells += ["NA", ""]
        lines.append((cells, False, False))
    footnote = (
        f"Harrell's C-index; {confidence:.0%} CI and p (H0: C = 0.5) from the infinitesimal-jackknife "
        "standard error of R's survival::concordance().\n"
        f"\u0394C = C({reference_label}) \u2212 C(nomogram) on the test set; percentile CI and p from a "
        "paired bootstrap (patients resampled, the same resamples for all nomograms).\n* p < 0.05"
    )
    widths = [2.6, 1.75, 0.8, 1.75, 0.8, 1.95, 0.8]
    if corrected:
        footnote += (
            "\nCorrected C: training C minus its bootstrap optimism, the selection and Cox fit repeated "
            "in each resample (rms validate())."
        )
        widths.insert(3, 1.05)
    return table_figure(
        "Table 3. C-indices of the nomograms on the training and test sets", headers, lines, footnote, widths=widths
    )
