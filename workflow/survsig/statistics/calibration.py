"""How well the nomograms' predicted survival agrees with the observed: calibration at the horizon (Fig. 2B).

:func:`hosmer_lemeshow`: the Hosmer-Lemeshow statistic as R's
``ResourceSelection::hoslem.test`` 0.3-6 (df = groups formed - 2; NaN when a
quantile group is empty); :func:`calibration` applies it at a horizon
(patients whose status there is known) beside Kaplan-Meier observed survival per risk
group, the censoring-aware Greenwood-Nam-D'Agostino test (:func:`gnd_test`) and the
smooth calibration of Austin, Harrell & van Klaveren (2020): ICI, E50, E90.

Times are in months.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from scipy.special import chdtrc  # light imports: scipy.stats costs ~1 s per job

from survsig.core.errors import InputError
from survsig.core.figures import new_figure, style
from survsig.core.formats import format_p
from survsig.core.vocabulary import EN_DASH as DASH
from survsig.core.vocabulary import horizon_text
from survsig.survival.checks import survival_arrays
from survsig.survival.cox import baseline_cumulative_hazard, fit_cox, linear_predictor
from survsig.survival.km import kaplan_meier, survival_at


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


def nomogram_calibration(nomogram, scores, options: dict, *, name, split, title):
    """Calibration of one nomogram on the patients of ``scores`` at the horizon: its tables
    (:func:`calibration_tables`) and figure (:func:`calibration_figure`).

    Parameters
    ----------
    nomogram : survsig.statistics.nomogram.CoxNomogram
        Gives each patient's predicted survival at the horizon from its ``lp``.
    scores : pandas.DataFrame
        The patients' scores (``os_months``, ``os_event``, ``lp``).
    options : dict
        The config's ``evaluate`` block (``horizon_months``, ``calibration_groups``,
        ``hosmer_lemeshow_groups``, ``confidence``).
    name, split, title : str
    """
    horizon = options["horizon_months"]
    result = calibration(
        scores["os_months"],
        scores["os_event"],
        nomogram.survival_at(scores["lp"], horizon),
        horizon,
        groups=options["calibration_groups"],
        hl_groups=options["hosmer_lemeshow_groups"],
        confidence=options["confidence"],
    )
    return calibration_tables(result, nomogram=name, split=split), calibration_figure(result, title=title)
