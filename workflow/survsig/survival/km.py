"""Kaplan-Meier curves as R's ``survfit`` gives them, group comparisons, and KM figures.

Estimation
    :func:`kaplan_meier` fits :class:`lifelines.KaplanMeierFitter` and adds confidence
    intervals the way R's ``survfit`` builds them: Greenwood's variance of log S(t) and,
    by default, ``conf.type = "log"`` (R's default; lifelines offers only the
    "log-log" interval). :func:`survival_at` reads the curve at chosen times as R's
    ``summary(fit, times = ...)`` does.
Comparison
    :func:`compare_groups`: numbers at risk and deaths per group, survival at a time
    point with its CI, the log-rank test (:func:`lifelines.statistics.logrank_test`,
    equal to R's ``survdiff``) and the hazard ratio of one group against the other
    from a Cox model on the group indicator (:func:`survsig.survival.cox.fit_cox`, Efron
    ties and Wald CI, as R's ``coxph``).
Figures
    :func:`plot_km` and :func:`plot_at_risk` draw on one axes each (``ax=None``: a new
    figure) and return it; :func:`draw_km_panel` puts curves, their header (legend,
    test results) and the table of numbers at risk together, sharing the time axis;
    :func:`km_risk_figure` is the figure of two risk groups in one set (Fig. 3, Fig. S1).
    Save them with :func:`survsig.core.figures.save_figure` (PNG and PDF, byte-reproducible).

Times are in months throughout; survival probabilities are fractions in [0, 1].
"""

from __future__ import annotations

import logging
import math
import textwrap
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from survsig.core.columns import OS_EVENT, OS_MONTHS, RISK_GROUP, RISK_LEVELS, SPLIT
from survsig.core.errors import InputError
from survsig.core.figures import RISK_GROUP_COLOURS, new_figure, style
from survsig.core.formats import format_hr, format_median, format_p, format_survival
from survsig.core.vocabulary import RISK_LABELS, SPLIT_TITLES, horizon_text, nomogram_title
from survsig.survival.checks import survival_arrays
from survsig.survival.cox import fit_cox

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


def _survival_data(os_months, os_event):
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
    time, event = _survival_data(os_months, os_event)
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
    time, event = _survival_data(os_months, os_event)
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
    time, event = _survival_data(time, event)
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


# --------------------------------------------------------------------------- comparison
def logrank(os_months, os_event, group):
    """Log-rank test of equal survival across the groups (R's ``survdiff``).

    Two groups: :func:`lifelines.statistics.logrank_test`; more:
    :func:`lifelines.statistics.multivariate_logrank_test`.

    Returns
    -------
    (float, int, float)
        Chi-square statistic, degrees of freedom (groups - 1) and p-value; NaN when
        fewer than two groups have patients or nobody died.
    """
    from lifelines.statistics import logrank_test, multivariate_logrank_test

    time, event = _survival_data(os_months, os_event)
    group = np.asarray(group, dtype=object)
    levels = list(dict.fromkeys(group.tolist()))
    if len(levels) < 2 or event.sum() == 0:
        return float("nan"), max(len(levels) - 1, 0), float("nan")
    if len(levels) == 2:
        a, b = group == levels[0], group == levels[1]
        result = logrank_test(time[a], time[b], event[a], event[b])
    else:
        result = multivariate_logrank_test(time, group, event)
    return float(result.test_statistic), len(levels) - 1, float(result.p_value)


def hazard_ratio(os_months, os_event, exposed, *, conf_level=0.95):
    """Hazard ratio of exposed vs unexposed patients from a Cox model on the indicator.

    :func:`survsig.survival.cox.fit_cox` (Efron ties, as R's ``coxph`` default); Wald
    confidence interval and p-value.

    Returns
    -------
    (float, float, float, float)
        HR, lower and upper confidence limit, Wald p-value. NaN when either group has
        no patient or no death, or when the likelihood is monotone (the estimate runs
        off to 0 or infinity, where R's ``coxph`` warns "coefficient may be infinite").
    """
    time, event = _survival_data(os_months, os_event)
    exposed = np.asarray(exposed, dtype=bool)
    not_estimable = (float("nan"),) * 4
    for mask in (exposed, ~exposed):
        if not mask.any() or event[mask].sum() == 0:
            return not_estimable
    fit = fit_cox(time, event, exposed.astype(float), names=["exposed"])
    if not fit.converged:
        return not_estimable
    row = fit.summary(confidence=conf_level).iloc[0]
    limits = np.array([row["hr"], row["hr_lower"], row["hr_upper"]])
    if not np.isfinite(limits).all():
        return not_estimable
    return float(limits[0]), float(limits[1]), float(limits[2]), float(row["p_value"])


