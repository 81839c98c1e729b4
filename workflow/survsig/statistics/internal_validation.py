"""Bootstrap internal validation of Cox models, as R's rms ``validate`` and ``calibrate``.

Harrell's optimism correction: the whole modelling procedure (optionally a term selection,
then the Cox fit) is repeated on each bootstrap resample of the training set; each refit
model is scored on its resample ("training") and on the original data ("test"); the mean
difference is the optimism, and the apparent index minus the optimism is the corrected
index. :class:`CoxBootstrapValidation` computes

* rms ``validate.cph``'s indices: Somers' Dxy (and C = Dxy / 2 + 1/2), the likelihood
  ratio R2 (Nagelkerke), the calibration slope, D, U, Q and g;
* rms ``calibrate.cph(cmethod = "KM")``'s curve at a horizon ``u``: patients grouped by
  predicted survival (about ``m`` per group, cut-points fixed on the original data), the
  Kaplan-Meier survival at ``u`` per group against the mean prediction, and the
  bias-corrected Kaplan-Meier estimate.

Fits follow rms's convergence settings (``eps = 1e-4``, ``iter.max = 10``,
:func:`survsig.survival.cox.newton_cox`), so that given the same resamples the results equal
rms's (tests against R on ``lung``). :func:`bootstrap_resamples` draws resamples with
numpy; :func:`read_resamples` reads resamples written by R (``sample(n, replace = TRUE)``,
one row per resample, 1-based).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from survsig.core.errors import InputError
from survsig.core.io import read_table
from survsig.core.vocabulary import EN_DASH, MINUS, SIGNATURE_NOMOGRAMS, horizon_text
from survsig.survival.concordance import concordance_index
from survsig.survival.cox import TIES, baseline_cumulative_hazard, linear_predictor, newton_cox
from survsig.survival.km import kaplan_meier_at

log = logging.getLogger(__name__)

#: rms's convergence settings for ``cph`` and the fits inside ``validate``/``calibrate``.
RMS_EPS = 1e-4
RMS_ITER_MAX = 10

#: Rows of the validation table, in rms's order (C added after Dxy).
INDICES = ("Dxy", "C", "R2", "Slope", "D", "U", "Q", "g")
INDEX_COLUMNS = ("index", "apparent", "training", "test", "optimism", "corrected", "n")
CALIBRATION_COLUMNS = (
    "group",
    "apparent",
    "training",
    "test",
    "optimism",
    "corrected",
    "n",
    "mean_predicted",
    "observed",
    "observed_corrected",
    "std_err",
    "patients",
    "events",
)
#: rms skips a resample's calibration with fewer events than this.
MIN_CALIBRATION_EVENTS = 5


# --------------------------------------------------------------------------- resamples
def bootstrap_resamples(n, resamples, *, seed) -> np.ndarray:
    """``resamples`` bootstrap resamples of ``n`` patients: rows of 0-based indices."""
    if n < 2 or resamples < 1:
        raise InputError(f"bootstrap validation needs at least 2 patients and 1 resample (got {n} and {resamples})")
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def read_resamples(path, *, n=None) -> np.ndarray:
    """Resamples from a CSV/TSV file, one resample per row of 1-based indices (R's ``sample``)."""
    table = read_table(path) if str(path).endswith(".tsv") else pd.read_csv(path)
    values = table.to_numpy()
    if not np.issubdtype(values.dtype, np.integer):
        raise InputError("resample indices must be whole numbers", file=path)
    if n is not None and values.shape[1] != n:
        raise InputError(f"resamples have {values.shape[1]} indices per row; the data have {n} patients", file=path)
    if values.min() < 1 or (n is not None and values.max() > n):
        raise InputError(f"resample indices must lie in 1..{n or values.max()}", file=path)
    return values - 1


# --------------------------------------------------------------------------- indices
def gini_mean_difference(x) -> float:
    """Gini's mean difference of ``x`` (Hmisc ``GiniMd``): mean |x_i - x_j| over pairs."""
    x = np.sort(np.asarray(x, dtype=float))
    n = len(x)
    if n < 2:
        return float("nan")
    weights = 4 * (np.arange(1, n + 1) - (n - 1) / 2) / n / (n - 1)
    return float(np.sum(weights * (x - x.mean())))


def somers_dxy(time, event, lp) -> float:
    """Somers' Dxy of a risk score (higher = shorter survival): ``2 C - 1``, Harrell's C.

    Pairs tied on the score count one half; two deaths at the same time are not
    comparable (R's ``concordance``; rms's ``dxy.cens``).
    """
    return 2 * concordance_index(time, event, lp) - 1


def _likelihood_indices(n, loglik_null, loglik):
    lr = -2 * (loglik_null - loglik)
    ll0 = -2 * loglik_null
    r2 = (1 - np.exp(-lr / n)) / (1 - np.exp(-ll0 / n))
    return lr, ll0, r2


def discrimination_indices(time, event, lp, *, fit=None, ties="efron", eps=RMS_EPS, iter_max=RMS_ITER_MAX) -> dict:
    """rms ``validate.cph``'s indices of a linear predictor ``lp`` on data (time, event).

    With ``fit`` (the :class:`~survsig.survival.cox.NewtonFit` that made ``lp`` on these data:
    the apparent and the training indices), R2, D and U come from its log-likelihoods
    and the slope is 1. Without it (the test indices), a Cox model of ``lp`` alone is fit
    on the data: its coefficient is the calibration slope, its likelihoods give R2 and D,
    and U compares it with the log-likelihood at slope 1.

    Returns
    -------
    dict
        :data:`INDICES` -> value.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=int)
    lp = np.asarray(lp, dtype=float)
    n = len(time)
    if len(np.unique(lp)) == 1:
        out = dict.fromkeys(INDICES, 0.0)
        out.update(Slope=1.0, C=0.5, g=gini_mean_difference(lp))
        return out
    if fit is not None:
        lr, ll0, r2 = _likelihood_indices(n, fit.loglik_init, fit.loglik)
        slope, u = 1.0, -2 / ll0
        g = gini_mean_difference(lp)
    else:
        refit = newton_cox(time, event, lp[:, None], ties=ties, eps=eps, iter_max=iter_max)
        lr, ll0, r2 = _likelihood_indices(n, refit.loglik_init, refit.loglik)
        slope = float(refit.coef[0])
        frozen = newton_cox(time, event, lp[:, None], ties=ties, init=[1.0], iter_max=0)
        u = -2 * (frozen.loglik - refit.loglik) / ll0
        g = gini_mean_difference(slope * lp)
    d = (lr - 1) / ll0
    dxy = somers_dxy(time, event, lp)
    return {"Dxy": dxy, "C": dxy / 2 + 0.5, "R2": r2, "Slope": slope, "D": d, "U": u, "Q": d - u, "g": g}


# --------------------------------------------------------------------------- calibration
def baseline_survival_at(time, event, lp_centered, horizon, *, ties="efron") -> float:
    """Baseline survival at ``horizon`` of a fit (rms ``cph(surv = TRUE)``'s ``surv.summary``).

    The step function of :func:`survsig.survival.cox.baseline_cumulative_hazard` read at the last
    death up to ``horizon`` (R's ``1e-6`` time tolerance); NaN when ``horizon`` lies after
    the longest follow-up and survival there is still above 0.
    """
    times, cumhaz = baseline_cumulative_hazard(time, event, lp_centered, ties=ties)
    i = np.searchsorted(times, horizon + 1e-6, side="right")
    surv = float(np.exp(-np.r_[0.0, cumhaz][i]))
    if horizon > np.max(time) + 1e-6 and surv > 0:
        return float("nan")
    return surv


def r_quantile(x, probs) -> np.ndarray:
    """R's ``quantile(x, probs)`` (type 7), which numpy's default linear method equals."""
    return np.quantile(np.asarray(x, dtype=float), probs)


def calibration_cuts(predicted, m) -> np.ndarray:
    """Cut-points of the predicted survival: ``floor(n / m)`` groups of equal counts
    (rms: quantiles of the predictions with 0 and 1 added, repeated cuts dropped)."""
    predicted = np.asarray(predicted, dtype=float)
    g = max(1, int(np.floor(len(predicted) / m)))
    return np.unique(r_quantile(np.r_[0.0, 1.0, predicted], np.linspace(0, 1, g + 1)))


def cut_groups(x, cuts) -> np.ndarray:
    """Group of each value by Hmisc's ``cut2(x, cuts)``: 0-based, -1 for none.

    ``cut2`` moves each cut but the last down by half the smallest gap between the
    distinct values of ``x`` and the cuts, then bins into ``(k_i, k_{i+1}]``, so a value
    equal to a cut falls into the group that starts there.
    """
    x = np.asarray(x, dtype=float)
    cuts = np.asarray(cuts, dtype=float)
    lo, hi = np.nanmin(x), np.nanmax(x)
    if lo < cuts[0]:
        cuts = np.r_[lo, cuts]
    if hi > cuts.max():
        cuts = np.r_[cuts, hi]
    distinct = np.unique(np.r_[x[~np.isnan(x)], cuts])
    half_gap = np.min(np.diff(distinct)) / 2 if len(distinct) > 1 else 0.0
    breaks = cuts - half_gap
    breaks[-1] = cuts[-1]
    group = np.searchsorted(breaks, x, side="left") - 1
    group[(group < 0) | (group >= len(breaks) - 1) | np.isnan(x)] = -1
    return group, len(breaks) - 1


def group_km(predicted, time, event, cuts, horizon) -> pd.DataFrame:
    """Kaplan-Meier survival at ``horizon`` per group of predicted survival (rms ``groupkm``).

    Returns
    -------
    pandas.DataFrame
        One row per group: ``x`` (mean prediction), ``n``, ``events``, ``KM`` (NaN when
        the group has fewer than 2 patients or its follow-up ends before ``horizon``
        with survival above 0) and ``std_err`` (standard error of log KM, Greenwood).
    """
    predicted = np.asarray(predicted, dtype=float).copy()
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=int)
    keep = ~np.isnan(predicted)
    predicted, time, event = predicted[keep], time[keep], event[keep]
    predicted[np.abs(predicted) < 1e-10] = 0.0
    group, n_groups = cut_groups(predicted, cuts)
    rows = []
    for k in range(n_groups):
        s = group == k
        nobs = int(s.sum())
        if nobs < 2:
            rows.append(
                {
                    "x": float(predicted[s].mean()) if nobs == 1 else np.nan,
                    "n": 0,
                    "events": 0,
                    "KM": np.nan,
                    "std_err": np.nan,
                }
            )
            continue
        km, se_log, last_time = kaplan_meier_at(time[s], event[s], horizon, tolerance=1e-6)
        if horizon > last_time + 1e-6 and km > 0:
            km, se_log = float("nan"), float("nan")
        rows.append(
            {"x": float(predicted[s].mean()), "n": nobs, "events": int(event[s].sum()), "KM": km, "std_err": se_log}
        )
    return pd.DataFrame(rows, columns=["x", "n", "events", "KM", "std_err"])


# --------------------------------------------------------------------------- the procedure
@dataclass
class _Refit:
    terms: list
    fit: object  # NewtonFit
    survival0: float  # baseline survival at the horizon, at the fit's centre


class CoxBootstrapValidation:
    """Optimism-corrected indices and calibration of a Cox modelling procedure.

    Parameters
    ----------
    ties : {"efron", "breslow"}, default "efron"
    horizon : float, optional
        Time of the calibration (rms ``u``); without it only the indices are computed.
    m : int, default 50
        Patients per calibration group (rms ``m``).
    select : callable, optional
        ``select(rows) -> list of column names``: the term selection of the procedure,
        run on the patients ``rows`` (0-based positions; a resample or all patients).
        Without it every column is used in every fit (rms ``bw = FALSE``).
    eps, iter_max : float, int
        Convergence of every Cox fit (rms's defaults).

    Attributes
    ----------
    terms_ : list of str
        Terms of the procedure on the original data.
    indices_ : pandas.DataFrame
        :data:`INDEX_COLUMNS`, one row per index of :data:`INDICES`.
    calibration_ : pandas.DataFrame or None
        :data:`CALIBRATION_COLUMNS`, one row per group of predicted survival.
    selection_frequency_ : pandas.Series
        Share of the successful resamples whose procedure kept each column.
    resample_optimism_ : pandas.DataFrame
        Training minus test value of each index, one row per successful resample (their
        spread gives the Monte Carlo error of the optimism: ``std / sqrt(n)``).
    resamples_used_, resamples_failed_ : int
    """

    def __init__(self, *, ties="efron", horizon=None, m=50, select=None, eps=RMS_EPS, iter_max=RMS_ITER_MAX):
        if ties not in TIES:
            raise InputError(f"ties must be one of {', '.join(TIES)}, got {ties!r}")
        if m < 2:
            raise InputError(f"calibration groups need at least 2 patients each (m = {m})")
        self.ties, self.horizon, self.m, self.select = ties, horizon, m, select
        self.eps, self.iter_max = eps, iter_max

    def _refit(self, time, event, X: pd.DataFrame, rows) -> _Refit:
        terms = list(X.columns) if self.select is None else list(self.select(rows))
        if not terms:
            raise InputError("the procedure selected no term")
        design = self._columns(X, terms)[rows]
        fit = newton_cox(time[rows], event[rows], design, ties=self.ties, eps=self.eps, iter_max=self.iter_max)
        survival0 = float("nan")
        if self.horizon is not None:
            lp = linear_predictor(design, fit.coef, fit.means)
            survival0 = baseline_survival_at(time[rows], event[rows], lp, self.horizon, ties=self.ties)
        return _Refit(terms, fit, survival0)

    def _columns(self, X, terms):
        return self._values[:, [self._position[t] for t in terms]]

    def _predicted_survival(self, refit: _Refit, X, rows):
        lp = linear_predictor(self._columns(X, refit.terms)[rows], refit.fit.coef) - refit.fit.center
        return refit.survival0 ** np.exp(lp)

    def fit(self, time, event, X: pd.DataFrame, resamples, *, progress=None) -> CoxBootstrapValidation:
        """Validate on (time, event, X) with ``resamples`` (rows of 0-based indices); returns self.

        ``progress(done, total)`` is called after each resample.
        """
        time = np.asarray(time, dtype=float)
        event = np.asarray(event, dtype=int)
        X = X.reset_index(drop=True)
        self._values = X.to_numpy(dtype=float)
        self._position = {name: j for j, name in enumerate(X.columns)}
        n = len(time)
        resamples = np.asarray(resamples)
        if resamples.ndim != 2 or resamples.shape[1] != n:
            raise InputError(f"resamples must be rows of {n} indices (the patients), got shape {resamples.shape}")
        everyone = np.arange(n)
        original = self._refit(time, event, X, everyone)
        self.terms_ = original.terms
        lp = linear_predictor(self._columns(X, original.terms), original.fit.coef)
        apparent = discrimination_indices(time, event, lp, fit=original.fit, ties=self.ties)
        calibrating = self.horizon is not None
        if calibrating:
            predicted = self._predicted_survival(original, X, everyone)
            cuts = calibration_cuts(predicted, self.m)
            apparent_km = group_km(predicted, time, event, cuts, self.horizon)
            apparent_cal = (apparent_km["KM"] - apparent_km["x"]).to_numpy()
            cal_sums = np.zeros((2, len(apparent_cal)))
            cal_counts = np.zeros(len(apparent_cal))
        sums = np.zeros((2, len(INDICES)))
        counts = np.zeros(len(INDICES))
        optimism_rows = []
        kept = pd.Series(0, index=list(X.columns), dtype=float)
        used = failed = 0
        for b, rows in enumerate(resamples):
            try:
                refit = self._refit(time, event, X, rows)
            except InputError as err:
                failed += 1
                log.warning("resample %d of %d skipped: %s", b + 1, len(resamples), err.reason)
                continue
            if not refit.fit.converged:
                log.info("resample %d: Cox fit stopped at %d iterations (as rms, it is used)", b + 1, self.iter_max)
            used += 1
            kept[refit.terms] += 1
            coef = refit.fit.coef
            lp_all = linear_predictor(self._columns(X, refit.terms), coef)
            training = discrimination_indices(time[rows], event[rows], lp_all[rows], fit=refit.fit, ties=self.ties)
            test = discrimination_indices(time, event, lp_all, ties=self.ties, eps=self.eps, iter_max=self.iter_max)
            pair = np.array([[training[k] for k in INDICES], [test[k] for k in INDICES]])
            ok = ~np.isnan(pair).any(axis=0)
            sums[:, ok] += pair[:, ok]
            counts += ok
            optimism_rows.append(pair[0] - pair[1])
            if calibrating:
                dist = []
                for part in (rows, everyone):
                    if event[part].sum() < MIN_CALIBRATION_EVENTS:
                        dist.append(np.full(len(apparent_cal), np.nan))
                        continue
                    km = group_km(self._predicted_survival(refit, X, part), time[part], event[part], cuts, self.horizon)
                    dist.append((km["KM"] - km["x"]).to_numpy())
                pair = np.array(dist)
                ok = ~np.isnan(pair).any(axis=0)
                cal_sums[:, ok] += pair[:, ok]
                cal_counts += ok
            if progress is not None:
                progress(b + 1, len(resamples))
        if used == 0:
            raise InputError(f"no bootstrap resample could be fitted ({failed} failed)")
        self.resamples_used_, self.resamples_failed_ = used, failed
        self.resample_optimism_ = pd.DataFrame(optimism_rows, columns=list(INDICES))
        self.selection_frequency_ = kept / used
        with np.errstate(invalid="ignore", divide="ignore"):
            train_mean, test_mean = sums / counts
        optimism = train_mean - test_mean
        apparent_row = np.array([apparent[k] for k in INDICES])
        self.indices_ = pd.DataFrame(
            {
                "index": INDICES,
                "apparent": apparent_row,
                "training": train_mean,
                "test": test_mean,
                "optimism": optimism,
                "corrected": apparent_row - optimism,
                "n": counts.astype(int),
            },
            columns=list(INDEX_COLUMNS),
        )
        self.calibration_ = None
        if calibrating:
            with np.errstate(invalid="ignore", divide="ignore"):
                train_mean, test_mean = cal_sums / cal_counts
            optimism = train_mean - test_mean
            self.calibration_ = pd.DataFrame(
                {
                    "group": np.arange(1, len(apparent_cal) + 1),
                    "apparent": apparent_cal,
                    "training": train_mean,
                    "test": test_mean,
                    "optimism": optimism,
                    "corrected": apparent_cal - optimism,
                    "n": cal_counts.astype(int),
                    "mean_predicted": apparent_km["x"],
                    "observed": apparent_km["KM"],
                    "observed_corrected": apparent_km["KM"] - optimism,
                    "std_err": apparent_km["std_err"],
                    "patients": apparent_km["n"],
                    "events": apparent_km["events"],
                },
                columns=list(CALIBRATION_COLUMNS),
            )
        return self


# --------------------------------------------------------------------------- the nomograms
SUMMARY_COLUMNS = (
    "nomogram",
    "terms",
    "c_apparent",
    "c_optimism",
    "c_corrected",
    "slope_corrected",
    "r2_apparent",
    "r2_corrected",
    "resamples",
    "resamples_failed",
)


@contextlib.contextmanager
def _quiet_selection():
    """Keep the selection's per-resample warnings (a line per resample, and numpy's
    warnings of degenerate resamples, which then fail with a logged reason) out of the log."""
    logger = logging.getLogger("survsig.statistics.selection")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            yield
    finally:
        logger.setLevel(level)


def _selection_chunk(train, chunk, options):
    """Term selections of the resamples ``chunk`` (here or in a worker process): each a
    selection, or the reason it failed (a string: it pickles where an error may not)."""
    from survsig.statistics.selection import select_terms

    out = []
    with _quiet_selection():
        for rows in chunk:
            try:
                out.append(select_terms(train.iloc[rows].reset_index(drop=True), **options))
            except InputError as err:
                out.append(f"the selection failed: {err.reason}")
    return out


def _as_selection(result):
    return InputError(result) if isinstance(result, str) else result


def _parallel_selections(train, resamples, options, workers) -> dict:
    """The term selection of every distinct resample, ``workers`` processes side by side.

    Each selection depends on its resample alone, so the results equal a serial run's.
    """
    import concurrent.futures

    distinct = {}
    for rows in resamples:
        distinct.setdefault(rows.tobytes(), rows)
    keys = list(distinct)
    # a few chunks per worker: resamples differ in cost, and results come back in order
    chunks = [chunk for chunk in np.array_split(np.arange(len(keys)), workers * 4) if len(chunk)]
    out = {}
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(_selection_chunk, train, [distinct[keys[i]] for i in chunk], options) for chunk in chunks
        ]
        done = 0
        for chunk, future in zip(chunks, futures, strict=True):
            for i, result in zip(chunk, future.result(), strict=True):
                out[keys[i]] = _as_selection(result)
            done += len(chunk)
            log.info("term selections: %d of %d resamples (%d processes)", done, len(keys), workers)
    return out


def validate_nomograms(
    frame: pd.DataFrame,
    nomograms,
    *,
    clinical_factors,
    p_threshold,
    use_suv,
    integrated_model,
    ties="efron",
    resamples,
    horizon=None,
    m=50,
    progress_every=20,
    workers=1,
) -> dict:
    """Bootstrap validation of each nomogram, the term selection repeated in every resample.

    The procedure that made the nomograms on the training set is run again on each
    resample: the univariable screen and backward AIC selection of the clinical factors
    and SUV columns (:func:`survsig.statistics.selection.select_terms`), then the Cox fit of the
    nomogram's terms. One selection per resample serves every nomogram. The deep learning
    signatures enter as the fixed covariates they are in the nomograms; the training of
    their networks is not repeated.

    Parameters
    ----------
    frame : pandas.DataFrame
        Patient table (:func:`survsig.statistics.terms.read_patient_table`); its training rows
        are used.
    nomograms : sequence of str
    clinical_factors, p_threshold, use_suv, integrated_model, ties
        The nomogram stage's settings.
    resamples : numpy.ndarray
        Rows of 0-based indices into the training rows (:func:`bootstrap_resamples`).
    horizon : float, optional
        Months of the calibration.
    m : int
        Patients per calibration group.
    workers : int
        Processes that run the resamples' term selections (most of the time) side by
        side; the results do not depend on it.

    Returns
    -------
    dict
        Nomogram -> fitted :class:`CoxBootstrapValidation`.
    """
    from survsig.core import columns as col
    from survsig.statistics.selection import nomogram_term_names
    from survsig.statistics.terms import CLINICAL_TERMS, SIGNATURE_PREFIX, design_matrix, suv_term, term_for

    train = frame[frame[col.SPLIT] == col.SPLIT_LEVELS[0]].reset_index(drop=True)
    candidates = [term_for(f) for f in clinical_factors if CLINICAL_TERMS[f].source in train.columns]
    candidates += [suv_term(c) for c in col.SUV_COLUMNS if c in train.columns]
    candidates += [term_for(c) for c in train.columns if c.startswith(SIGNATURE_PREFIX)]
    X = design_matrix(train, candidates)
    time = train[col.OS_MONTHS].to_numpy(dtype=float)
    event = train[col.OS_EVENT].to_numpy(dtype=int)
    options = dict(clinical_factors=clinical_factors, p_threshold=p_threshold, ties=ties, use_suv=use_suv)
    selects = any(not (name.startswith("dl_") or name in SIGNATURE_NOMOGRAMS) for name in nomograms)
    selections = _parallel_selections(train, resamples, options, int(workers)) if selects and workers > 1 else {}

    def selection(rows):
        key = rows.tobytes()
        if key not in selections:  # a failed selection is kept too: it fails every nomogram that needs it
            selections[key] = _as_selection(_selection_chunk(train, [rows], options)[0])
        if isinstance(selections[key], InputError):
            raise selections[key]
        return selections[key]

    results = {}
    for name in nomograms:

        def select(rows, name=name):
            if name.startswith("dl_") or name in SIGNATURE_NOMOGRAMS:  # the signature alone: nothing is selected
                return nomogram_term_names(name, {"clinical": [], "suv": []}, integrated_model=integrated_model)
            return nomogram_term_names(name, selection(rows), integrated_model=integrated_model)

        def progress(done, total, name=name):
            if done % progress_every == 0 or done == total:
                log.info("%s: resample %d of %d", name, done, total)

        with _quiet_selection():
            results[name] = CoxBootstrapValidation(ties=ties, horizon=horizon, m=m, select=select).fit(
                time, event, X, resamples, progress=progress
            )
        c = results[name].indices_.set_index("index").loc["C"]
        log.info(
            "%s: C apparent %.4f, optimism %.4f, corrected %.4f (%d resamples)",
            name,
            c["apparent"],
            c["optimism"],
            c["corrected"],
            results[name].resamples_used_,
        )
    return results


def summary_table(results: dict) -> pd.DataFrame:
    """One row per nomogram: C apparent, optimism and corrected; corrected slope and R2."""
    rows = []
    for name, result in results.items():
        table = result.indices_.set_index("index")
        rows.append(
            {
                "nomogram": name,
                "terms": " + ".join(result.terms_),
                "c_apparent": table.loc["C", "apparent"],
                "c_optimism": table.loc["C", "optimism"],
                "c_corrected": table.loc["C", "corrected"],
                "slope_corrected": table.loc["Slope", "corrected"],
                "r2_apparent": table.loc["R2", "apparent"],
                "r2_corrected": table.loc["R2", "corrected"],
                "resamples": result.resamples_used_,
                "resamples_failed": result.resamples_failed_,
            }
        )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def read_calibration(path) -> pd.DataFrame:
    """A bootstrap calibration table written by the pipeline, checked for its columns."""
    table = read_table(path)
    missing = [c for c in CALIBRATION_COLUMNS if c not in table.columns]
    if missing:
        raise InputError("bootstrap calibration table lacks its columns", file=path, column=missing[0])
    return table


# --------------------------------------------------------------------------- figure
def plot_bootstrap_calibration(table: pd.DataFrame, ax=None, *, horizon_months, title=None, confidence=0.95):
    """rms ``plot(calibrate(...))``: observed (KM) against predicted survival per group,
    apparent with its CI, and the bias-corrected estimate (the legend gives the number
    of resamples used, the table's largest ``n``).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from scipy.special import ndtri

    from survsig.core.figures import new_figure

    if ax is None:
        ax = new_figure(5.5, 5.5).add_subplot()
    horizon = horizon_text(horizon_months)
    ok = table["observed"].notna().to_numpy()
    x = table["mean_predicted"].to_numpy(dtype=float)[ok]
    observed = table["observed"].to_numpy(dtype=float)[ok]
    corrected = table["observed_corrected"].to_numpy(dtype=float)[ok]
    se = table["std_err"].to_numpy(dtype=float)[ok]
    z = ndtri(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", over="ignore"):
        lower = np.where(observed > 0, observed * np.exp(-z * se), 0.0)
        upper = np.where(observed > 0, np.minimum(1.0, observed * np.exp(z * se)), 0.0)
    yerr = np.nan_to_num(np.vstack([observed - lower, upper - observed]), nan=0.0, posinf=0.0)
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=0.8, label="Ideal")
    ax.errorbar(
        x,
        observed,
        yerr=yerr,
        fmt="o",
        color="tab:blue",
        ecolor="tab:blue",
        capsize=3,
        markersize=5,
        linewidth=1.1,
        label=f"Apparent (Kaplan{EN_DASH}Meier, {confidence:.0%} CI)",
    )
    ax.plot(x, observed, color="tab:blue", linewidth=0.8)
    resamples = int(table["n"].max()) if len(table) else 0
    ax.plot(
        x,
        corrected,
        marker="X",
        color="tab:red",
        linewidth=1.0,
        markersize=7,
        label=f"Bias-corrected ({resamples} bootstrap resamples)",
    )
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel(f"Predicted {horizon} OS probability")
    ax.set_ylabel(f"Observed {horizon} OS (Kaplan{EN_DASH}Meier)")
    groups = int(ok.sum())
    patients = int(table["patients"].sum())
    ax.text(
        0.03,
        0.97,
        f"{groups} group{'s' if groups != 1 else ''} of predicted survival, {patients} patients\n"
        f"corrected = observed {MINUS} mean optimism of the resamples",
        transform=ax.transAxes,
        ha="left",
        va="top",
        fontsize=8.5,
    )
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    if title:
        ax.set_title(title, fontsize=11)
    return ax


def bootstrap_calibration_figure(table, *, horizon_months, title):
    """:func:`plot_bootstrap_calibration` on a figure of its own (:class:`matplotlib.figure.Figure`)."""
    from survsig.core.figures import new_figure, style

    with style():
        fig = new_figure(5.5, 5.5)
        plot_bootstrap_calibration(table, ax=fig.add_subplot(), horizon_months=horizon_months, title=title)
        fig.tight_layout()
    return fig
