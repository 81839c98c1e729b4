"""How good are the nomograms: C-index (Table 3), time-dependent ROC/AUC, calibration.

* :func:`harrell_c`: Harrell's C with the standard error of R's ``survival::concordance``
  (infinitesimal jackknife); :func:`compare_c` compares two scores on the same patients
  (the same jackknife, as R's ``concordance(fit1, fit2)``, and a paired bootstrap,
  :func:`bootstrap_c`).
* :func:`time_dependent_auc`: cumulative/dynamic ROC and AUC at one time with inverse
  probability of censoring weights, and the standard error of R's ``timeROC`` (v0.4,
  ``weighting = "marginal"``, ``iid = TRUE``). scikit-survival's
  ``cumulative_dynamic_auc`` counts a death exactly at the horizon as a case and
  weights cases by G(T) instead of G(T-), so it differs from timeROC (by 1e-4 on R's
  ``lung`` data); this is timeROC's estimator.
* :func:`hosmer_lemeshow`: the Hosmer-Lemeshow statistic as R's
  ``ResourceSelection::hoslem.test`` 0.3-6 (df = groups formed - 2; NaN when a
  quantile group is empty); :func:`calibration` applies it at a horizon
  (patients whose status there is known) beside Kaplan-Meier observed survival per risk
  group, the censoring-aware Greenwood-Nam-D'Agostino test (:func:`gnd_test`) and the
  smooth calibration of Austin, Harrell & van Klaveren (2020): ICI, E50, E90.

Times are in months. Scores follow the package's sign: higher = higher risk.
"""

from __future__ import annotations

import logging
import math
import textwrap

import matplotlib
import numpy as np
import pandas as pd
from scipy.special import chdtrc, ndtr, ndtri  # light imports: scipy.stats costs ~1 s per job

from survsig.core import columns as col
from survsig.core.errors import InputError
from survsig.core.figures import new_figure, style, table_figure
from survsig.core.formats import format_interval, format_p, format_p_cell
from survsig.core.vocabulary import EN_DASH as DASH
from survsig.core.vocabulary import RADIOMICS, horizon_text, nomogram_label
from survsig.survival.checks import survival_arrays
from survsig.survival.concordance import compare_c, harrell_c, pair_matrices
from survsig.survival.cox import baseline_cumulative_hazard, fit_cox, linear_predictor
from survsig.survival.km import censoring_survival, kaplan_meier, survival_at

log = logging.getLogger(__name__)

TRAIN, TEST = col.SPLIT_LEVELS


def oracle_predictors(nomograms, model_channels: dict) -> dict:
    """Nomogram -> true linear predictor of the synthetic cohort that it estimates.

    ``clinical`` -> ``lp_clinical``; ``dl_{model}`` -> the image predictor the model's
    channels see (:data:`survsig.core.columns.ORACLE_PREDICTOR`, ``lp_image`` when it sees
    CT and PET); ``integrated`` -> ``lp_full``; the SUV nomograms have no matching truth
    (None).
    """
    out = {}
    for name in nomograms:
        if name == "clinical":
            out[name] = "lp_clinical"
        elif name == "integrated":
            out[name] = "lp_full"
        elif name.startswith("dl_") or name == RADIOMICS:
            signature = name[3:] if name.startswith("dl_") else name
            out[name] = col.ORACLE_PREDICTOR.get(frozenset(model_channels.get(signature, ())), col.ORACLE_IMAGE)
        else:
            out[name] = None
    return out


# --------------------------------------------------------------------------- C-index
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


def concordance_table(scores: dict, *, reference="integrated", resamples=1000, seed=2022, confidence=0.95):
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
    for split in col.SPLIT_LEVELS:
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