def compare_groups(
    os_months,
    os_event,
    group,
    *,
    levels,
    time_months=36.0,
    conf_level=0.95,
    conf_type="log",
) -> dict:
    """Two groups side by side: sizes, deaths, survival at a time, log-rank and HR.

    Parameters
    ----------
    os_months, os_event : array_like
        Follow-up (months) and death indicator (1 = death).
    group : array_like
        Group label per patient; only labels in ``levels`` are used.
    levels : (str, str)
        Reference group first, compared group second: the hazard ratio is
        ``levels[1]`` vs ``levels[0]`` (e.g. ``("low", "high")``: high vs low risk).
    time_months : float, default 36
        Time point of the survival probability (months).
    conf_level, conf_type
        Confidence intervals (see :func:`kaplan_meier`).

    Returns
    -------
    dict
        ``n_<level>``, ``events_<level>``, ``os_<level>``, ``os_<level>_lower``,
        ``os_<level>_upper`` (survival at ``time_months``, NaN when a group's follow-up
        ends before it), ``median_<level>`` with ``median_<level>_lower`` and
        ``median_<level>_upper`` (median survival, months, and its confidence limits as
        :func:`median_survival`; NaN where not reached), ``hr``, ``hr_lower``, ``hr_upper``, ``hr_p``,
        ``logrank_chisq``, ``logrank_p`` and ``note``: empty, or why a statistic is
        NaN (an empty group, no deaths at all, no deaths in one group, follow-up
        ending before ``time_months``).
    """
    time, event = _survival_data(os_months, os_event)
    group = np.asarray(group, dtype=object)
    if len(levels) != 2:
        raise InputError(f"compare_groups needs exactly two levels, got {levels!r}")
    reference, compared = levels
    out, notes = {}, []
    for level in levels:
        mask = group == level
        out[f"n_{level}"] = int(mask.sum())
        out[f"events_{level}"] = int(event[mask].sum())
        curve = kaplan_meier(time[mask], event[mask], conf_level=conf_level, conf_type=conf_type)
        at = survival_at(curve, [time_months]).iloc[0]
        out[f"os_{level}"] = float(at["surv"])
        out[f"os_{level}_lower"] = float(at["lower"])
        out[f"os_{level}_upper"] = float(at["upper"])
        median = median_survival(curve)
        out[f"median_{level}"], out[f"median_{level}_lower"], out[f"median_{level}_upper"] = median
        if not mask.any():
            notes.append(f"no patient in the {level} group")
        elif math.isnan(at["surv"]):
            notes.append(f"follow-up of the {level} group ends before {time_months:g} months")
    used = np.isin(group, list(levels))
    if out[f"n_{reference}"] and out[f"n_{compared}"]:
        if event[used].sum() == 0:
            notes.append("no deaths: no test and no hazard ratio")
        else:
            for level in levels:
                if out[f"events_{level}"] == 0:
                    notes.append(f"no deaths in the {level} group: hazard ratio not estimable")
    chisq, _, p = logrank(time[used], event[used], group[used])
    hr = hazard_ratio(time[used], event[used], group[used] == compared, conf_level=conf_level)
    if math.isnan(hr[0]) and all(out[f"events_{level}"] > 0 for level in levels):
        notes.append("monotone likelihood: hazard ratio not estimable (infinite)")
    out.update(hr=hr[0], hr_lower=hr[1], hr_upper=hr[2], hr_p=hr[3], logrank_chisq=chisq, logrank_p=p)
    out["note"] = "; ".join(notes)
    return out


# --------------------------------------------------------------------------- figures
@dataclass
class KMGroup:
    """One curve of a KM figure: a label, its patients' follow-up and deaths, a colour."""

    label: str
    os_months: np.ndarray
    os_event: np.ndarray
    color: str
    legend: str = ""  # text after the label in the legend (n, 3-year OS; "\n" starts a line under it)
    curve: pd.DataFrame = field(default=None, repr=False)


