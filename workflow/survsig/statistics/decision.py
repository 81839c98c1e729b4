"""Decision curve analysis of the nomograms at the evaluation horizon.

:func:`decision_curve` gives the net benefit of treating the patients whose predicted risk
of death by the horizon is at least a threshold probability ``pt``, for each nomogram and
for the two reference strategies, treat all and treat none. The computation is that of
``dcurves.dca`` (the Python port of Vickers' decision curve analysis, version 1.1.7) for a
time-to-event outcome:

    NB(pt) = (1 - S(h | risk >= pt)) P(risk >= pt) - S(h | risk >= pt) P(risk >= pt) pt / (1 - pt)

with S(h | risk >= pt) the Kaplan-Meier survival at the horizon h of the test-positive
patients. Treat all takes every patient as test positive; treat none has net benefit 0.
The risks are used as given: ``dca`` is called without ``models_to_prob``, so it fits no
Cox model on them.

``dcurves`` leaves the net benefit missing where the test-positive patients' follow-up
ends before the horizon. When their Kaplan-Meier curve has fallen to 0 by then (all of
them, down to the last one followed, died), their survival at the horizon is 0 and the
net benefit is the test-positive rate; :func:`decision_curve` fills those rows (a perfect
predictor's test positives are exactly such a group). Where the last one followed was
censored before the horizon the survival there is unknown and the row stays NaN.

Times are in months.
"""

from __future__ import annotations

import logging
import math

import matplotlib
import numpy as np
import pandas as pd

from survsig.core.errors import InputError
from survsig.core.figures import new_figure, style
from survsig.core.vocabulary import horizon_span, nomogram_label
from survsig.survival.checks import survival_arrays

#: Columns of :func:`decision_curve`, as ``dcurves.dca`` names them, and the horizon.
COLUMNS = ["model", "threshold", "net_benefit", "test_pos_rate", "tp_rate", "fp_rate", "horizon_months"]
#: The reference strategies, named as ``dcurves`` names them.
REFERENCES = ("all", "none")
_TIME, _EVENT = "_dca_time", "_dca_event"

log = logging.getLogger(__name__)


def threshold_grid(spec) -> np.ndarray:
    """Threshold probabilities from the config's ``{from, to, by}``.

    Parameters
    ----------
    spec : dict
        ``from`` (first threshold), ``to`` (last, included when the steps land on it
        within 1e-9) and ``by`` (step).

    Returns
    -------
    numpy.ndarray
        ``from, from + by, ...``, rounded to 10 decimals so that 0.07 reads 0.07.
    """
    start, stop, step = (float(spec[key]) for key in ("from", "to", "by"))
    if not (step > 0 and stop >= start):
        raise InputError(
            f"decision thresholds need `to` >= `from` and by > 0; got from {start:g}, to {stop:g}, by {step:g}",
            column="evaluate.decision_thresholds",
        )
    count = math.floor((stop - start) / step + 1e-9) + 1
    return np.round(start + step * np.arange(count), 10)


def _patient_ids(values, n):
    """Patient ids of a pandas Series' index of length ``n``, else None."""
    if isinstance(values, pd.Series) and len(values) == n:
        return [str(v) for v in values.index]
    return None


def _check_thresholds(thresholds) -> np.ndarray:
    pts = np.asarray(thresholds, dtype=float)
    if pts.ndim != 1 or pts.size == 0:
        raise InputError("decision thresholds must be a non-empty list of probabilities")
    bad = ~(np.isfinite(pts) & (pts > 0) & (pts < 1))
    if bad.any():
        raise InputError(
            f"decision threshold {float(pts[bad][0])!r} is not strictly between 0 and 1 "
            "(net benefit divides by 1 - threshold)"
        )
    if (np.diff(pts) <= 0).any():
        raise InputError("decision thresholds must be strictly increasing")
    return pts


