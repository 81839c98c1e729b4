"""Harrell's C-index of a risk score: one definition for every stage.

A pair of patients is comparable when the one with the shorter time died (a censoring
at the same time as a death counts as the longer time; two deaths at the same time are
not comparable); it is concordant when that patient has the higher score, and ties in
the score count one half. Scores follow the package's sign: higher = higher risk.

* :func:`concordance_index`: the estimate alone, in O(n log n) (lifelines'
  ``concordance_index``, which counts pairs this way): training's validation C,
  the signatures' C beside their oracles, the synthetic cohort's summary, Somers' Dxy of
  the internal validation.
* :func:`harrell_c`: the same estimate with the standard error of R's
  ``survival::concordance`` (infinitesimal jackknife), from the pair matrices, O(n^2)
  memory: Table 3 and its comparisons.
* :func:`compare_c`: the difference of two scores' C on the same patients with the
  joint jackknife of R's ``concordance(fit_a, fit_b)``: Table 3, the networks against
  their radiomics comparators.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from survsig.survival.checks import survival_arrays


def concordance_index(time, event, score) -> float:
    """Harrell's C of ``score`` (higher = higher risk); NaN when no pair is comparable.

    Parameters
    ----------
    time : array_like of float
        Survival time.
    event : array_like of {0, 1}
    score : array_like of float
        Risk score.
    """
    from lifelines.utils import concordance_index as lifelines_concordance

    time, event, score = survival_arrays(time, event, score)
    if not event.any():
        return float("nan")
    try:
        return float(lifelines_concordance(time, -score, event))
    except ZeroDivisionError:  # deaths, but no comparable pair (all at the last time)
        return float("nan")


def pair_matrices(time, event, score):
    """Comparable pairs (row = the earlier death) and their order by the score."""
    earlier = time[:, None] < time[None, :]
    tied_censored = (time[:, None] == time[None, :]) & (event[None, :] == 0)
    comparable = (event[:, None] == 1) & (earlier | tied_censored)
    diff = score[:, None] - score[None, :]
    concordant = comparable & (diff > 0)
    discordant = comparable & (diff < 0)
    tied_x = comparable & (diff == 0)
    return comparable, concordant, discordant, tied_x


def harrell_c(time, event, score) -> dict:
    """Harrell's C-index of a risk score with the standard error of R's ``concordance()``.

    A pair is comparable when the patient with the shorter time died (a censoring at
    the same time as a death counts as the longer time; two deaths at the same time are
    not comparable); it is concordant when that patient has the higher score. Ties in
    the score count one half. The variance is R survival's infinitesimal jackknife:
    ``sum(dfbeta_i^2) / 4`` with ``dfbeta_i`` the influence of patient ``i`` on
    Somers' d (survival 3.5 ``concordancefit``, ``timewt = "n"``); R's ``timefix``
    (merging times equal up to rounding) is not applied.

    Parameters
    ----------
    time : array_like of float
        Survival time (months).
    event : array_like of {0, 1}
    score : array_like of float
        Risk score; higher = higher risk (shorter survival).

    Returns
    -------
    dict
        ``c``, ``se``, ``concordant``, ``discordant``, ``tied_x`` (comparable pairs tied
        on the score), ``pairs`` (comparable pairs), ``dfbeta`` (per patient influence on
        C, so that ``se**2 == sum(dfbeta**2)``). ``c`` and ``se`` are NaN when no pair is
        comparable (no events).
    """
    time, event, score = survival_arrays(time, event, score)
    comparable, concordant, discordant, tied_x = pair_matrices(time, event, score)
    imat = [m.sum(axis=1) + m.sum(axis=0) for m in (concordant, discordant, tied_x)]
    counts = [int(m.sum()) for m in (concordant, discordant, tied_x)]
    npair = sum(counts)
    if npair == 0:
        return {
            "c": float("nan"),
            "se": float("nan"),
            "concordant": 0,
            "discordant": 0,
            "tied_x": 0,
            "pairs": 0,
            "dfbeta": np.full(len(time), np.nan),
        }
    somer = (counts[0] - counts[1]) / npair
    dfbeta_somer = (imat[0] - imat[1]) / npair - somer / npair * (imat[0] + imat[1] + imat[2])
    dfbeta = dfbeta_somer / 2
    return {
        "c": (somer + 1) / 2,
        "se": float(np.sqrt(np.sum(dfbeta**2))),
        "concordant": counts[0],
        "discordant": counts[1],
        "tied_x": counts[2],
        "pairs": int(comparable.sum()),
        "dfbeta": dfbeta,
    }


def compare_c(time, event, score_a, score_b) -> dict:
    """Difference of two C-indices on the same patients (a - b) by the jackknife.

    ``var(Ca - Cb) = sum((dfbeta_a - dfbeta_b)^2)``, the joint infinitesimal
    jackknife of R's ``concordance(fit_a, fit_b)``; two-sided z-test.

    Returns
    -------
    dict
        ``c_a``, ``c_b``, ``diff``, ``se``, ``p_value``.
    """
    a, b = harrell_c(time, event, score_a), harrell_c(time, event, score_b)
    diff = a["c"] - b["c"]
    se = float(np.sqrt(np.sum((a["dfbeta"] - b["dfbeta"]) ** 2)))
    p = 2 * ndtr(-abs(diff) / se) if np.isfinite(se) and se > 0 else float("nan")
    return {"c_a": a["c"], "c_b": b["c"], "diff": diff, "se": se, "p_value": p}