def time_ticks(max_months, step_months=12.0):
    """Ticks 0, step, 2 step, ... up to the first multiple of ``step`` >= ``max_months``."""
    step = float(step_months)
    if step <= 0:
        raise InputError(f"the time step must be > 0 months, got {step_months!r}")
    top = max(step, math.ceil(max(float(max_months), 0.0) / step - 1e-9) * step)
    return np.arange(0.0, top + step / 2, step)


def plot_km(curve, *, ax=None, color=None, label=None, conf_int=True, censor_marks=True):
    """Draw one Kaplan-Meier curve (step function from S(0) = 1) on ``ax``.

    Parameters
    ----------
    curve : pandas.DataFrame
        Output of :func:`kaplan_meier`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure's axes when None.
    color, label : str, optional
        Line colour and legend label.
    conf_int : bool, default True
        Shade the pointwise confidence band.
    censor_marks : bool, default True
        Mark censoring times with ``+`` on the curve.

    Notes
    -----
    The curve ends at the group's last observed time, as R's ``plot.survfit`` draws it.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        fig = new_figure(5, 4)
        ax = fig.add_subplot()
    if len(curve) == 0:
        return ax
    t = np.concatenate([[0.0], curve["time"].to_numpy(float)])
    s = np.concatenate([[1.0], curve["surv"].to_numpy(float)])
    (line,) = ax.step(t, s, where="post", color=color, label=label, linewidth=1.6, zorder=3)
    color = line.get_color()
    if conf_int:
        lower = np.concatenate([[1.0], curve["lower"].to_numpy(float)])
        upper = np.concatenate([[1.0], curve["upper"].to_numpy(float)])
        ok = np.isfinite(lower) & np.isfinite(upper)
        ax.fill_between(t[ok], lower[ok], upper[ok], step="post", color=color, alpha=0.15, linewidth=0, zorder=2)
    if censor_marks:
        censored = curve[curve["n_censor"] > 0]
        ax.plot(
            censored["time"],
            censored["surv"],
            linestyle="none",
            marker="+",
            markersize=5,
            markeredgewidth=1.0,
            color=color,
            zorder=4,
        )
    return ax


def plot_at_risk(groups, ticks, *, ax=None):
    """Table of numbers at risk under a KM plot: one row per group, one column per tick.

    Parameters
    ----------
    groups : list of KMGroup
        Rows, top to bottom; each row label in the group's colour.
    ticks : array_like of float
        Time points (months); the numbers sit centred on them, so an axes sharing its
        x-axis with the curves' axes puts each number under its tick.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure's axes when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        fig = new_figure(5, 0.3 + 0.22 * len(groups))
        ax = fig.add_subplot()
    ticks = np.asarray(ticks, dtype=float)
    n_rows = len(groups)
    for row, group in enumerate(groups):
        y = n_rows - 1 - row
        for t, n in zip(ticks, number_at_risk(group.os_months, ticks)):
            ax.text(t, y, str(int(n)), ha="center", va="center", color=group.color, clip_on=False)
    ax.set_ylim(-0.6, n_rows - 0.4)
    ax.set_yticks(np.arange(n_rows)[::-1], [g.label for g in groups])
    for label, group in zip(ax.get_yticklabels(), groups):
        label.set_color(group.color)
    # the numbers are centred on their ticks: keep the row labels clear of those at t = 0
    ax.tick_params(axis="y", length=0, pad=18)
    ax.tick_params(axis="x", length=0, labelbottom=False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title("Number at risk", loc="left", fontsize=9, fontweight="bold", pad=4)
    return ax


#: Layout of one KM panel, inches.
PANEL_WIDTH = 5.8
MARGIN_LEFT = 1.3
MARGIN_RIGHT = 0.25
HEADER_INDENT = 0.3  # legend and result lines start here, left of the axes, for room
TITLE_H = 0.32
LINE_H = 0.2
PLOT_H = 3.0
XLABEL_H = 0.5
RISK_TITLE_H = 0.28
RISK_ROW_H = 0.2
BOTTOM_H = 0.12


HEADER_CHARS = 78  # result lines wrap at this many characters to stay inside the panel


def wrap_lines(lines, width=HEADER_CHARS):
    """Header lines wrapped to ``width`` characters (continuations indented); blank lines kept."""
    wrapped = []
    for line in lines:
        wrapped += textwrap.wrap(line, width=width, subsequent_indent="   ", break_on_hyphens=False) or [""]
    return wrapped


def legend_line_count(groups) -> int:
    """Lines the legend of ``groups`` takes: one per group, more where its text has line breaks."""
    return sum(1 + group.legend.count("\n") for group in groups)


def panel_height(n_groups, lines, *, legend_lines=None):
    """Height (inches) of a KM panel with ``n_groups`` curves and these header lines.

    ``legend_lines`` (default ``n_groups``) is :func:`legend_line_count` of the groups.
    """
    return (
        TITLE_H
        + LINE_H * ((n_groups if legend_lines is None else legend_lines) + len(wrap_lines(lines)))
        + 0.12
        + PLOT_H
        + XLABEL_H
        + RISK_TITLE_H
        + RISK_ROW_H * n_groups
        + BOTTOM_H
    )


def draw_km_panel(
    fig,
    origin,
    groups,
    *,
    title="",
    lines=(),
    step_months=12.0,
    max_months=None,
    conf_level=0.95,
    conf_type="log",
    xlabel="Time (months)",
    ylabel="Overall survival probability",
):
    """One KM panel: title, legend, result lines, curves and the table at risk.

    The header sits above the plot, so nothing covers the curves; the table at risk is
    an axes sharing the curves' x-axis, so its numbers sit under the time ticks.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Figure to draw on; its size (inches) fixes the layout.
    origin : (float, float)
        Lower-left corner of the panel (inches from the figure's lower-left corner).
    groups : list of KMGroup
        Curves, in legend and table order.
    title : str
        Panel title (bold).
    lines : sequence of str
        Text lines under the legend (test results), wrapped by :func:`wrap_lines`.
    step_months : float, default 12
        Spacing of the time ticks (months).
    max_months : float, optional
        Right end of the time axis (months); the longest follow-up when None.
    conf_level, conf_type
        Confidence band of each curve (see :func:`kaplan_meier`).

    Returns
    -------
    (matplotlib.axes.Axes, matplotlib.axes.Axes)
        Axes of the curves and of the table at risk.
    """
    from matplotlib.lines import Line2D

    fw, fh = fig.get_size_inches()
    x0, y0 = origin
    n_groups, lines = len(groups), wrap_lines(lines)
    height = panel_height(n_groups, lines, legend_lines=legend_line_count(groups))
    top = y0 + height

    if max_months is None:
        longest = [float(np.max(g.os_months)) for g in groups if len(g.os_months)]
        max_months = max(longest) if longest else step_months
    ticks = time_ticks(max_months, step_months)

    plot_w = PANEL_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    risk_h = RISK_ROW_H * n_groups
    risk_bottom = y0 + BOTTOM_H
    plot_bottom = risk_bottom + risk_h + RISK_TITLE_H + XLABEL_H
    ax = fig.add_axes([(x0 + MARGIN_LEFT) / fw, plot_bottom / fh, plot_w / fw, PLOT_H / fh])
    ax_risk = fig.add_axes([(x0 + MARGIN_LEFT) / fw, risk_bottom / fh, plot_w / fw, risk_h / fh], sharex=ax)

    for group in groups:
        curve = group.curve
        if curve is None:
            curve = kaplan_meier(group.os_months, group.os_event, conf_level=conf_level, conf_type=conf_type)
        plot_km(curve, ax=ax, color=group.color, label=group.label)
    ax.set_xlim(ticks[0], ticks[-1])
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.set_ylim(-0.02, 1.02)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, color="0.9", linewidth=0.6, zorder=0)
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    plot_at_risk(groups, ticks, ax=ax_risk)
    ax.tick_params(axis="x", labelbottom=True)

    # header: title, one legend line per group, then the result lines
    left = (x0 + HEADER_INDENT) / fw
    y = top - 0.06
    if title:
        fig.text((x0 + 0.12) / fw, y / fh, title, ha="left", va="top", fontsize=10.5, fontweight="bold")
    y -= TITLE_H
    for group in groups:
        mid = (y - LINE_H / 2) / fh
        fig.add_artist(
            Line2D([left, left + 0.3 / fw], [mid, mid], color=group.color, linewidth=2.0, transform=fig.transFigure)
        )
        first, *more = group.legend.split("\n")
        fig.text(left + 0.38 / fw, mid, group.label + (f"  {first}" if first else ""), ha="left", va="center")
        y -= LINE_H
        for line in more:  # continuation lines of the legend, under its text
            fig.text(left + 0.38 / fw, (y - LINE_H / 2) / fh, line, ha="left", va="center")
            y -= LINE_H
    for line in lines:
        fig.text(left, (y - LINE_H / 2) / fh, line, ha="left", va="center")
        y -= LINE_H
    return ax, ax_risk