def _check_risks(risks: dict, n: int, patients, horizon: float) -> dict:
    if not risks:
        raise InputError("no model to evaluate: the risks are empty")
    checked = {}
    for name, values in risks.items():
        if name in REFERENCES or name in (_TIME, _EVENT):
            raise InputError(
                f"a model may not be named {name!r}: the name is reserved ('all' and 'none' are the "
                "reference strategies)",
                column=name,
            )
        r = np.asarray(values, dtype=float)
        if r.shape != (n,):
            raise InputError(f"{r.size} predicted risks for {n} patients", column=name)
        bad = ~(np.isfinite(r) & (r >= 0) & (r <= 1))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            ids = _patient_ids(values, n) or patients
            where = "" if ids is not None else f" (patient {i + 1} of {n})"
            raise InputError(
                f"predicted risk of death by {horizon:g} months is {float(r[i])!r}, not a probability in [0, 1]{where}",
                patient=None if ids is None else ids[i],
                column=name,
            )
        checked[name] = r
    return checked


def _risk_rate_to_zero(time, event, positive) -> bool:
    """Whether the Kaplan-Meier curve of the ``positive`` patients falls to 0."""
    t, e = time[positive], event[positive]
    last = t.max()
    # KM reaches 0 exactly when every patient at risk at the last time dies then
    return bool((e[t == last] == 1).all())


def decision_curve(time, event, risks: dict, *, horizon, thresholds) -> pd.DataFrame:
    """Net benefit of each model, treat all and treat none at the horizon (``dcurves.dca``).

    Parameters
    ----------
    time, event : array_like
        Survival time (months) and event (1 = death). A pandas Series' index is taken
        as the patient ids of error messages.
    risks : dict
        Model name -> predicted risk of death by the horizon per patient,
        1 - S(horizon | patient), each in [0, 1]; in the order of ``time``.
    horizon : float
        Months.
    thresholds : array_like
        Threshold probabilities, strictly increasing, each strictly between 0 and 1.

    Returns
    -------
    pandas.DataFrame
        Long form, one row per model and threshold: ``model`` (the models in the order
        given, then ``all`` and ``none``), ``threshold``, ``net_benefit``,
        ``test_pos_rate`` (share of patients with risk >= threshold), ``tp_rate`` and
        ``fp_rate`` (shares of all patients who are test positive and die, resp. survive,
        by the horizon, from the test positives' Kaplan-Meier survival), ``horizon_months``.
        ``net_benefit = tp_rate - fp_rate * threshold / (1 - threshold)``.

    Raises
    ------
    InputError
        Bad survival data, a risk that is NaN or outside [0, 1], a threshold not strictly
        inside (0, 1), no death by the horizon, or no follow-up reaching it.
    """
    import dcurves  # imports statsmodels (~2 s): only jobs that draw decision curves pay it

    patients = _patient_ids(time, len(time))
    time, event = survival_arrays(time, event)
    horizon = float(horizon)
    if not (math.isfinite(horizon) and horizon > 0):
        raise InputError(f"the horizon must be a positive number of months, got {horizon!r}")
    if (time < 0).any():
        i = int(np.flatnonzero(time < 0)[0])
        raise InputError(
            f"negative survival time {time[i]:g}", patient=None if patients is None else patients[i], column="os_months"
        )
    pts = _check_thresholds(thresholds)
    checked = _check_risks(risks, len(time), patients, horizon)
    if not ((event == 1) & (time <= horizon)).any():
        raise InputError(
            f"no death by the horizon ({horizon:g} months) among {len(time)} patients: "
            "the net benefit of treating is not defined",
            column="os_event",
        )
    if time.max() < horizon:
        raise InputError(
            f"follow-up ends at {time.max():g} months, before the horizon ({horizon:g} months)", column="os_months"
        )

    names = list(checked)
    data = pd.DataFrame({_TIME: time, _EVENT: event, **checked})
    result = dcurves.dca(
        data=data, outcome=_EVENT, modelnames=names, thresholds=list(pts), time=horizon, time_to_outcome_col=_TIME
    )
    result = result[["model", "threshold", "net_benefit", "test_pos_rate", "tp_rate", "fp_rate"]].copy()
    for column in ("net_benefit", "test_pos_rate", "tp_rate", "fp_rate"):
        result[column] = pd.to_numeric(result[column], errors="coerce").astype(float)

    # dcurves' gap: test positives all dead before the horizon (see the module docstring)
    for i in np.flatnonzero(result["net_benefit"].isna().to_numpy()):
        row = result.iloc[i]
        if row["model"] in REFERENCES:
            continue
        positive = (data[row["model"]] >= row["threshold"]).to_numpy()
        if positive.any() and _risk_rate_to_zero(time, event, positive):
            rate = positive.mean()
            result.iloc[i, result.columns.get_indexer(["net_benefit", "test_pos_rate", "tp_rate", "fp_rate"])] = (
                rate,
                rate,
                rate,
                0.0,
            )

    for name, gaps in result.groupby("model", sort=False)["net_benefit"]:
        if gaps.isna().any():
            log.info(
                "%s: net benefit unknown at %d of %d thresholds (test positives' follow-up ends, censored, "
                "before %g months)",
                name,
                gaps.isna().sum(),
                len(pts),
                horizon,
            )
    order = {name: k for k, name in enumerate([*names, *REFERENCES])}
    result = result.sort_values(
        ["model", "threshold"], key=lambda s: s.map(order) if s.name == "model" else s, kind="stable"
    ).reset_index(drop=True)
    result["horizon_months"] = horizon
    return result[COLUMNS]


