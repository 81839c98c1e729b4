"""How well the nomograms discriminate at the horizon: the time-dependent ROC and AUC (Fig. S2).

:func:`time_dependent_auc`: cumulative/dynamic ROC and AUC at one time with inverse
probability of censoring weights, and the standard error of R's ``timeROC`` (v0.4,
``weighting = "marginal"``, ``iid = TRUE``). scikit-survival's
``cumulative_dynamic_auc`` counts a death exactly at the horizon as a case and
weights cases by G(T) instead of G(T-), so it differs from timeROC (by 1e-4 on R's
``lung`` data); this is timeROC's estimator.

Times are in months. Scores follow the package's sign: higher = higher risk.
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
from scipy.special import ndtri  # light imports: scipy.stats costs ~1 s per job

from survsig.core import columns as col
from survsig.core.figures import new_figure, style
from survsig.core.vocabulary import horizon_text, nomogram_label
from survsig.survival.checks import survival_arrays
from survsig.survival.km import censoring_survival


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


def time_roc(scores: dict, split: str, options: dict, *, title):
    """Time-dependent AUC of every nomogram on ``split`` at the horizon: the table
    (:func:`auc_table`) and the ROC figure (:func:`roc_figure`); ``options`` is the
    config's ``evaluate`` block (``horizon_months``, ``confidence``)."""
    horizon = options["horizon_months"]
    table, curves = auc_table(scores, split, horizon=horizon, confidence=options["confidence"])
    figure = roc_figure(curves, dict(zip(table["nomogram"], table["auc"])), horizon=horizon, title=title)
    return table, figure