# --------------------------------------------------------------------------- risk groups
def compare_risk_groups(frame, *, time_months=36.0, conf_level=0.95, conf_type="log") -> dict:
    """:func:`compare_groups` of the high- and low-risk patients of ``frame`` (high vs low).

    ``frame`` holds ``os_months``, ``os_event`` and ``risk_group`` (low/high).
    """
    return compare_groups(
        frame[OS_MONTHS],
        frame[OS_EVENT],
        frame[RISK_GROUP],
        levels=RISK_LEVELS,
        time_months=time_months,
        conf_level=conf_level,
        conf_type=conf_type,
    )


def group_legend(result, level, time_months):
    return (
        f"n = {result[f'n_{level}']}, deaths {result[f'events_{level}']}; {horizon_text(time_months)} OS "
        + format_survival(result[f"os_{level}"], result[f"os_{level}_lower"], result[f"os_{level}_upper"])
        + "\n"
        + format_median(result[f"median_{level}"], result[f"median_{level}_lower"], result[f"median_{level}_upper"])
    )


def risk_group_curves(frame, result, time_months):
    return [
        KMGroup(
            RISK_LABELS[level],
            frame.loc[frame[RISK_GROUP] == level, OS_MONTHS].to_numpy(float),
            frame.loc[frame[RISK_GROUP] == level, OS_EVENT].to_numpy(int),
            RISK_GROUP_COLOURS[level],
            legend=group_legend(result, level, time_months),
        )
        for level in RISK_LEVELS
    ]