# --------------------------------------------------------------------------- oracle
def oracle_table(scores: dict, ground_truth: pd.DataFrame, oracle_of: dict) -> pd.DataFrame:
    """C-index of each nomogram beside that of its true linear predictor (synthetic cohort).

    Parameters
    ----------
    scores : dict of str to pandas.DataFrame
        Nomogram -> scores file.
    ground_truth : pandas.DataFrame
        ``patient_id`` and the true linear predictors (``lp_clinical``, ...).
    oracle_of : dict
        Nomogram -> column of ``ground_truth`` holding its true predictor (None: no
        matching truth; the row is kept with NaN).

    Returns
    -------
    pandas.DataFrame
        ``nomogram, split, n, events, c_index, oracle, oracle_c_index, gap`` (oracle C
        minus nomogram C) per nomogram and split.
    """
    truth = ground_truth.set_index(ground_truth[col.PATIENT_ID].astype(str))
    rows = []
    for name, frame in scores.items():
        oracle = oracle_of.get(name)
        for split in col.SPLIT_LEVELS:
            part = frame[frame[col.SPLIT] == split]
            time, event = part[col.OS_MONTHS].to_numpy(float), part[col.OS_EVENT].to_numpy(int)
            c = harrell_c(time, event, part["lp"].to_numpy(float))["c"]
            oracle_c = float("nan")
            if oracle:
                ids = part[col.PATIENT_ID].astype(str)
                missing = ids[~ids.isin(truth.index)]
                if len(missing):
                    raise InputError("patient has no ground truth", patient=missing.iloc[0], column=oracle)
                oracle_c = harrell_c(time, event, truth.loc[ids, oracle].to_numpy(float))["c"]
            rows.append(
                {
                    "nomogram": name,
                    "split": split,
                    "n": len(part),
                    "events": int(event.sum()),
                    "c_index": c,
                    "oracle": oracle or "",
                    "oracle_c_index": oracle_c,
                    "gap": oracle_c - c,
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- td ROC/AUC
def time_dependent_auc(time, event, marker, horizon, *, confidence=0.95) -> dict:
    """Cumulative/dynamic ROC and AUC at ``horizon`` with IPCW, as R's ``timeROC``.

    Cases: death before the horizon (``T < t``, strictly, as timeROC), weighted by
    ``1 / G(T-)``; controls: ``T > t`` (equal weights ``1 / G(t)``); G is the
    Kaplan-Meier of censoring of :func:`censoring_survival`. The AUC is the trapezoid
    area under the ROC curve of thresholds at every distinct marker value (ties count
    one half). Its standard error is timeROC's i.i.d. representation (v0.4,
    ``compute_iid_decomposition_survival``, marginal weights), which accounts for the
    estimated weights; the CI is Wald.

    Parameters
    ----------
    time : array_like of float
        Survival time (months).
    event : array_like of {0, 1}
    marker : array_like of float
        Risk marker, higher = higher risk.
    horizon : float
        Time t (months).

    Returns
    -------
    dict
        ``auc``, ``se``, ``lower``, ``upper``, ``cases``, ``controls``, ``censored``
        (censored before t), ``fpr``, ``tpr`` (the ROC curve from (0, 0) to (1, 1)) and
        ``note`` (why the AUC is NaN: no case or no control).
    """
    time, event, marker = survival_arrays(time, event, marker)
    n = len(time)
    order = np.argsort(time, kind="stable")
    time, event, marker = time[order], event[order], marker[order]
    g_left, g_at = censoring_survival(time, event)
    case = (time < horizon) & (event == 1)
    control = time > horizon
    out = {
        "cases": int(case.sum()),
        "controls": int(control.sum()),
        "censored": int(n - case.sum() - control.sum()),
        "horizon": float(horizon),
    }
    if not case.any() or not control.any():
        out.update(
            auc=np.nan,
            se=np.nan,
            lower=np.nan,
            upper=np.nan,
            fpr=np.array([0.0, 1.0]),
            tpr=np.array([0.0, 1.0]),
            note="no case (death before the horizon)" if not case.any() else "no control (alive beyond the horizon)",
        )
        return out
    w_case = np.where(case, 1.0 / (g_left(time) * n), 0.0)
    w_control = np.where(control, 1.0 / (float(g_at(horizon)) * n), 0.0)
    f01, surv = w_case.sum(), w_control.sum()

    # ROC curve: thresholds at distinct marker values, from the highest down
    by_marker = np.argsort(-marker, kind="stable")
    tp = np.r_[0.0, np.cumsum(w_case[by_marker])] / f01
    fp = np.r_[0.0, np.cumsum(w_control[by_marker])] / surv
    # a point after each run of tied marker values (timeROC: !duplicated(marker))
    keep = np.r_[True, marker[by_marker][1:] != marker[by_marker][:-1], True]
    tp, fp = tp[keep], fp[keep]
    auc = float(np.sum(np.diff(fp) * (tp[1:] + tp[:-1]) / 2))

    # timeROC's iid representation (marginal weights), data ordered by time
    ci, cj = np.flatnonzero(case), np.flatnonzero(control)
    h = (marker[ci][:, None] > marker[cj][None, :]) + 0.5 * (marker[ci][:, None] == marker[cj][None, :])
    h = h * (w_case[ci][:, None] * w_control[cj][None, :]) * (n * n)
    h_star = h.sum() / (n * n)
    censored = (event == 0).astype(float)
    cum_hazard_c = np.cumsum(censored / np.arange(n, 0, -1))
    idx = np.arange(n)
    martingale = censored[None, :] * (time[None, :] <= time[:, None]) - cum_hazard_c[np.minimum.outer(idx, idx)]
    d_martingale = np.vstack([martingale[:1], np.diff(martingale, axis=0)])
    at_risk = np.r_[1.0, 1 - np.arange(1, n) / n]
    integral = np.cumsum(d_martingale / at_risk[:, None], axis=0)  # rows: time j, columns: subject k
    f_it = (time <= horizon) * (event == 1) * w_case * n
    beyond = (time > horizon) / (control.sum() / n)
    h_case = h.sum(axis=1)
    term_k = (h_case[:, None] * (1 + integral[ci, :])).sum(axis=0) / n
    term_k -= (h_star * (beyond[:, None] + (f_it[:, None] * (1 + integral) - f01) / f01)).sum(axis=0)
    by_case = np.zeros(n)
    by_case[ci] = h_case
    by_control = np.zeros(n)
    by_control[cj] = h.sum(axis=0)
    influence = term_k + (by_control - n * h_star) + (by_case - n * h_star * (beyond + (f_it - f01) / f01))
    influence /= f01 * surv * n
    se = float(np.std(influence, ddof=1) / math.sqrt(n))
    q = ndtri(0.5 + confidence / 2)
    out.update(auc=auc, se=se, lower=auc - q * se, upper=auc + q * se, fpr=fp, tpr=tp, note="")
    return out


def auc_table(scores: dict, split: str, *, horizon, confidence=0.95):
    """Time-dependent AUC of each nomogram on ``split`` and the ROC curves.

    Returns
    -------
    (pandas.DataFrame, dict)
        Table ``nomogram, label, split, horizon_months, cases, controls, censored, auc,
        se, lower, upper, note``; and nomogram -> (fpr, tpr).
    """
    rows, curves = [], {}
    for name, frame in scores.items():
        part = frame[frame[col.SPLIT] == split]
        res = time_dependent_auc(part[col.OS_MONTHS], part[col.OS_EVENT], part["lp"], horizon, confidence=confidence)
        curves[name] = (res["fpr"], res["tpr"])
        rows.append(
            {
                "nomogram": name,
                "label": nomogram_label(name),
                "split": split,
                "horizon_months": horizon,
                **{k: res[k] for k in ("cases", "controls", "censored", "auc", "se", "lower", "upper", "note")},
            }
        )
    return pd.DataFrame(rows), curves


def plot_roc(curves: dict, aucs: dict, ax=None, *, horizon=36.0, title=None):
    """Time-dependent ROC curves, one per nomogram, AUC in the legend.

    Parameters
    ----------
    curves : dict
        Nomogram -> (fpr, tpr).
    aucs : dict
        Nomogram -> AUC.
    ax : matplotlib.axes.Axes, optional
    horizon : float
        Months (for the axis labels).

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        ax = new_figure(5.5, 5.5).add_subplot()
    palette = matplotlib.colormaps["tab10"]
    for k, (name, (fpr, tpr)) in enumerate(curves.items()):
        auc = aucs.get(name, float("nan"))
        text = f"{auc:.3f}" if np.isfinite(auc) else "NA"
        # straight segments between the ROC points (tied markers give diagonal pieces),
        # whose trapezoid area is the AUC, as timeROC's plot draws them
        ax.plot(
            fpr,
            tpr,
            color=palette(k % 10),
            linewidth=1.8 if name == "integrated" else 1.1,
            label=f"{nomogram_label(name)} (AUC {text})",
        )
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=0.8)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("1 \u2212 specificity (false positive rate)")
    ax.set_ylabel("Sensitivity (true positive rate)")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_title(title or f"{horizon_text(horizon)} OS: time-dependent ROC", fontsize=11)
    return ax


def roc_figure(curves, aucs, *, horizon, title):
    """Fig. S2: :func:`plot_roc` on a figure of its own (:class:`matplotlib.figure.Figure`)."""
    with style():
        fig = new_figure(6, 6)
        plot_roc(curves, aucs, ax=fig.add_subplot(), horizon=horizon, title=title)
        fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- calibration
def hosmer_lemeshow(y, p, *, groups=10) -> dict:
    """Hosmer-Lemeshow goodness-of-fit statistic, as R's ``ResourceSelection::hoslem.test`` 0.3-6.

    Groups are ``cut(p, unique(quantile(p, 0:g / g)), include.lowest = TRUE)`` (R's
    type-7 quantiles, intervals closed on the right);
    ``chisq = sum_g (O1 - E1)^2 / E1 + (O0 - E0)^2 / E0`` and ``df = groups formed - 2``,
    where the groups formed are the intervals between distinct quantiles (fewer than
    ``groups`` when tied predictions merge quantiles). This is ResourceSelection
    0.3-6; 0.3-5 took ``df = groups - 2`` whatever was formed. When an interval holds
    no patient (tied predictions again: an interpolated quantile just above a tied one)
    the statistic is undefined: R returns NaN and so does this function, with a note;
    empty groups are not dropped, since that would test groups the definition does not
    form.

    Parameters
    ----------
    y : array_like of {0, 1}
        Observed outcome.
    p : array_like of float
        Predicted probability of ``y = 1``.
    groups : int

    Returns
    -------
    dict
        ``chisq``, ``df``, ``p_value``, ``groups`` (formed), ``empty_groups``, ``note``
        (why the test is NaN, else "") and ``table`` (per group formed: ``n``,
        ``observed``, ``expected``, ``lower``, ``upper`` bounds of p).
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if y.shape != p.shape or len(y) == 0:
        raise InputError("Hosmer-Lemeshow needs outcomes and probabilities of equal, non-zero length")
    breaks = np.unique(np.quantile(p, np.linspace(0, 1, groups + 1)))
    formed = len(breaks) - 1
    index = np.clip(np.searchsorted(breaks, p, side="left") - 1, 0, max(formed - 1, 0))
    rows = []
    for g in range(formed):
        inside = index == g
        rows.append(
            {
                "group": g + 1,
                "lower": breaks[g],
                "upper": breaks[g + 1],
                "n": int(inside.sum()),
                "observed": float(y[inside].sum()),
                "expected": float(p[inside].sum()),
            }
        )
    table = pd.DataFrame(rows, columns=["group", "lower", "upper", "n", "observed", "expected"])
    empty = int((table["n"] == 0).sum())
    df = formed - 2
    distinct = len(np.unique(p))
    if empty:
        note = f"not computed: {empty} of {formed} quantile groups are empty ({distinct} distinct predicted values)"
    elif df <= 0:
        note = f"not computed: {max(formed, 1)} quantile group(s) from {distinct} distinct predicted values, 3 needed"
    else:
        note = ""
    if note:
        chisq = p_value = float("nan")
    else:
        o1, e1, n = table["observed"], table["expected"], table["n"]
        with np.errstate(divide="ignore", invalid="ignore"):
            chisq = float(np.sum((o1 - e1) ** 2 / e1 + ((n - o1) - (n - e1)) ** 2 / (n - e1)))
        p_value = float(chdtrc(df, chisq)) if np.isfinite(chisq) else float("nan")
    return {
        "chisq": chisq,
        "df": df,
        "p_value": p_value,
        "groups": formed,
        "empty_groups": empty,
        "note": note,
        "table": table,
    }


def rcs_basis(x, knots) -> np.ndarray:
    """Restricted cubic spline basis (Harrell's ``rcs``): x and the k - 2 nonlinear terms.

    Each nonlinear term is divided by ``(k_last - k_1)^2`` as ``rms`` does (which only
    rescales its coefficient).
    """
    x = np.asarray(x, dtype=float)
    k = np.asarray(knots, dtype=float)
    last, before = k[-1], k[-2]
    norm = (last - k[0]) ** 2

    def cube(v):
        return np.maximum(v, 0.0) ** 3

    columns = [x]
    for kj in k[:-2]:
        term = (
            cube(x - kj)
            - cube(x - before) * (last - kj) / (last - before)
            + cube(x - last) * (before - kj) / (last - before)
        )
        columns.append(term / norm)
    return np.column_stack(columns)


def smooth_calibration(time, event, predicted_survival, horizon, *, knots=3) -> dict:
    """Smooth calibration at ``horizon`` (Austin, Harrell & van Klaveren, Stat Med 2020).

    A Cox model of the outcome on a restricted cubic spline (``knots`` knots at the
    10/50/90% quantiles for 3 knots) of ``log(-log(S_pred))`` gives each patient's
    observed survival at the horizon; ICI, E50 and E90 are the mean, median and 90th
    percentile of ``|S_pred - S_observed|``.

    Returns
    -------
    dict
        ``ici``, ``e50``, ``e90``, ``predicted`` and ``observed`` (sorted by predicted,
        for the curve) and ``note`` (why NaN, if so).
    """
    time, event = survival_arrays(time, event)
    s = np.clip(np.asarray(predicted_survival, dtype=float), 1e-12, 1 - 1e-12)
    cll = np.log(-np.log(s))
    quantiles = {3: (0.10, 0.50, 0.90), 4: (0.05, 0.35, 0.65, 0.95), 5: (0.05, 0.275, 0.5, 0.725, 0.95)}[knots]
    knot_values = np.unique(np.quantile(cll, quantiles))
    basis = rcs_basis(cll, knot_values) if len(knot_values) >= 3 else cll[:, None]
    names = [f"cll_{j}" for j in range(basis.shape[1])]
    try:
        fit = fit_cox(time, event, pd.DataFrame(basis, columns=names), what="the calibration model")
    except InputError as err:
        return {
            "ici": np.nan,
            "e50": np.nan,
            "e90": np.nan,
            "predicted": np.array([]),
            "observed": np.array([]),
            "note": err.reason,
        }
    lp = linear_predictor(basis, fit.coef, fit.means)
    times, cumhaz = baseline_cumulative_hazard(time, event, lp)
    h0 = np.r_[0.0, cumhaz][np.searchsorted(times, horizon, side="right")]
    observed = np.exp(-h0 * np.exp(lp))
    error = np.abs(s - observed)
    order = np.argsort(s, kind="stable")
    return {
        "ici": float(error.mean()),
        "e50": float(np.median(error)),
        "e90": float(np.quantile(error, 0.9)),
        "predicted": s[order],
        "observed": observed[order],
        "note": "" if fit.converged else "did not converge",
    }


def km_at(time, event, horizon, *, confidence=0.95):
    """Kaplan-Meier survival at ``horizon``: estimate, CI and Greenwood variance.

    Estimate and CI (log-log) from :func:`survsig.survival.km.kaplan_meier`; the variance is
    Greenwood's, ``S(t)^2 sum_{t_i <= t} d_i / (n_i (n_i - d_i))``. NaN when the horizon
    lies beyond the last follow-up time; no CI before the first death.

    Returns
    -------
    (float, float, float, float)
        Survival, lower and upper confidence limit, variance.
    """
    time, event = survival_arrays(time, event)
    nan = float("nan")
    if len(time) == 0 or horizon > time.max():
        return nan, nan, nan, nan
    if not ((event == 1) & (time <= horizon)).any():
        return 1.0, nan, nan, 0.0
    curve = kaplan_meier(time, event, conf_level=confidence, conf_type="log-log")
    row = survival_at(curve, [horizon]).iloc[0]
    return float(row["surv"]), float(row["lower"]), float(row["upper"]), float(row["std_err"]) ** 2


def gnd_test(groups: pd.DataFrame) -> dict:
    """Greenwood-Nam-D'Agostino calibration test of survival at a horizon (Demler et al. 2015).

    ``chisq = sum_g (KM_g - mean predicted_g)^2 / Var_Greenwood(KM_g)`` over the risk
    groups, ``df = groups - 1``. Unlike the Hosmer-Lemeshow test on the patients whose
    status is known, it keeps the patients censored before the horizon (through the
    Kaplan-Meier estimate of each group), so heavy censoring does not bias it.

    Parameters
    ----------
    groups : pandas.DataFrame
        ``predicted``, ``observed`` and ``observed_variance`` per risk group (as
        :func:`calibration` builds them).

    Returns
    -------
    dict
        ``chisq``, ``df``, ``p_value`` (NaN when a group has no finite positive
        variance, e.g. no death before the horizon: merge groups then).
    """
    variance = groups["observed_variance"].to_numpy(float)
    diff = groups["observed"].to_numpy(float) - groups["predicted"].to_numpy(float)
    df = len(groups) - 1
    if df < 1 or not (np.isfinite(variance) & (variance > 0) & np.isfinite(diff)).all():
        return {"chisq": float("nan"), "df": df, "p_value": float("nan")}
    chisq = float(np.sum(diff**2 / variance))
    return {"chisq": chisq, "df": df, "p_value": float(chdtrc(df, chisq))}


def calibration(time, event, predicted_survival, horizon, *, groups=4, hl_groups=10, confidence=0.95) -> dict:
    """Calibration at ``horizon``: observed vs predicted survival by risk group, HL, ICI.

    Parameters
    ----------
    time, event : array_like
        Survival time (months) and event.
    predicted_survival : array_like
        Predicted survival at the horizon per patient.
    horizon : float
        Months.
    groups : int
        Risk groups of (nearly) equal size by predicted survival, for the plot: mean
        predicted vs Kaplan-Meier observed survival (with CI) per group.
    hl_groups : int
        Groups of the Hosmer-Lemeshow test. Like R's ``hoslem.test`` applied at a
        horizon, it uses the patients whose status at the horizon is known (died by
        then, or followed beyond it): y = death by the horizon, p = 1 - predicted
        survival. Patients censored before the horizon are left out of this test only.

    Returns
    -------
    dict
        ``groups`` (DataFrame), ``hosmer_lemeshow`` (:func:`hosmer_lemeshow`, or None when
        fewer than 3 patients of known status or no death or no survivor among them),
        ``gnd`` (:func:`gnd_test` on the risk groups,
        censoring-aware), ``smooth`` (:func:`smooth_calibration`), ``known_status``
        (patients in the HL test).
    """
    time, event = survival_arrays(time, event)
    s = np.asarray(predicted_survival, dtype=float)
    order = np.argsort(s, kind="stable")
    rows = []
    for g, members in enumerate(np.array_split(order, groups), start=1):
        if len(members) == 0:
            continue
        observed, lower, upper, variance = km_at(time[members], event[members], horizon, confidence=confidence)
        rows.append(
            {
                "group": g,
                "n": len(members),
                "events": int(event[members].sum()),
                "predicted": float(s[members].mean()),
                "observed": observed,
                "observed_lower": lower,
                "observed_upper": upper,
                "observed_variance": variance,
            }
        )
    known = (time > horizon) | ((event == 1) & (time <= horizon))
    y = ((event == 1) & (time <= horizon))[known].astype(float)
    hl = None
    if known.sum() >= 3 and 0 < y.sum() < known.sum():
        hl = hosmer_lemeshow(y, 1 - s[known], groups=hl_groups)
    table = pd.DataFrame(rows)
    return {
        "groups": table,
        "hosmer_lemeshow": hl,
        "gnd": gnd_test(table),
        "smooth": smooth_calibration(time, event, s, horizon),
        "known_status": int(known.sum()),
        "horizon": float(horizon),
    }


def calibration_tables(result: dict, *, nomogram: str, split: str) -> tuple:
    """The calibration TSV: one row per risk group, then a summary row of the tests."""
    groups = result["groups"].copy()
    groups.insert(0, "row", "group")
    hl = result["hosmer_lemeshow"] or {}
    smooth = result["smooth"]
    summary = pd.DataFrame(
        [
            {
                "row": "summary",
                "n": int(groups["n"].sum()),
                "events": int(groups["events"].sum()),
                "hl_chisq": hl.get("chisq", np.nan),
                "hl_df": hl.get("df", np.nan),
                "hl_p_value": hl.get("p_value", np.nan),
                "hl_groups": hl.get("groups", np.nan),
                "hl_note": hl.get("note", "not computed: too few patients of known status, or no death or no survivor"),
                "known_status": result["known_status"],
                "gnd_chisq": result["gnd"]["chisq"],
                "gnd_df": result["gnd"]["df"],
                "gnd_p_value": result["gnd"]["p_value"],
                "ici": smooth["ici"],
                "e50": smooth["e50"],
                "e90": smooth["e90"],
            }
        ]
    )
    table = pd.concat([groups, summary], ignore_index=True)
    table.insert(1, "nomogram", nomogram)
    table.insert(2, "split", split)
    table.insert(3, "horizon_months", result["horizon"])
    return table


def plot_calibration(result: dict, ax=None, *, title=None):
    """Calibration plot: predicted vs Kaplan-Meier observed survival per risk group.

    Group means with CI bars, the ideal diagonal, the smooth calibration curve
    (:func:`smooth_calibration`) and, in the corner, the Hosmer-Lemeshow p, ICI and E50.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        ax = new_figure(5.5, 5.5).add_subplot()
    horizon = horizon_text(result["horizon"])
    groups = result["groups"]
    smooth = result["smooth"]
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=0.8, label="Ideal")
    if len(smooth["predicted"]):
        ax.plot(
            smooth["predicted"],
            smooth["observed"],
            color="tab:orange",
            linewidth=1.2,
            label="Smooth (Cox, spline of cloglog)",
        )
    ok = groups["observed"].notna()
    yerr = np.vstack([groups["observed"] - groups["observed_lower"], groups["observed_upper"] - groups["observed"]])
    yerr = np.where(np.isfinite(yerr), yerr, 0.0)
    ax.errorbar(
        groups.loc[ok, "predicted"],
        groups.loc[ok, "observed"],
        yerr=yerr[:, ok.to_numpy()],
        fmt="o",
        color="tab:blue",
        ecolor="tab:blue",
        capsize=3,
        markersize=5,
        linewidth=1.1,
        label="Risk groups (KM, 95% CI)",
    )
    ax.plot(groups.loc[ok, "predicted"], groups.loc[ok, "observed"], color="tab:blue", linewidth=0.8)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel(f"Predicted {horizon} OS probability")
    ax.set_ylabel(f"Observed {horizon} OS (Kaplan{DASH}Meier)")
    hl = result["hosmer_lemeshow"]
    lines = []
    if hl is None:
        lines.append(f"Hosmer{DASH}Lemeshow: too few patients")
    elif hl["note"]:
        lines.extend(textwrap.wrap(f"Hosmer{DASH}Lemeshow {hl['note']}", width=60))
    else:
        lines.append(
            f"Hosmer{DASH}Lemeshow \u03c7\u00b2 = {hl['chisq']:.2f} (df {hl['df']}), {format_p(hl['p_value'])}"
        )
    gnd = result["gnd"]
    if np.isfinite(gnd["p_value"]):
        lines.append(
            f"Greenwood{DASH}Nam{DASH}D'Agostino \u03c7\u00b2 = {gnd['chisq']:.2f} (df {gnd['df']}), "
            f"{format_p(gnd['p_value'])}"
        )
    if np.isfinite(smooth["ici"]):
        lines.append(f"ICI = {smooth['ici']:.3f}, E50 = {smooth['e50']:.3f}")
    ax.text(0.03, 0.97, "\n".join(lines), transform=ax.transAxes, ha="left", va="top", fontsize=8.5)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    if title:
        ax.set_title(title, fontsize=11)
    return ax


def calibration_figure(result, *, title):
    """Fig. 2B: :func:`plot_calibration` on a figure of its own (:class:`matplotlib.figure.Figure`)."""
    with style():
        fig = new_figure(5.5, 5.5)
        plot_calibration(result, ax=fig.add_subplot(), title=title)
        fig.tight_layout()
    return fig