def plot_decision_curve(table: pd.DataFrame, ax=None, *, title=None):
    """Net benefit against threshold probability: the models, treat all, treat none.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`decision_curve`'s table (one horizon).
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    The y axis runs from a little below 0 to a little above the largest net benefit, as
    R's ``dcurves`` plots do, so treat all's steep fall at high thresholds is cut off.
    """
    if ax is None:
        ax = new_figure(8.5, 5).add_subplot()
    horizon = float(table["horizon_months"].iloc[0])
    palette = matplotlib.colormaps["tab10"]
    models = [m for m in dict.fromkeys(table["model"]) if m not in REFERENCES]
    for k, name in enumerate(models):
        part = table[table["model"] == name]
        ax.plot(
            part["threshold"],
            part["net_benefit"],
            color=palette(k % 10),
            linewidth=1.8 if name == "integrated" else 1.1,
            label=nomogram_label(name),
        )
    treat_all = table[table["model"] == "all"]
    ax.plot(treat_all["threshold"], treat_all["net_benefit"], color="0.35", linewidth=1.0, label="Treat all")
    treat_none = table[table["model"] == "none"]
    ax.plot(
        treat_none["threshold"],
        treat_none["net_benefit"],
        color="0.35",
        linestyle="--",
        linewidth=1.0,
        label="Treat none",
    )
    top = max(float(np.nanmax(table["net_benefit"].to_numpy(dtype=float))), 0.01)
    ax.set_ylim(-0.1 * top, 1.08 * top)
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"Threshold probability of death by {horizon_span(horizon)}")
    ax.set_ylabel("Net benefit")
    ax.grid(True, color="0.92", linewidth=0.6)
    # beside the axes: curves of small sets jump about and a legend inside would hide them
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, fontsize=8, frameon=False)
    if title:
        ax.set_title(title, fontsize=11)
    return ax


def decision_curve_figure(table, *, title):
    """:func:`plot_decision_curve` on a figure of its own (:class:`matplotlib.figure.Figure`)."""
    with style():
        fig = new_figure(8.5, 5)
        plot_decision_curve(table, ax=fig.add_subplot(), title=title)
        fig.tight_layout()
    return fig
