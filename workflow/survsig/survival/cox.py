"""Cox proportional hazards fits that agree with R's ``survival::coxph``.

:func:`fit_cox` fits by Newton-Raphson with Efron or Breslow ties through
scikit-survival (:class:`~sksurv.linear_model.CoxPHSurvivalAnalysis`; the partial
log-likelihood and the observed information come from its
:class:`~sksurv.linear_model.coxph.CoxPHOptimizer`). :func:`baseline_cumulative_hazard`
is R's ``survfit.coxph`` baseline (Efron-corrected increments after an Efron fit), so
predicted survival equals R's. Times are in months; a higher linear predictor means a
higher hazard.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from survsig.core.errors import InputError
from survsig.survival.checks import survival_arrays

TIES = ("efron", "breslow")


@dataclass
class CoxFit:
    """Result of :func:`fit_cox` (coefficients per unit of each term, log hazard ratios).

    Attributes
    ----------
    names : list of str
    coef, se : numpy.ndarray
        Log hazard ratios and their standard errors (inverse observed information).
    cov : numpy.ndarray
        Covariance matrix of ``coef``.
    loglik, loglik_null : float
        Partial log-likelihood at ``coef`` and at 0.
    aic : float
        ``-2 loglik + 2 p`` (R's ``AIC(coxph)``; ``-2 loglik_null`` without terms).
    n, events : int
    means : numpy.ndarray
        Column means of the design (R's centring of the linear predictor).
    converged : bool
        False when Newton-Raphson did not converge (e.g. monotone likelihood: a
        coefficient running off to infinity).
    """

    names: list
    coef: np.ndarray
    se: np.ndarray
    cov: np.ndarray
    loglik: float
    loglik_null: float
    aic: float
    n: int
    events: int
    means: np.ndarray
    converged: bool = True

    def summary(self, *, confidence=0.95) -> pd.DataFrame:
        """Per term: coef, se, HR, Wald CI of the HR, z and two-sided p."""
        z = self.coef / self.se
        q = ndtri(0.5 + confidence / 2)
        with np.errstate(over="ignore"):  # an infinite upper limit is the honest answer
            return pd.DataFrame(
                {
                    "term": self.names,
                    "coef": self.coef,
                    "se": self.se,
                    "hr": np.exp(self.coef),
                    "hr_lower": np.exp(self.coef - q * self.se),
                    "hr_upper": np.exp(self.coef + q * self.se),
                    "z": z,
                    "p_value": 2 * ndtr(-np.abs(z)),
                }
            )


def linear_predictor(X, coef, means=None) -> np.ndarray:
    """Centred linear predictor ``sum_j (x_j - mean_j) coef_j`` of each row of ``X``.

    Summed one covariate at a time, so that each row's value is a fixed sequence of
    correctly rounded operations on that row alone: patients with equal covariates get
    bit-for-bit equal scores. A BLAS matrix-vector product does not promise that (it
    may sum some rows in another order than others), and tie-sensitive statistics
    (C-index, maxstat cut-points, time-dependent AUC, risk groups) would then treat
    tied patients as ordered.

    Parameters
    ----------
    X : array_like, shape (n, p)
        Covariates.
    coef : array_like, shape (p,)
    means : array_like, shape (p,), optional
        Centring (R's ``coxph`` means); none when omitted.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    coef = np.asarray(coef, dtype=float)
    means = np.zeros(len(coef)) if means is None else np.asarray(means, dtype=float)
    if X.shape[1] != len(coef) or len(means) != len(coef):
        raise InputError(f"{X.shape[1]} covariates, {len(coef)} coefficients and {len(means)} means differ in number")
    lp = np.zeros(X.shape[0])
    for j in range(len(coef)):
        lp += (X[:, j] - means[j]) * coef[j]
    return lp


def _check_survival(time, event, *, what="the data"):
    return survival_arrays(time, event, times="positive", what=what)


def fit_cox(time, event, X, *, ties="efron", names=None, what="the data") -> CoxFit:
    """Fit a Cox proportional hazards model by Newton-Raphson.

    Parameters
    ----------
    time : array_like of float
        Survival or censoring time (months), > 0.
    event : array_like of {0, 1}
        1 = death, 0 = censored.
    X : array_like, shape (n, p)
        Covariates (a DataFrame's column names become the term names); ``p = 0`` gives
        the null model.
    ties : {"efron", "breslow"}, default "efron"
        Handling of tied death times (R's ``coxph`` default is Efron).
    names : list of str, optional
        Term names when ``X`` is not a DataFrame.
    what : str
        What the rows are ("the training set"), for error messages.

    Returns
    -------
    CoxFit

    Raises
    ------
    InputError
        No patients, no events, a constant covariate, a non-finite value, or an
        unknown ``ties``.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sksurv.linear_model import CoxPHSurvivalAnalysis
    from sksurv.linear_model.coxph import CoxPHOptimizer
    from sksurv.util import Surv

    if ties not in TIES:
        raise InputError(f"ties must be one of {', '.join(TIES)}, got {ties!r}")
    if isinstance(X, pd.DataFrame):
        names = list(X.columns) if names is None else list(names)
        X = X.to_numpy(dtype=float)
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    names = list(names) if names is not None else [f"x{j}" for j in range(X.shape[1])]
    time, event = _check_survival(time, event, what=what)
    n, p = X.shape
    if n != len(time):
        raise InputError("covariates and survival data differ in length")
    if n < 2:
        raise InputError(f"{what} has {n} patient(s); a Cox model needs at least 2")
    events = int(event.sum())
    if events == 0:
        raise InputError(f"{what} has no events (deaths); no Cox model can be fitted")
    if not np.isfinite(X).all():
        j = int(np.flatnonzero(~np.isfinite(X).all(axis=0))[0])
        raise InputError(f"covariate is not finite in {what}", column=names[j])
    for j in range(p):
        if np.ptp(X[:, j]) == 0:
            raise InputError(
                f"covariate is constant in {what} ({X[0, j]:g} for every patient); "
                "its hazard ratio cannot be estimated",
                column=names[j],
            )
    means = X.mean(axis=0) if p else np.zeros(0)
    null = CoxPHOptimizer(np.zeros((n, 1)), event.astype(bool), time, np.zeros(1), ties)
    loglik_null = -float(null.nlog_likelihood(np.zeros(1))) * n
    if p == 0:
        return CoxFit(
            names,
            np.zeros(0),
            np.zeros(0),
            np.zeros((0, 0)),
            loglik_null,
            loglik_null,
            -2 * loglik_null,
            n,
            events,
            means,
        )
    Xc = X - means  # centring changes nothing but the conditioning of the Newton steps
    converged = True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            model = CoxPHSurvivalAnalysis(ties=ties, n_iter=200, tol=1e-12).fit(
                Xc, Surv.from_arrays(event.astype(bool), time)
            )
            coef = model.coef_.astype(float)
        except (ValueError, np.linalg.LinAlgError) as err:
            raise InputError(
                f"the Cox model of {', '.join(names)} on {what} cannot be fitted ({err}); are the covariates collinear?"
            ) from None
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        converged = False
    optimizer = CoxPHOptimizer(Xc, event.astype(bool), time, np.zeros(p), ties)
    optimizer.update(coef)
    information = optimizer.hessian * n
    try:
        cov = np.linalg.inv(information)
    except np.linalg.LinAlgError:
        raise InputError(
            f"the information matrix of {', '.join(names)} on {what} is singular; are the covariates collinear?"
        ) from None
    loglik = -float(optimizer.nlog_likelihood(coef)) * n
    # R's coxph check for an infinite coefficient (monotone likelihood): the Newton step
    # still left at convergence, |u var|, is not small against the coefficient
    step = np.abs(cov @ (optimizer.gradient * n))
    if not np.isfinite(coef).all() or np.any((step > 1e-9) & (step > np.sqrt(1e-9) * np.abs(coef))):
        converged = False
    return CoxFit(
        names, coef, np.sqrt(np.diag(cov)), cov, loglik, loglik_null, -2 * loglik + 2 * p, n, events, means, converged
    )


def baseline_cumulative_hazard(time, event, lp, *, ties="efron"):
    """Baseline cumulative hazard at the death times, for a centred linear predictor.

    R's ``survfit.coxph`` estimator: Breslow's increments ``d / sum(r)`` for Breslow
    ties, and for Efron ties the Efron-corrected increments
    ``sum_{k<d} 1 / (sum(r) - k/d * sum(r of the d deaths))`` (R's default
    ``ctype = 2`` after an Efron fit), with ``r = exp(lp)``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Distinct death times (months) and the cumulative hazard at each.
    """
    time, event = _check_survival(time, event)
    risk = np.exp(np.asarray(lp, dtype=float))
    order = np.argsort(time, kind="stable")
    time, event, risk = time[order], event[order], risk[order]
    at_risk = np.cumsum(risk[::-1])[::-1]  # sum of r over time >= time[i] (before ties are grouped)
    death_times = np.unique(time[event == 1])
    first = np.searchsorted(time, death_times, side="left")
    increments = np.empty(len(death_times))
    for k, (t, i) in enumerate(zip(death_times, first)):
        dead = risk[(time == t) & (event == 1)]
        d = len(dead)
        if ties == "breslow" or d == 1:
            increments[k] = d / at_risk[i]
        else:
            increments[k] = np.sum(1.0 / (at_risk[i] - np.arange(d) / d * dead.sum()))
    return death_times, np.cumsum(increments)


def partial_likelihood(time, event, X, beta, *, ties="efron"):
    """Cox partial log-likelihood, its score vector and information matrix at ``beta``.

    Vectorised over patients (cumulative sums over the risk sets), so that the many
    small fits of a bootstrap cost little; equal to scikit-survival's
    :class:`~sksurv.linear_model.coxph.CoxPHOptimizer` (tested) and to R's ``coxph``.

    Parameters
    ----------
    time, event : array_like
        Survival time and event indicator (validated by the caller).
    X : array_like, shape (n, p)
    beta : array_like, shape (p,)
    ties : {"efron", "breslow"}

    Returns
    -------
    (float, numpy.ndarray, numpy.ndarray)
        Log-likelihood, score (gradient, shape (p,)) and information (minus the
        Hessian, shape (p, p)).
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    X = np.asarray(X, dtype=float).reshape(len(time), -1)
    beta = np.asarray(beta, dtype=float)
    order = np.argsort(time, kind="stable")
    time, event, X = time[order], event[order], X[order]
    eta = X @ beta if X.shape[1] else np.zeros(len(time))
    risk = np.exp(eta)
    # risk-set sums over time >= t_i: cumulative sums from the end, read at each tie's first row
    s0 = np.cumsum(risk[::-1])[::-1]
    s1 = np.cumsum((risk[:, None] * X)[::-1], axis=0)[::-1]
    s2 = np.cumsum((risk[:, None, None] * X[:, :, None] * X[:, None, :])[::-1], axis=0)[::-1]
    death_times, deaths_per_time = np.unique(time[event], return_counts=True)
    first = np.searchsorted(time, death_times, side="left")
    # one row per death: its time's risk-set sums, and its rank l among the deaths tied with it
    which = np.repeat(np.arange(len(death_times)), deaths_per_time)
    d = deaths_per_time[which].astype(float)
    if ties == "efron":
        rank = np.arange(len(which)) - np.repeat(np.cumsum(deaths_per_time) - deaths_per_time, deaths_per_time)
        frac = rank / d
    else:
        frac = np.zeros(len(which))
    dead = event
    dead_time_index = np.searchsorted(death_times, time[dead])  # deaths are sorted, so rows follow `which`
    d0 = np.bincount(dead_time_index, weights=risk[dead], minlength=len(death_times))
    d1 = np.zeros((len(death_times), X.shape[1]))
    np.add.at(d1, dead_time_index, risk[dead, None] * X[dead])
    d2 = np.zeros((len(death_times), X.shape[1], X.shape[1]))
    np.add.at(d2, dead_time_index, risk[dead, None, None] * X[dead, :, None] * X[dead, None, :])
    denom = s0[first][which] - frac * d0[which]
    mean = (s1[first][which] - frac[:, None] * d1[which]) / denom[:, None]
    second = (s2[first][which] - frac[:, None, None] * d2[which]) / denom[:, None, None]
    loglik = float(eta[dead].sum() - np.log(denom).sum())
    score = X[dead].sum(axis=0) - mean.sum(axis=0)
    information = (second - mean[:, :, None] * mean[:, None, :]).sum(axis=0)
    return loglik, score, information


@dataclass
class NewtonFit:
    """Result of :func:`newton_cox` (R's ``coxph.fit`` output, in its names).

    Attributes
    ----------
    coef : numpy.ndarray
    loglik_init, loglik : float
        Log-likelihood at the initial values and at ``coef`` (R's ``fit$loglik``).
    means : numpy.ndarray
        Column means of the design (R's centring).
    iterations : int
    converged : bool
        False when ``iter_max`` was reached first (R's warning "Ran out of iterations").
    """

    coef: np.ndarray
    loglik_init: float
    loglik: float
    means: np.ndarray
    iterations: int
    converged: bool

    @property
    def center(self) -> float:
        """``sum(means * coef)``: rms's ``fit$center``, the linear predictor's centring."""
        return float(self.means @ self.coef)


def newton_cox(time, event, X, *, ties="efron", init=None, eps=1e-9, iter_max=20) -> NewtonFit:
    """Cox fit by R's ``coxph`` Newton-Raphson iteration, step for step.

    The iteration of survival's ``coxfit6``: Newton steps from ``init``, stopping as
    soon as a step's log-likelihood ``l`` satisfies ``|1 - l_best / l| <= eps``
    (returning that step's coefficients), and halving back towards the best point when
    a step lowers the log-likelihood. R's ``coxph`` uses ``eps = 1e-9, iter.max = 20``;
    rms (``cph``, ``validate``, ``calibrate``) uses ``eps = 1e-4, iter.max = 10``, and
    with those settings the result equals rms's own fits, which is what makes bootstrap
    validation reproduce rms given the same resamples. ``iter_max = 0`` evaluates the
    log-likelihood at ``init`` (rms's "frozen" fit).

    Parameters
    ----------
    time, event : array_like
    X : array_like, shape (n, p)
    ties : {"efron", "breslow"}
    init : array_like, optional
        Starting coefficients (zeros).
    eps : float
    iter_max : int

    Returns
    -------
    NewtonFit

    Raises
    ------
    InputError
        Invalid survival data, no events or a singular information matrix.
    """
    if ties not in TIES:
        raise InputError(f"ties must be one of {', '.join(TIES)}, got {ties!r}")
    time, event = _check_survival(time, event)
    X = np.asarray(X, dtype=float).reshape(len(time), -1)
    if event.sum() == 0:
        raise InputError("no events (deaths); no Cox model can be fitted")
    means = X.mean(axis=0)
    Xc = X - means  # R centres too; the iterates do not depend on it, the rounding does
    p = X.shape[1]
    beta = np.zeros(p) if init is None else np.asarray(init, dtype=float).copy()

    def solve(information, score):
        try:
            return np.linalg.solve(information, score)
        except np.linalg.LinAlgError:
            raise InputError("the Cox information matrix is singular; are the covariates collinear?") from None

    loglik_init, score, information = partial_likelihood(time, event, Xc, beta, ties=ties)
    if iter_max == 0 or not np.isfinite(loglik_init):
        return NewtonFit(beta, loglik_init, loglik_init, means, 0, iter_max == 0)
    best = loglik_init
    new_beta = beta + solve(information, score)
    halving = 0
    for iteration in range(1, iter_max + 1):
        loglik, score, information = partial_likelihood(time, event, Xc, new_beta, ties=ties)
        finite = np.isfinite(loglik) and np.isfinite(score).all() and np.isfinite(information).all()
        if finite and abs(1 - best / loglik) <= eps:
            return NewtonFit(new_beta, loglik_init, loglik, means, iteration, True)
        if not finite or loglik < best:
            halving += 1  # step back towards the best point, harder each time
            new_beta = (new_beta + halving * beta) / (halving + 1.0)
        else:
            halving = 0
            best = loglik
            beta = new_beta
            new_beta = new_beta + solve(information, score)
    loglik, _, _ = partial_likelihood(time, event, Xc, beta, ties=ties)
    return NewtonFit(beta, loglik_init, loglik, means, iter_max, False)
