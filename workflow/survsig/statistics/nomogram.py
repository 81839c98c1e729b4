"""Cox nomograms: the fitted model that scores patients, and its JSON file.

The study's nomograms are Cox proportional hazards models (R ``coxph``/``rms::cph``,
Efron ties) drawn as ``rms`` nomograms. :class:`CoxNomogram` is fitted with
:func:`~survsig.survival.cox.fit_cox` (Efron or Breslow ties; coefficients, standard
errors, log-likelihood and AIC agree with R's ``coxph`` to 1e-9 on R's ``lung`` data,
tests/statistics/test_nomogram.py); it gives each patient's linear predictor, survival
and points (its points scale follows ``rms``'s ``nomogram()``,
:func:`~survsig.statistics.axes.points_scale`) and saves itself as JSON
(:data:`JSON_FORMAT`), every key of which :meth:`CoxNomogram.load` checks before use.

Times are in months. Sign convention: a higher linear predictor means a higher hazard.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from survsig.core import columns as col
from survsig.core.errors import InputError
from survsig.core.io import atomic_path
from survsig.core.jsonkeys import JsonKeys, json_type, read_json, show
from survsig.statistics.axes import axis_values, points_scale
from survsig.statistics.terms import Term, design_matrix, term_for
from survsig.survival.cox import TIES, CoxFit, baseline_cumulative_hazard, fit_cox, linear_predictor

#: Version tag written into every nomogram JSON file.
JSON_FORMAT = "survsig-cox-nomogram/1"

#: How far beyond its training range a continuous value may lie, in widths of that
#: range, before scoring refuses it rather than flags it
#: (:func:`~survsig.statistics.scoring.accepted_range`): a value one width beyond either
#: end already scores up to twice the term's span of points.
EXTRAPOLATION_WIDTHS = 1.0

#: Largest linear predictor, in absolute value, a nomogram file may give any patient it
#: scores (every value of :data:`EXTRAPOLATION_WIDTHS`' widened training ranges, 0 and 1
#: of a binary term): 100, a hazard ratio of e^100 (about 3e43) against the average
#: patient. Fitted Cox models stay within a few units (the study's within +-5); the bound
#: keeps every lp, exp(lp) (which overflows past 709) and survival finite, so a file with
#: a coefficient of 1e308 is refused instead of scoring lp = inf and survival 0 or 1.
MAX_ABS_LP = 100.0

#: Most patients (``n``) a nomogram file may count: a billion, more than any cohort. With
#: :data:`MAX_ABS_LP` it bounds the baseline cumulative hazard: each death adds at most
#: exp(MAX_ABS_LP) to it (Breslow's 1 / the sum of the risk set's exp(lp)).
MAX_PATIENTS = 10**9


# --------------------------------------------------------------------------- nomogram
@dataclass
class CoxNomogram:
    """A Cox proportional hazards nomogram that scores new patients.

    Parameters
    ----------
    terms : sequence of Term or str
        Model terms (names are looked up with :func:`~survsig.statistics.terms.term_for`).
    ties : {"efron", "breslow"}, default "efron"
    survival_times : sequence of float, default (12, 36, 60)
        Times (months) of the survival axes and of ``baseline_survival_``.
    name : str, optional
        Name of the nomogram ("integrated").
    confidence : float, default 0.95

    Attributes
    ----------
    coef_, se_ : pandas.Series
        Log hazard ratio per unit of each term and its standard error.
    means_ : pandas.Series
        Training means of the terms; the linear predictor is centred at them.
    baseline_times_, baseline_cumhaz_ : numpy.ndarray
        Death times (months) and the baseline cumulative hazard (at the means).
    max_followup_months_ : float
        Longest follow-up of the training data: the baseline hazard is unknown after
        it, so survival there is NaN (:meth:`cumulative_hazard`).
    baseline_survival_ : dict
        ``survival_times`` -> baseline survival there (NaN after the follow-up).
    loglik_, loglik_null_, aic_ : float
    n_, events_ : int
    lp_range_ : tuple of float
        Range of the training set's linear predictor.
    training_range_ : dict
        Continuous term -> (lowest, highest) training value; new patients outside it
        are flagged, far outside it refused
        (:func:`~survsig.statistics.scoring.score_new_patients`).
    scale_ : dict
        :func:`~survsig.statistics.axes.points_scale` of the nomogram.
    """

    terms: list
    ties: str = "efron"
    survival_times: tuple = (12.0, 36.0, 60.0)
    name: str = ""
    confidence: float = 0.95
    notes: list = field(default_factory=list)

    def __post_init__(self):
        self.terms = [t if isinstance(t, Term) else term_for(t) for t in self.terms]
        if not self.terms:
            raise InputError(f"nomogram {self.name!r} has no terms")
        if self.ties not in TIES:
            raise InputError(f"ties must be one of {', '.join(TIES)}, got {self.ties!r}")
        self.survival_times = tuple(float(t) for t in self.survival_times)

    @property
    def term_names(self) -> list:
        return [t.name for t in self.terms]

    def fit(self, frame: pd.DataFrame, *, what="the training set") -> CoxNomogram:
        """Fit on ``frame`` (``os_months``, ``os_event`` and the terms' columns); returns self."""
        X = design_matrix(frame, self.terms)
        time = frame[col.OS_MONTHS].to_numpy(dtype=float)
        event = frame[col.OS_EVENT].to_numpy(dtype=int)
        fit = fit_cox(time, event, X, ties=self.ties, what=what)
        if not fit.converged:
            raise InputError(
                f"the Cox model of nomogram {self.name!r} did not converge on {what}: "
                "a term separates deaths from survivors (infinite hazard ratio)"
            )
        self.coef_ = pd.Series(fit.coef, index=self.term_names)
        self.se_ = pd.Series(fit.se, index=self.term_names)
        self.cov_ = pd.DataFrame(fit.cov, index=self.term_names, columns=self.term_names)
        self.means_ = pd.Series(fit.means, index=self.term_names)
        self.loglik_, self.loglik_null_, self.aic_ = fit.loglik, fit.loglik_null, fit.aic
        self.n_, self.events_ = fit.n, fit.events
        lp = linear_predictor(X.to_numpy(), fit.coef, fit.means)
        self.baseline_times_, self.baseline_cumhaz_ = baseline_cumulative_hazard(time, event, lp, ties=self.ties)
        self.max_followup_months_ = float(time.max())
        self.baseline_survival_ = {t: float(np.exp(-self.cumulative_hazard(t))) for t in self.survival_times}
        self.lp_range_ = (float(lp.min()), float(lp.max()))
        self.training_range_ = {
            t.name: (float(X[t.name].min()), float(X[t.name].max())) for t in self.terms if t.kind == "continuous"
        }
        values = {t.name: axis_values(X[t.name], kind=t.kind) for t in self.terms}
        self.scale_ = points_scale(
            self.coef_.to_dict(), values, center=float(fit.means @ fit.coef), lp_range=self.lp_range_
        )
        return self

    def _check_fitted(self):
        if not hasattr(self, "coef_"):
            raise RuntimeError("the nomogram is not fitted; call fit() or load() first")

    def _cumhaz(self, t):
        """The baseline step function as estimated: 0 before the first death, its last
        value after the last one (at any time; :meth:`cumulative_hazard` stops at the
        follow-up)."""
        i = np.searchsorted(self.baseline_times_, np.asarray(t, dtype=float), side="right")
        return np.r_[0.0, self.baseline_cumhaz_][i]

    def cumulative_hazard(self, times) -> np.ndarray:
        """Baseline cumulative hazard at ``times`` (months); NaN after the training follow-up.

        The estimate is a step function that is known up to the longest follow-up of
        the training data (``max_followup_months_``): later deaths were never observed,
        so the hazard there is unknown, not constant, and those times get NaN (as R's
        ``summary(survfit(...), times, extend = FALSE)`` leaves them out).
        """
        self._check_fitted()
        times = np.asarray(times, dtype=float)
        return np.where(times > self.max_followup_months_, np.nan, self._cumhaz(times))

    def predict_lp(self, frame: pd.DataFrame, *, file=None) -> np.ndarray:
        """Linear predictor ``(x - means) . coef`` of each patient (higher = higher risk)."""
        self._check_fitted()
        X = design_matrix(frame, self.terms, file=file)
        return linear_predictor(X.to_numpy(), self.coef_.to_numpy(), self.means_.to_numpy())

    def predict_survival(self, frame: pd.DataFrame, times, *, file=None) -> np.ndarray:
        """Survival probability of each patient (rows) at ``times`` (columns, months).

        ``S(t | x) = exp(-H0(t) exp(lp))`` with the baseline of
        :func:`baseline_cumulative_hazard` (R's ``survfit.coxph``); NaN at times after
        the training follow-up (:meth:`cumulative_hazard`).
        """
        lp = self.predict_lp(frame, file=file)
        return survival_from_lp(lp, self.cumulative_hazard(np.atleast_1d(times)))

    def survival_at(self, lp, t) -> np.ndarray:
        """Survival at time ``t`` (months) for linear predictor values ``lp``.

        Reads the baseline step function as estimated, also after the training
        follow-up, where it keeps its last value (the calibration's horizon reads it so);
        :meth:`predict_survival` and :func:`~survsig.statistics.scoring.score_new_patients`
        give NaN there.
        """
        self._check_fitted()
        return np.exp(-float(self._cumhaz(t)) * np.exp(np.asarray(lp, dtype=float)))

    def points(self, frame: pd.DataFrame, *, file=None) -> pd.DataFrame:
        """Nomogram points of each term, total points and the linear predictor per patient."""
        self._check_fitted()
        X = design_matrix(frame, self.terms, file=file)
        sc = self.scale_["sc"]
        out = pd.DataFrame(index=frame.index)
        if col.PATIENT_ID in frame.columns:
            out[col.PATIENT_ID] = frame[col.PATIENT_ID].to_numpy()
        for name in self.term_names:
            low = min(self.scale_["axes"][name]["xbeta"])
            out[f"points_{name}"] = (self.coef_[name] * X[name].to_numpy() - low) * sc
        out["total_points"] = out[[f"points_{n}" for n in self.term_names]].sum(axis=1)
        out["lp"] = self.scale_["intercept"] + out["total_points"] / sc
        return out

    def summary(self) -> pd.DataFrame:
        """Per term: coefficient, SE, HR with its Wald CI, p."""
        self._check_fitted()
        fit = CoxFit(
            self.term_names,
            self.coef_.to_numpy(),
            self.se_.to_numpy(),
            self.cov_.to_numpy(),
            self.loglik_,
            self.loglik_null_,
            self.aic_,
            self.n_,
            self.events_,
            self.means_.to_numpy(),
        )
        table = fit.summary(confidence=self.confidence)
        table.insert(1, "label", [t.label for t in self.terms])
        return table

    # ---------------------------------------------------------------- JSON
    def to_dict(self) -> dict:
        """The nomogram as JSON-ready data (keys in fixed order; NaN survival as null)."""
        self._check_fitted()
        return {
            "format": JSON_FORMAT,
            "name": self.name,
            "ties": self.ties,
            "time_unit": "months",
            "confidence": self.confidence,
            "terms": [t.to_dict() for t in self.terms],
            "coef": self.coef_.to_dict(),
            "se": self.se_.to_dict(),
            "cov": self.cov_.to_numpy().tolist(),
            "means": self.means_.to_dict(),
            "n": self.n_,
            "events": self.events_,
            "loglik": self.loglik_,
            "loglik_null": self.loglik_null_,
            "aic": self.aic_,
            "lp_range": list(self.lp_range_),
            "training_range": {name: list(bounds) for name, bounds in self.training_range_.items()},
            "max_followup_months": self.max_followup_months_,
            "survival_times": list(self.survival_times),
            # unknown after the follow-up: null, as JSON has no NaN
            "baseline_survival": {
                f"{t:g}": s if math.isfinite(s) else None for t, s in self.baseline_survival_.items()
            },
            "baseline": {"times": self.baseline_times_.tolist(), "cumhaz": self.baseline_cumhaz_.tolist()},
            "points_scale": self.scale_,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data, *, file=None) -> CoxNomogram:
        """The nomogram of :meth:`to_dict`'s data, every key checked before it is used.

        Files written before ``training_range`` and ``max_followup_months`` were saved
        get each continuous term's axis range and the last baseline death time instead.

        Parameters
        ----------
        data : dict
        file : str, optional
            The file the data came from, named in error messages.

        Raises
        ------
        InputError
            Naming the file and the key (``coef.age``, ``baseline.times[3]``): a missing
            key or one of the wrong type; an unknown term kind or a binary term without
            its labels; coefficients, means or standard errors missing, extra or not
            finite; a baseline whose times are negative or not strictly increasing, or
            whose cumulative hazard is negative, decreasing, not finite or above
            ``events`` x exp(:data:`MAX_ABS_LP`); a baseline survival outside [0, 1] or
            not the baseline's; a points scale missing, not finite or not the
            coefficients'; coefficients, means and training ranges that give a patient
            scoring accepts a linear predictor beyond +-:data:`MAX_ABS_LP`, or points
            that are not finite (:func:`_check_scored_lp`).
        """
        keys = JsonKeys(file, kind="nomogram")
        if not isinstance(data, dict):
            raise InputError(f"not a survsig nomogram file: the JSON holds {json_type(data)}, not an object", file=file)
        if data.get("format") != JSON_FORMAT:
            raise InputError(
                f"not a survsig nomogram file (format {data.get('format')!r}, expected {JSON_FORMAT})", file=file
            )
        terms = [
            Term.from_dict(t, key=f"terms[{i}]", file=file)
            for i, t in enumerate(keys.array(keys.get(data, "terms"), "terms"))
        ]
        names = [t.name for t in terms]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise keys.error(f"terms[{i}].name", f"repeats the term {name!r}")
        ties = keys.text(keys.get(data, "ties"), "ties")
        if ties not in TIES:
            raise keys.error("ties", f"must be one of {', '.join(TIES)}, got {ties!r}")
        if data.get("time_unit", "months") != "months":
            raise keys.error("time_unit", f'must be "months", got {show(data["time_unit"])}')
        survival_times = keys.numbers(keys.get(data, "survival_times"), "survival_times", above=0)
        if len(set(survival_times)) < len(survival_times):
            raise keys.error("survival_times", f"repeats a time: {show(survival_times.tolist())}")
        model = cls(
            terms,
            ties=ties,
            survival_times=tuple(survival_times),
            name=keys.text(data.get("name", ""), "name"),
            confidence=keys.number(data.get("confidence", 0.95), "confidence", above=0, below=1),
            notes=list(keys.texts(data.get("notes", []), "notes", min_length=0)),
        )

        model.coef_ = keys.per_term(data, "coef", names)
        model.se_ = keys.per_term(data, "se", names, low=0)
        model.means_ = keys.per_term(data, "means", names)
        rows = keys.array(keys.get(data, "cov"), "cov", length=len(names))
        model.cov_ = pd.DataFrame(
            [keys.numbers(r, f"cov[{i}]", length=len(names)) for i, r in enumerate(rows)], index=names, columns=names
        )
        model.n_ = keys.number(keys.get(data, "n"), "n", low=1, high=MAX_PATIENTS, integer=True)
        model.events_ = keys.number(keys.get(data, "events"), "events", low=1, high=model.n_, integer=True)
        model.loglik_, model.loglik_null_, model.aic_ = (
            keys.number(keys.get(data, k), k) for k in ("loglik", "loglik_null", "aic")
        )
        lp_range = keys.numbers(keys.get(data, "lp_range"), "lp_range", length=2, low=-MAX_ABS_LP, high=MAX_ABS_LP)
        if lp_range[0] > lp_range[1]:
            raise keys.error("lp_range", f"must be [lowest, highest], got {show(lp_range.tolist())}")
        model.lp_range_ = (float(lp_range[0]), float(lp_range[1]))

        baseline = keys.mapping(keys.get(data, "baseline"), "baseline")
        times = keys.numbers(keys.get(baseline, "times", "baseline"), "baseline.times", low=0)
        cumhaz = keys.numbers(
            keys.get(baseline, "cumhaz", "baseline"),
            "baseline.cumhaz",
            low=0,
            high=model.events_ * math.exp(MAX_ABS_LP),
            length=len(times),
        )
        step = np.flatnonzero(np.diff(times) <= 0)
        if len(step):
            i = int(step[0]) + 1
            raise keys.error(
                f"baseline.times[{i}]",
                f"({times[i]:g}) is not after baseline.times[{i - 1}] "
                f"({times[i - 1]:g}): death times must increase strictly",
            )
        step = np.flatnonzero(np.diff(cumhaz) < 0)
        if len(step):
            i = int(step[0]) + 1
            raise keys.error(
                f"baseline.cumhaz[{i}]",
                f"({cumhaz[i]:g}) is below baseline.cumhaz[{i - 1}] "
                f"({cumhaz[i - 1]:g}): a cumulative hazard never decreases",
            )
        model.baseline_times_, model.baseline_cumhaz_ = times, cumhaz
        model.max_followup_months_ = keys.number(
            data.get("max_followup_months", float(times[-1])), "max_followup_months"
        )
        if model.max_followup_months_ < times[-1]:
            raise keys.error(
                "max_followup_months",
                f"({model.max_followup_months_:g}) is before the last baseline death time ({times[-1]:g})",
            )

        model.scale_ = _points_scale_from_dict(keys, data, model)
        model.training_range_ = _training_range_from_dict(keys, data, model)
        _check_scored_lp(keys, model)
        model.baseline_survival_ = _baseline_survival_from_dict(keys, data, model)
        return model

    def save(self, path) -> None:
        """Write the nomogram as JSON (atomic; floats at full precision, keys in fixed order)."""
        try:
            # NaN is not JSON, and load() would refuse it
            text = json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n"
        except ValueError as err:
            raise InputError(
                f"nomogram {self.name!r} holds a number that is not finite; not saved ({err})", file=path
            ) from None
        with atomic_path(path) as tmp:
            tmp.write_text(text)

    @classmethod
    def load(cls, path) -> CoxNomogram:
        """Read a nomogram written by :meth:`save`, checking every key (:meth:`from_dict`).

        Raises
        ------
        InputError
            The file is not a regular file that may be read (a folder, a named pipe, a
            device), is larger than :data:`~survsig.core.paths.JSON_MAX_BYTES`, is not
            JSON, nests deeper than :data:`~survsig.core.jsonkeys.MAX_JSON_DEPTH`, or
            holds no valid nomogram (naming the file and the key).
        """
        data = read_json(path, what="the nomogram file")
        return cls.from_dict(data, file=path)


def _points_scale_from_dict(keys: JsonKeys, data: dict, model: CoxNomogram) -> dict:
    """The checked ``points_scale`` of a nomogram file: finite, and the one its
    coefficients and means give (:func:`~survsig.statistics.axes.points_scale`), so points
    and lp agree."""
    scale = keys.mapping(keys.get(data, "points_scale"), "points_scale")
    where = "points_scale"
    sc = keys.number(keys.get(scale, "sc", where), f"{where}.sc", above=0)
    intercept = keys.number(keys.get(scale, "intercept", where), f"{where}.intercept")
    maxscale = keys.number(keys.get(scale, "maxscale", where), f"{where}.maxscale", above=0)
    axes = keys.mapping(keys.get(scale, "axes", where), f"{where}.axes")
    extra = [k for k in axes if k not in model.term_names]
    if extra:
        raise keys.error(f"{where}.axes", f"has an axis {extra[0]!r} that is not a term of the nomogram")
    # a crafted coefficient may overflow the products: the checks refuse the inf, and no
    # RuntimeWarning adds lines to the one-line message
    with np.errstate(over="ignore", invalid="ignore"):
        return _checked_points_scale(keys, scale, model, sc=sc, intercept=intercept, maxscale=maxscale, axes=axes)


def _checked_points_scale(keys: JsonKeys, scale: dict, model: CoxNomogram, *, sc, intercept, maxscale, axes) -> dict:
    """The axes, intercept and ticks of :func:`_points_scale_from_dict`, each checked."""
    where = "points_scale"
    checked = {}
    for term in model.terms:
        at = f"{where}.axes.{term.name}"
        axis = keys.mapping(keys.get(axes, term.name, f"{where}.axes"), at)
        values = keys.numbers(keys.get(axis, "values", at), f"{at}.values")
        if term.kind == "binary" and values.tolist() != [0.0, 1.0]:
            raise keys.error(f"{at}.values", f"of a binary term must be [0, 1], got {show(values.tolist())}")
        xbeta = keys.numbers(keys.get(axis, "xbeta", at), f"{at}.xbeta", length=len(values))
        points = keys.numbers(keys.get(axis, "points", at), f"{at}.points", length=len(values))
        keys.close(xbeta, model.coef_[term.name] * values, f"{at}.xbeta", f"coef.{term.name} times {at}.values")
        keys.close(points, (xbeta - xbeta.min()) * sc, f"{at}.points", f"{at}.xbeta above its lowest, times {where}.sc")
        checked[term.name] = {"values": values.tolist(), "xbeta": xbeta.tolist(), "points": points.tolist()}
    widest = max(max(a["xbeta"]) - min(a["xbeta"]) for a in checked.values())
    keys.close(
        sc,
        maxscale / widest if widest > 0 else np.inf,
        f"{where}.sc",
        f"{where}.maxscale over the widest axis' xbeta range",
    )
    center = float(np.sum(model.coef_.to_numpy() * model.means_.to_numpy()))
    keys.close(
        intercept,
        -center + sum(min(a["xbeta"]) for a in checked.values()),
        f"{where}.intercept",
        "minus the sum of coef times means, plus each axis' lowest xbeta",
    )
    return {
        "sc": sc,
        "intercept": intercept,
        "maxscale": maxscale,
        "axes": checked,
        "lp_at": keys.numbers(keys.get(scale, "lp_at", where), f"{where}.lp_at").tolist(),
        "total_points": keys.numbers(keys.get(scale, "total_points", where), f"{where}.total_points").tolist(),
    }


def _training_range_from_dict(keys: JsonKeys, data: dict, model: CoxNomogram) -> dict:
    """Continuous term -> (lowest, highest) training value; the axis range in older files."""
    continuous = [t.name for t in model.terms if t.kind == "continuous"]
    if "training_range" not in data:
        return {
            name: (min(model.scale_["axes"][name]["values"]), max(model.scale_["axes"][name]["values"]))
            for name in continuous
        }
    ranges = keys.mapping(data["training_range"], "training_range")
    extra = [k for k in ranges if k not in continuous]
    if extra:
        raise keys.error("training_range", f"has an entry {extra[0]!r} that is not a continuous term")
    out = {}
    for name in continuous:
        low, high = keys.numbers(keys.get(ranges, name, "training_range"), f"training_range.{name}", length=2)
        if low > high:
            raise keys.error(f"training_range.{name}", f"must be [lowest, highest], got {show([low, high])}")
        out[name] = (float(low), float(high))
    return out


def plausible_bounds() -> dict:
    """Column -> (lowest, highest) value that can be a patient's: the bounds the
    clinical sheet is validated with (age 0-120 years, SUV 0-200 g/mL)."""
    return {"age": (0.0, float(col.MAX_AGE)), **{c: (0.0, float(col.MAX_SUV)) for c in col.SUV_COLUMNS}}


def accepted_range(nomogram: CoxNomogram, term: Term) -> tuple:
    """Values of continuous ``term`` that :func:`~survsig.statistics.scoring.score_new_patients`
    scores: ``(low, high)``.

    The training range widened by :data:`EXTRAPOLATION_WIDTHS` of its width on each
    side, cut to the plausible bounds of the column (:func:`plausible_bounds`; the
    training range itself is always accepted).
    """
    low, high = nomogram.training_range_[term.name]
    with np.errstate(over="ignore", invalid="ignore"):  # a crafted range may overflow: _check_scored_lp refuses it
        width = np.float64(high) - np.float64(low)
        lo, hi = low - EXTRAPOLATION_WIDTHS * width, high + EXTRAPOLATION_WIDTHS * width
    bounds = plausible_bounds().get(term.source)
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return float(min(lo, low)), float(max(hi, high))


def scored_extremes(nomogram: CoxNomogram, term: Term) -> np.ndarray:
    """The lowest and highest value of ``term`` scoring may meet: :func:`accepted_range`
    for a continuous term, 0 and 1 for a binary one."""
    if term.kind == "binary":
        return np.array([0.0, 1.0])
    return np.array(accepted_range(nomogram, term))


def _check_scored_lp(keys: JsonKeys, model: CoxNomogram) -> None:
    """Refuse a file whose coefficients, means and training ranges give a patient it may
    score a linear predictor beyond +-:data:`MAX_ABS_LP`, or points that are not finite.

    Each term adds ``coef x (value - mean)`` to the linear predictor, linear in the
    value, so its largest share in absolute value is at one end of
    :func:`scored_extremes`; the sum of those shares bounds every patient's lp. Points
    are likewise checked at both ends. The term with the largest share is named.
    """
    sc = model.scale_["sc"]
    reach = {}
    with np.errstate(over="ignore", invalid="ignore"):
        for term in model.terms:
            ends = scored_extremes(model, term)
            coef, mean = model.coef_[term.name], model.means_[term.name]
            share = np.abs(coef * (ends - mean))
            reach[term.name] = float(share.max()) if np.isfinite(share).all() else math.inf
            points = (coef * ends - min(model.scale_["axes"][term.name]["xbeta"])) * sc
            if not np.isfinite(points).all():
                raise keys.error(
                    f"points_scale.axes.{term.name}",
                    f"gives points that are not finite for {term.source} from {ends[0]:g} to {ends[1]:g}",
                )
    total = sum(reach.values())
    if total > MAX_ABS_LP:
        name = max(reach, key=reach.get)
        term = next(t for t in model.terms if t.name == name)
        ends = scored_extremes(model, term)
        raise keys.error(
            f"coef.{name}",
            f"({model.coef_[name]:g}) gives the patients the nomogram scores a linear predictor beyond "
            f"+-{MAX_ABS_LP:g} (|coef x (value - mean)| reaches {reach[name]:g} for {term.source} from "
            f"{ends[0]:g} to {ends[1]:g}): no fitted Cox model does; was the file edited?",
        )


def _baseline_survival_from_dict(keys: JsonKeys, data: dict, model: CoxNomogram) -> dict:
    """Survival time -> baseline survival, in [0, 1] and equal to the baseline's; NaN
    after the follow-up (null in new files, the step function's last value in older ones)."""
    stored = keys.mapping(keys.get(data, "baseline_survival"), "baseline_survival")
    labels = {f"{t:g}": t for t in model.survival_times}
    extra = [k for k in stored if k not in labels]
    if extra:
        raise keys.error("baseline_survival", f"has an entry {extra[0]!r} that is not one of survival_times")
    out = {}
    for label, t in labels.items():
        key = f"baseline_survival.{label}"
        value = keys.get(stored, label, "baseline_survival")
        if t > model.max_followup_months_:
            if value is not None:
                keys.number(value, key, low=0, high=1)
            out[t] = float("nan")
            continue
        out[t] = keys.number(value, key, low=0, high=1)
        keys.close(out[t], np.exp(-model._cumhaz(t)), key, f"exp(-baseline cumulative hazard at {label} months)")
    return out


def survival_from_lp(lp, cumhaz) -> np.ndarray:
    """``exp(-H0 * exp(lp))``: rows = patients, columns = the cumulative hazards given."""
    return np.exp(-np.outer(np.exp(np.asarray(lp, dtype=float)), np.asarray(cumhaz, dtype=float)))
