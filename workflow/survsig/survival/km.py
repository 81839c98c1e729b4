"""Kaplan-Meier curves as R's ``survfit`` gives them.

:func:`kaplan_meier` fits :class:`lifelines.KaplanMeierFitter` and adds confidence
intervals the way R's ``survfit`` builds them: Greenwood's variance of log S(t) and,
by default, ``conf.type = "log"`` (R's default; lifelines offers only the
"log-log" interval). :func:`survival_at` reads the curve at chosen times as R's
``summary(fit, times = ...)`` does; :func:`kaplan_meier_at` gives one time point without
the whole curve. :func:`median_survival` and :func:`survival_quantile` read quantiles by
R's rules, :func:`reverse_km_follow_up` the median follow-up, :func:`censoring_survival`
the Kaplan-Meier of the censoring times, :func:`number_at_risk` the numbers at risk.

Group comparisons (log-rank, hazard ratio) are in :mod:`survsig.survival.groups`, the
Kaplan-Meier figures in :mod:`survsig.survival.km_figure`.

Times are in months throughout; survival probabilities are fractions in [0, 1].
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from survsig.core.errors import InputError
from survsig.survival.checks import survival_arrays

log = logging.getLogger(__name__)

CONF_TYPES = ("log", "log-log", "plain")

#: Columns of :func:`kaplan_meier`'s table.
CURVE_COLUMNS = ("time", "n_risk", "n_event", "n_censor", "surv", "std_err", "lower", "upper")


# --------------------------------------------------------------------------- checks
def _check_conf(conf_level, conf_type):
    if not isinstance(conf_level, (int, float)) or isinstance(conf_level, bool) or not 0 < conf_level < 1:
        raise InputError(f"conf_level must be a number strictly between 0 and 1, got {conf_level!r}")
    if conf_type not in CONF_TYPES:
        raise InputError(f"conf_type must be one of {', '.join(CONF_TYPES)}, got {conf_type!r}")


def survival_data(os_months, os_event):
    """Times (>= 0) and 0/1 events as float and int arrays (:func:`survsig.survival.checks.survival_arrays`)."""
    return survival_arrays(os_months, os_event, times="non-negative")


#: R's tolerance of "equal" survival probabilities (``sqrt(.Machine$double.eps)``).
SQRT_EPS = float(np.sqrt(np.finfo(float).eps))


# --------------------------------------------------------------------------- estimation
def kaplan_meier(os_months, os_event, *, conf_level=0.95, conf_type="log") -> pd.DataFrame:
    """Kaplan-Meier curve with R's ``survfit`` standard errors and confidence limits.

    Parameters
    ----------
    os_months : array_like of float
        Follow-up time (months), >= 0.
    os_event : array_like of {0, 1}
        1 = death, 0 = censored.
    conf_level : float, default 0.95
        Level of the pointwise confidence interval.
    conf_type : {"log", "log-log", "plain"}, default "log"
        Transform of the interval, as R's ``conf.type``: "log" (R's default) is
        ``exp(log S +- z se)`` with se the Greenwood standard error of log S,
        upper limit capped at 1; "log-log" is ``S ** exp(+- z se / log S)`` (lifelines'
        exponential Greenwood interval); "plain" is ``S +- z S se`` clipped to [0, 1].

    Returns
    -------
    pandas.DataFrame
        One row per distinct observed time (deaths or censorings), columns
        :data:`CURVE_COLUMNS`: ``time`` (months), ``n_risk`` (alive and under
        follow-up just before ``time``), ``n_event``, ``n_censor``, ``surv`` (S(t)
        after ``time``), ``std_err`` (Greenwood standard error of S(t), on the
        probability scale as R's ``summary.survfit`` prints it), ``lower``, ``upper``.
        Where S(t) = 0 the limits are NaN (R: NA). Empty when there are no patients.

    Notes
    -----
    Greenwood's variance of log S(t) is ``sum d / (n (n - d))`` over death times up to
    t, as R computes it for ``survfit(..., conf.type = "log")``; the estimate S(t) is
    lifelines' product-limit estimate.
    """
    _check_conf(conf_level, conf_type)
    time, event = survival_data(os_months, os_event)
    if len(time) == 0:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in CURVE_COLUMNS})
    from lifelines import KaplanMeierFitter  # imported here, as scipy.stats: importing km stays light
    from scipy import stats

    kmf = KaplanMeierFitter().fit(time, event_observed=event)
    table = kmf.event_table
    table = table[table["removed"] > 0]
    at = table.index.to_numpy(dtype=float)
    n = table["at_risk"].to_numpy(dtype=float)
    d = table["observed"].to_numpy(dtype=float)
    surv = kmf.survival_function_.iloc[:, 0].reindex(at).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(d > 0, d / (n * (n - d)), 0.0)
        var_log = np.cumsum(terms)  # inf from the time S(t) reaches 0
        se_log = np.sqrt(var_log)
        z = stats.norm.ppf(1 - (1 - conf_level) / 2)
        if conf_type == "log":
            lower = np.exp(np.log(surv) - z * se_log)
            upper = np.minimum(np.exp(np.log(surv) + z * se_log), 1.0)
        elif conf_type == "log-log":
            log_s = np.log(surv)
            shift = z * se_log / log_s  # negative where 0 < S < 1
            lower = surv ** np.exp(-shift)
            upper = surv ** np.exp(shift)
            flat = se_log == 0
            lower[flat], upper[flat] = surv[flat], surv[flat]
        else:
            lower = np.clip(surv - z * surv * se_log, 0.0, 1.0)
            upper = np.clip(surv + z * surv * se_log, 0.0, 1.0)
        std_err = surv * se_log
    dead = surv <= 0
    lower[dead], upper[dead] = np.nan, np.nan
    std_err[dead] = np.nan
    return pd.DataFrame(
        {
            "time": at,
            "n_risk": n.astype(int),
            "n_event": d.astype(int),
            "n_censor": table["censored"].to_numpy(dtype=int),
            "surv": surv,
            "std_err": std_err,
            "lower": lower,
            "upper": upper,
        }
    )


def survival_at(curve: pd.DataFrame, times) -> pd.DataFrame:
    """Read a Kaplan-Meier curve at given times, as R's ``summary(fit, times = ...)``.

    Parameters
    ----------
    curve : pandas.DataFrame
        Output of :func:`kaplan_meier`.
    times : array_like of float
        Time points (months), in any order.

    Returns
    -------
    pandas.DataFrame
        One row per time: ``time``, ``n_risk`` (patients with follow-up >= time),
        ``n_event`` (deaths after the previous requested time up to this one, as R's
        ``summary`` counts them; times taken in increasing order), ``surv``,
        ``std_err``, ``lower``, ``upper`` of the last curve step at or before the time
        (1 and 0 before the first step). Times after the last observed time are not
        estimable: NaN (R drops them unless ``extend = TRUE``).
    """
    times = np.asarray(times, dtype=float)
    at = curve["time"].to_numpy(dtype=float)
    last = at[-1] if len(at) else -np.inf
    rows = []
    previous = -np.inf
    for t in times:
        idx = np.searchsorted(at, t, side="right") - 1
        later = np.searchsorted(at, t, side="left")
        n_risk = int(curve["n_risk"].iloc[later]) if later < len(at) else 0
        deaths = int(curve["n_event"][(at > previous) & (at <= t)].sum())
        if t > last:
            values = dict(surv=np.nan, std_err=np.nan, lower=np.nan, upper=np.nan)
        elif idx < 0:
            values = dict(surv=1.0, std_err=0.0, lower=1.0, upper=1.0)
        else:
            values = {k: float(curve[k].iloc[idx]) for k in ("surv", "std_err", "lower", "upper")}
        rows.append(dict(time=float(t), n_risk=n_risk, n_event=deaths, **values))
        previous = max(previous, t)
    return pd.DataFrame(rows, columns=["time", "n_risk", "n_event", "surv", "std_err", "lower", "upper"])


def kaplan_meier_at(os_months, os_event, t, *, tolerance=0.0) -> tuple:
    """Kaplan-Meier survival at one time and the Greenwood standard error of its log.

    The product-limit estimate over the deaths at or before ``t + tolerance``, the same
    numbers as :func:`kaplan_meier` read at ``t`` (tested), computed without building
    the whole curve: bootstrap calibration reads thousands of small groups.

    Returns
    -------
    (float, float, float)
        ``S(t)``, the standard error of ``log S(t)`` (R's ``survfit`` ``std.err``; inf
        once S is 0) and the last observed time (censoring or death). All NaN without
        patients.
    """
    time, event = survival_data(os_months, os_event)
    if len(time) == 0:
        return float("nan"), float("nan"), float("nan")
    death_times, deaths = np.unique(time[(event == 1) & (time <= t + tolerance)], return_counts=True)
    at_risk = len(time) - np.searchsorted(np.sort(time), death_times, side="left")
    surv = float(np.prod(1 - deaths / at_risk))
    with np.errstate(divide="ignore"):
        variance = float(np.sum(deaths / (at_risk * (at_risk - deaths).astype(float))))
    return surv, float(np.sqrt(variance)), float(time.max())


def _first_below_half(values, times) -> float:
    """R's ``survival:::minmin``: the first time a curve is at or below 0.5.

    Where the curve sits at 0.5 (within ``sqrt(eps)``, as ``all.equal``) before
    dropping further, the midpoint between that time and the time of the next drop.
    NaN when the curve never reaches 0.5 ("not reached").
    """
    tolerance = np.sqrt(np.finfo(float).eps)
    values = np.asarray(values, dtype=float)
    times = np.asarray(times, dtype=float)
    keep = ~np.isnan(values) & (values < 0.5 + tolerance)
    if not keep.any():
        return float("nan")
    values, times = values[keep], times[keep]
    lower = np.flatnonzero(values < values[0])
    if abs(values[0] - 0.5) < tolerance and len(lower):
        return float((times[0] + times[lower[0]]) / 2)
    return float(times[0])


def median_survival(curve: pd.DataFrame) -> tuple:
    """Median survival with its confidence limits, as R's ``print(survfit(...))``.

    The median is where the curve first reaches 0.5 (:func:`_first_below_half`); the
    lower limit is where the lower confidence curve does, the upper limit where the upper
    one does (R's ``0.95LCL`` and ``0.95UCL``, with the curve's ``conf_type``).

    Parameters
    ----------
    curve : pandas.DataFrame
        Output of :func:`kaplan_meier`.

    Returns
    -------
    (float, float, float)
        Median, lower and upper limit (months); NaN where not reached.
    """
    times = curve["time"].to_numpy(dtype=float)
    return tuple(_first_below_half(curve[column], times) for column in ("surv", "lower", "upper"))


def survival_quantile(times, surv, q, *, tolerance=SQRT_EPS):
    """Time at which a step survival curve falls to ``q``, by R's ``quantile.survfit`` rule.

    The first time with S(t) <= q; where the curve is flat exactly at ``q`` (within
    ``tolerance``), the midpoint between that time and the next drop, as R's survival
    package does (so the quantile of 1, 2, ..., 6 all observed is 3.5, not 3 or 4).

    Parameters
    ----------
    times : array_like of float
        Increasing time points of the curve (any unit; the result has the same unit).
    surv : array_like of float
        Survival probability at and after each time point.
    q : float
        Survival level in (0, 1).

    Returns
    -------
    float
        The quantile time; ``inf`` when the curve never falls to ``q`` (not reached).
    """
    times = np.asarray(times, dtype=float)
    surv = np.asarray(surv, dtype=float)
    below = np.flatnonzero(surv < q + tolerance)
    if len(below) == 0:
        return float("inf")
    first = below[0]
    if abs(surv[first] - q) < tolerance:
        drops = np.flatnonzero(surv < surv[first] - tolerance)
        if len(drops):
            return float((times[first] + times[drops[0]]) / 2)
    return float(times[first])


def reverse_km_follow_up(months, event):
    """Median follow-up and IQR by the reverse Kaplan-Meier method.

    Censoring is the "event": the Kaplan-Meier estimate of time to censoring
    (:func:`kaplan_meier` on ``1 - event``). Quantiles are read off that
    curve with :func:`survival_quantile` (R's rule): the median where it falls to 0.5, the
    first quartile at 0.75 and the third at 0.25.

    Parameters
    ----------
    months : array_like of float
        Follow-up time (months).
    event : array_like of {0, 1}
        1 = death, 0 = censored.

    Returns
    -------
    (float, float, float)
        Median, first and third quartile of follow-up (months); ``inf`` when the curve
        never reaches that level (not reached).
    """
    curve = kaplan_meier(months, 1 - np.asarray(event, int))
    times, surv = curve["time"].to_numpy(dtype=float), curve["surv"].to_numpy(dtype=float)
    return tuple(survival_quantile(times, surv, q) for q in (0.5, 0.75, 0.25))


def censoring_survival(time, event):
    """Kaplan-Meier of the censoring time, with deaths before censorings at tied times.

    The convention of ``prodlim`` (``reverse = TRUE``), which ``timeROC`` and
    ``riskRegression`` use through ``pec::ipcw``: at a censoring time ``c`` the number
    at risk is ``#{T >= c} - #{deaths at c}``.

    Returns
    -------
    (callable, callable)
        ``G(t-)`` and ``G(t)`` as functions of an array of times (months).
    """
    time, event = survival_data(time, event)
    cens_times = np.unique(time[event == 0])
    sorted_time = np.sort(time)
    at_risk = len(time) - np.searchsorted(sorted_time, cens_times, side="left")
    deaths_at = np.array([np.sum((time == c) & (event == 1)) for c in cens_times], dtype=float)
    censored_at = np.array([np.sum((time == c) & (event == 0)) for c in cens_times], dtype=float)
    surv = np.r_[1.0, np.cumprod(1 - censored_at / (at_risk - deaths_at))]

    def left(t):
        return surv[np.searchsorted(cens_times, np.asarray(t, dtype=float), side="left")]

    def at(t):
        return surv[np.searchsorted(cens_times, np.asarray(t, dtype=float), side="right")]

    return left, at


def number_at_risk(os_months, times) -> np.ndarray:
    """Patients still under follow-up (time >= t) at each time t (months)."""
    follow = np.sort(np.asarray(os_months, dtype=float))
    return len(follow) - np.searchsorted(follow, np.asarray(times, dtype=float), side="left")