def comparison_line(result, conf_level, what="High vs low risk"):
    return (
        f"{what}: {format_hr(result['hr'], result['hr_lower'], result['hr_upper'], confidence=conf_level)}; "
        f"log-rank {format_p(result['logrank_p'])}"
    )


# --------------------------------------------------------------------------- Fig. 3
def km_risk_figure(
    groups,
    cutoff_row,
    split,
    *,
    nomogram=None,
    title=None,
    time_months=36.0,
    conf_level=0.95,
    conf_type="log",
    step_months=12.0,
    cutoff_text=None,
):
    """Kaplan-Meier curves of the two risk groups in one split (Fig. 3 A-F).

    Header: legend with n, deaths, survival at ``time_months`` (CI) and median survival
    (CI) per group; the
    hazard ratio (high vs low, Cox) and log-rank p; the cut-off (``cutoff_text`` replaces
    its line). Under the plot: the
    numbers at risk at each time tick. The title names the nomogram
    (:func:`survsig.core.vocabulary.nomogram_title`) or, when given, ``title``. Returns the
    figure (save with :func:`survsig.core.figures.save_figure`).
    """
    part = groups[groups[SPLIT] == split]
    result = compare_risk_groups(part, time_months=time_months, conf_level=conf_level, conf_type=conf_type)
    lines = [
        comparison_line(result, conf_level),
        cutoff_text or f"Cut-off learned on the training set: high risk = lp > {cutoff_row['cutoff']:.4g}",
    ]
    if result["note"]:
        lines.append(f"Note: {result['note']}")
    title = f"{title or nomogram_title(nomogram)}, {SPLIT_TITLES[split]}"
    max_months = float(groups[OS_MONTHS].max())
    km_groups = risk_group_curves(part, result, time_months)
    with style("km"):
        fig = new_figure(PANEL_WIDTH, panel_height(2, lines, legend_lines=legend_line_count(km_groups)))
        draw_km_panel(
            fig,
            (0, 0),
            km_groups,
            title=title,
            lines=lines,
            step_months=step_months,
            max_months=max_months,
            conf_level=conf_level,
            conf_type=conf_type,
        )
    return fig
