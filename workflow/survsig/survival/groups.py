"""Two groups of patients compared: survival, log-rank test and hazard ratio.

:func:`compare_groups`: numbers at risk and deaths per group, survival at a time
point with its CI, median survival, the log-rank test (:func:`logrank`, with
:func:`lifelines.statistics.logrank_test`, equal to R's ``survdiff``) and the hazard
ratio of one group against the other (:func:`hazard_ratio`) from a Cox model on the
group indicator (:func:`survsig.survival.cox.fit_cox`, Efron ties and Wald CI, as R's
``coxph``). :func:`compare_risk_groups` compares the high- and low-risk patients.

Kaplan-Meier curves come from :mod:`survsig.survival.km`. Times are in months throughout;
survival probabilities are fractions in [0, 1].
"""

from __future__ import annotations

import math

import numpy as np

from survsig.core.columns import OS_EVENT, OS_MONTHS, RISK_GROUP, RISK_LEVELS
from survsig.core.errors import InputError
from survsig.survival.cox import fit_cox
from survsig.survival.km import kaplan_meier, median_survival, survival_at, survival_data


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

    time, event = survival_data(os_months, os_event)
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
    time, event = survival_data(os_months, os_event)
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
        Confidence intervals (see :func:`~survsig.survival.km.kaplan_meier`).

    Returns
    -------
    dict
        ``n_<level>``, ``events_<level>``, ``os_<level>``, ``os_<level>_lower``,
        ``os_<level>_upper`` (survival at ``time_months``, NaN when a group's follow-up
        ends before it), ``median_<level>`` with ``median_<level>_lower`` and
        ``median_<level>_upper`` (median survival, months, and its confidence limits as
        :func:`~survsig.survival.km.median_survival`; NaN where not reached), ``hr``, ``hr_lower``,
        ``hr_upper``, ``hr_p``,
        ``logrank_chisq``, ``logrank_p`` and ``note``: empty, or why a statistic is
        NaN (an empty group, no deaths at all, no deaths in one group, follow-up
        ending before ``time_months``).
    """
    time, event = survival_data(os_months, os_event)
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
