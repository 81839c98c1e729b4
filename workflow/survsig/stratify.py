"""Risk groups: a cut-off on a nomogram's linear predictor, learned on the training set.

The cut-off maximises the standardised log-rank statistic over the candidate cut-points
of the training set, exactly as R's ``maxstat::maxstat.test(Surv(time, status) ~ x,
smethod = "LogRank", minprop = 0.1, maxprop = 0.9)`` does (:class:`MaxstatCutoff`).
It is then applied unchanged to every patient: **high risk = lp > cut-off**, low risk =
lp <= cut-off, maxstat's convention (its groups are ``x <= cutpoint`` and
``x > cutpoint``). Higher lp = higher risk, as everywhere in survsig.

On top of the groups: the comparison of high vs low risk per split (Fig. 3, table
``risk_groups_{nomogram}.tsv``), the same within clinical subgroups (Fig. 4), the
effect of local treatment (surgery or re-irradiation vs chemotherapy) within each risk
group, and the clinical characteristics of the two groups (Table S3).

Fallbacks (documented, logged as warnings, written to the ``note`` column): a split
or subgroup where one risk group is empty, where nobody died, or where one group has no
deaths gets NaN for the statistics that are then undefined (log-rank, hazard ratio),
and its figure shows the curves that exist. Errors (:class:`~survsig.errors.InputError`,
one message): a score file missing patients or holding patients, splits or values the
split table does not; a training set without deaths or without a valid cut-point.
"""

from __future__ import annotations

import logging
import math
import numbers

import numpy as np
import pandas as pd
from scipy import stats

from .columns import OS_EVENT, OS_MONTHS, PATIENT_ID, SPLIT, SPLIT_LEVELS
from .errors import InputError
from .figures import RISK_GROUP_COLOURS
from .km import (
    KMGroup,
    compare_groups,
    draw_km_panel,
    fit_cox,
    format_hr,
    format_p,
    format_median,
    format_survival,
    kaplan_meier,
    km_style,
    legend_line_count,
    logrank,
    new_figure,
    panel_height,
    wrap_lines,
    PANEL_WIDTH,
)

log = logging.getLogger(__name__)

TRAIN, TEST = SPLIT_LEVELS
LP = "lp"
RISK_GROUP = "risk_group"
LOW, HIGH = "low", "high"
#: Risk groups, reference first: hazard ratios are high vs low.
RISK_LEVELS = (LOW, HIGH)
#: Columns of a nomogram's score file (``results/nomograms/{nomogram}_scores.tsv``).
SCORE_COLUMNS = (PATIENT_ID, SPLIT, OS_MONTHS, OS_EVENT, LP)
#: Columns of ``results/risk_groups.tsv``.
RISK_GROUP_COLUMNS = (PATIENT_ID, SPLIT, LP, RISK_GROUP)
#: Patient sets a subgroup analysis or Table S3 can use.
SUBSETS = ("all", TRAIN, TEST)
PMETHODS = ("none", "Lau92", "condMC")

RISK_COLORS = {LOW: RISK_GROUP_COLOURS["low"], HIGH: RISK_GROUP_COLOURS["high"]}
RISK_LABELS = {LOW: "Low risk", HIGH: "High risk"}
TREATMENT_COLORS = {"surgery": "#1b9e77", "reirradiation": "#7570b3", "chemotherapy": "#d95f02"}
TREATMENT_LABELS = {"surgery": "Surgery", "reirradiation": "Re-irradiation", "chemotherapy": "Chemotherapy"}
LOCAL_TREATMENTS = ("surgery", "reirradiation")
SPLIT_TITLES = {TRAIN: "training set", TEST: "test set", "all": "all patients"}
NOMOGRAM_TITLES = {
    "clinical": "Clinical nomogram",
    "clinical_suv": "Clinical + SUV nomogram",
    "dl_ct": "CT deep learning nomogram",
    "dl_pet": "PET deep learning nomogram",
    "dl_petct": "PET/CT deep learning nomogram",
    "integrated": "Integrated nomogram",
    "integrated_suv": "Integrated + SUV nomogram",
}

#: Subgroups of Fig. 4: variable -> [(level name, title, canonical levels pooled)].
SUBGROUPS = {
    "sex": [("M", "Male", ("M",)), ("F", "Female", ("F",))],
    "ebv_dna": [
        ("undetectable", "EBV DNA undetectable", ("undetectable",)),
        ("detectable", "EBV DNA detectable", ("detectable",)),
    ],
    "N_stage": [("N0", "N0", ("N0",)), ("N1-3", "N1\u2013N3", ("N1", "N2", "N3"))],
    "treatment": [
        ("surgery", "Surgery", ("surgery",)),
        ("reirradiation", "Re-irradiation", ("reirradiation",)),
        ("chemotherapy", "Chemotherapy", ("chemotherapy",)),
    ],
}


# --------------------------------------------------------------------------- maxstat
def logrank_scores(os_months, os_event) -> np.ndarray:
    """Log-rank scores of censored survival times (R ``exactRankTests::cscores.Surv``).

    ``a_i = d_i - sum_{j: t_j <= t_i} d_j / (N - r_j + 1)`` with ``r_j`` the number of
    patients with time <= ``t_j`` (R's ``irank``, ties counted up to the last); this
    is the score ``maxstat.test(..., smethod = "LogRank")`` sums.

    Parameters
    ----------
    os_months : array_like of float
        Follow-up (months).
    os_event : array_like of {0, 1}
        1 = death.
    """
    time = np.asarray(os_months, dtype=float)
    event = np.asarray(os_event, dtype=float)
    n = len(time)
    order = np.argsort(time, kind="stable")
    rank_max = stats.rankdata(time, method="max").astype(int)
    fact = event / (n - rank_max + 1)
    return event - np.cumsum(fact[order])[rank_max - 1]


def lausen92_p(statistic, minprop=0.1, maxprop=0.9) -> float:
    """Approximate p-value of a maximally selected statistic (R ``maxstat::pLausen92``).

    Lausen and Schumacher (1992): ``4 phi(b)/b + phi(b) (b - 1/b) log(maxprop (1 -
    minprop) / ((1 - maxprop) minprop))``, floored at 0, and 1 for ``b < 1``, where the
    approximation does not hold (as R: below 1 the formula would fall again as b falls).
    It can exceed 1 just above ``b = 1``, as in R.
    """
    b = float(statistic)
    if b < 1:
        return 1.0
    db = stats.norm.pdf(b)
    p = 4 * db / b + db * (b - 1 / b) * math.log((maxprop * (1 - minprop)) / ((1 - maxprop) * minprop))
    return max(p, 0.0)


def _check_cutoff_options(minprop, maxprop, pmethod, n_resamples, seed):
    problems = []

    def proportion(name, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= float(value) <= 1:
            problems.append(f"{name} must be a number in [0, 1], got {value!r}")
            return False
        return True

    if proportion("minprop", minprop) and proportion("maxprop", maxprop) and not minprop < maxprop:
        problems.append(f"minprop ({minprop}) must be below maxprop ({maxprop})")
    if pmethod not in PMETHODS:
        problems.append(f"pmethod must be one of {', '.join(PMETHODS)}, got {pmethod!r}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, numbers.Integral) or n_resamples < 1:
        problems.append(f"n_resamples must be a positive integer, got {n_resamples!r}")
    if pmethod == "condMC" and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        problems.append(f"pmethod 'condMC' needs a seed (integer >= 0), got {seed!r}")
    if problems:
        raise InputError("invalid cut-off options: " + "; ".join(problems))


class MaxstatCutoff:
    """Cut-off by the maximally selected log-rank statistic, as R's ``maxstat.test``.

    Parameters
    ----------
    minprop, maxprop : float, default 0.1 and 0.9
        Candidate cut-points leave at least ``floor(N minprop)`` (and at least one)
        and at most ``floor(N maxprop)`` patients at or below the cut-point.
    pmethod : {"none", "Lau92", "condMC"}, default "none"
        p-value of the maximal statistic: none (NaN); Lausen and Schumacher's 1992
        approximation (R ``pmethod = "Lau92"``, closed form, equal to R's, 1 below a
        statistic of 1); or the conditional Monte Carlo permutation p-value (R
        ``pmethod = "condMC"``: the share of ``n_resamples`` random permutations of
        the scores whose maximal statistic exceeds the observed one; numpy's
        generator, so it agrees with R within Monte Carlo error, not digit by digit).
    n_resamples : int, default 9999
        Permutations for ``condMC`` (R's ``B``).
    seed : int, optional
        Seed of the permutations (needed for ``condMC``).

    Attributes
    ----------
    cutoff_ : float
        The estimated cut-point: the largest score of the low-risk group. Patients
        with score > ``cutoff_`` are high risk.
    statistic_ : float
        Maximal standardised log-rank statistic (R's ``statistic``, "M").
    p_value_ : float
        p-value by ``pmethod`` (NaN for "none").
    cuts_, statistics_ : numpy.ndarray
        Candidate cut-points and their standardised statistics (R's ``cuts`` and
        ``stats``).
    n_, n_events_, n_low_, n_high_ : int
        Patients, deaths, and patients at or below / above the cut-off in the data
        fitted.

    Notes
    -----
    R's algorithm (``maxstat:::cmaxstat``): log-rank scores (:func:`logrank_scores`)
    are ordered by the score x; for each candidate m (the number of patients at or
    below a distinct value of x) the statistic is ``|S_m - E_m| / sqrt(V_m)``, with
    S_m the sum of the first m scores and E_m, V_m its permutation mean and variance
    ``m/N sum a`` and ``m (N - m) / (N^2 (N - 1)) (N sum a^2 - (sum a)^2)``. The first
    maximum wins.
    """

    def __init__(self, *, minprop=0.1, maxprop=0.9, pmethod="none", n_resamples=9999, seed=None):
        self.minprop = minprop
        self.maxprop = maxprop
        self.pmethod = pmethod
        self.n_resamples = n_resamples
        self.seed = seed

    def fit(self, score, os_months, os_event):
        """Select the cut-off on these patients (the training set).

        Parameters
        ----------
        score : array_like of float
            Risk score (higher = higher risk), e.g. a nomogram's linear predictor.
        os_months : array_like of float
            Follow-up (months).
        os_event : array_like of {0, 1}
            1 = death.

        Returns
        -------
        MaxstatCutoff
            self, fitted.

        Raises
        ------
        InputError
            Invalid options, non-finite scores, no deaths, or no candidate cut-point
            between ``minprop`` and ``maxprop``.
        """
        _check_cutoff_options(self.minprop, self.maxprop, self.pmethod, self.n_resamples, self.seed)
        x = np.asarray(score, dtype=float)
        time = np.asarray(os_months, dtype=float)
        event = np.asarray(os_event, dtype=float)
        if not (x.shape == time.shape == event.shape) or x.ndim != 1:
            raise InputError("score, os_months and os_event must be 1-d and of equal length")
        if not np.isfinite(x).all():
            raise InputError("the score has missing or infinite values", column=LP)
        n = len(x)
        if n < 2 or event.sum() == 0:
            raise InputError(
                f"no deaths among the {n} patients the cut-off is learned on: the log-rank statistic "
                "is undefined, so no cut-off can be selected",
                column=OS_EVENT,
            )
        y = logrank_scores(time, event)
        order = np.argsort(x, kind="stable")
        y, xs = y[order], x[order]
        first = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])  # first of each run of equal x
        m = first[first > 0]  # patients below each distinct value (R: which(!ties) - 1)
        lo, hi = max(1, math.floor(n * self.minprop)), math.floor(n * self.maxprop)
        m = m[(m >= lo) & (m <= hi)]
        if len(m) == 0:
            raise InputError(
                f"no cut-point leaves between {self.minprop:g} and {self.maxprop:g} of the {n} patients "
                f"at or below it ({len(first)} distinct score values)",
                column=LP,
            )
        total = y.sum()
        expect = m / n * total
        variance = m * (n - m) / (n**2 * (n - 1)) * (n * np.sum(y**2) - total**2)
        if not (variance > 0).all():
            raise InputError("the log-rank scores do not vary: no cut-off can be selected", column=OS_EVENT)
        sd = np.sqrt(variance)
        statistics = np.abs((np.cumsum(y)[m - 1] - expect) / sd)
        best = int(np.argmax(statistics))  # the first maximum, as R's min(which(Test == max))
        self.cuts_ = xs[m - 1]
        self.statistics_ = statistics
        self.statistic_ = float(statistics[best])
        self.cutoff_ = float(self.cuts_[best])
        self.n_ = n
        self.n_events_ = int(event.sum())
        self.n_low_ = int(m[best])
        self.n_high_ = n - int(m[best])
        if self.pmethod == "Lau92":
            self.p_value_ = lausen92_p(self.statistic_, self.minprop, self.maxprop)
        elif self.pmethod == "condMC":
            self.p_value_ = _permutation_p(y, m, expect, sd, self.statistic_, self.n_resamples, self.seed)
        else:
            self.p_value_ = float("nan")
        log.info(
            "maxstat cut-off %.6g (statistic %.4f, %s p = %.4g): %d low, %d high of %d patients (%d deaths)",
            self.cutoff_,
            self.statistic_,
            self.pmethod,
            self.p_value_,
            self.n_low_,
            self.n_high_,
            n,
            self.n_events_,
        )
        return self

    def predict(self, score) -> np.ndarray:
        """Risk group per patient: ``"high"`` where score > ``cutoff_``, else ``"low"``."""
        if not hasattr(self, "cutoff_"):
            raise InputError("the cut-off is not fitted yet: call fit first")
        score = np.asarray(score, dtype=float)
        return np.where(score > self.cutoff_, HIGH, LOW).astype(object)

    def profile(self) -> pd.DataFrame:
        """Candidate cut-points and their standardised statistics (R's ``cuts``, ``stats``)."""
        return pd.DataFrame({"cut": self.cuts_, "statistic": self.statistics_})


def _permutation_p(y, m, expect, sd, statistic, n_resamples, seed, *, block_cells=2_000_000):
    """Share of permutations of ``y`` whose maximal statistic exceeds ``statistic``.

    As R's ``maxstat`` C routine ``maxstatpermdist`` (``pvalonly``): p = #{M* > M} / B.
    A relative tolerance of 1e-10 keeps rounding noise of the cumulative sums from
    counting a permutation with the observed statistic as exceeding it.
    """
    rng = np.random.default_rng(seed)
    n = len(y)
    threshold = statistic * (1 + 1e-10)
    block = max(1, block_cells // n)
    count, done = 0, 0
    while done < n_resamples:
        k = min(block, n_resamples - done)
        permuted = rng.permuted(np.tile(y, (k, 1)), axis=1)
        sums = np.cumsum(permuted, axis=1)[:, m - 1]
        maxima = np.abs((sums - expect) / sd).max(axis=1)
        count += int((maxima > threshold).sum())
        done += k
    return count / n_resamples


def cutoff_table(nomogram: str, cutoff: MaxstatCutoff) -> pd.DataFrame:
    """One-row table of a fitted cut-off (``results/stratify/{nomogram}_cutoff.tsv``)."""
    return pd.DataFrame(
        [
            {
                "nomogram": nomogram,
                "cutoff": cutoff.cutoff_,
                "statistic": cutoff.statistic_,
                "p_value": cutoff.p_value_,
                "pmethod": cutoff.pmethod,
                "minprop": cutoff.minprop,
                "maxprop": cutoff.maxprop,
                "n_train": cutoff.n_,
                "events_train": cutoff.n_events_,
                "n_low_train": cutoff.n_low_,
                "n_high_train": cutoff.n_high_,
                "n_candidates": len(cutoff.cuts_),
            }
        ]
    )


# --------------------------------------------------------------------------- input checks
def check_scores(scores: pd.DataFrame, split: pd.DataFrame, *, file=None) -> pd.DataFrame:
    """Check a nomogram's score file against the split table and return it in split order.

    Parameters
    ----------
    scores : pandas.DataFrame
        Columns :data:`SCORE_COLUMNS`: ``patient_id``, ``split`` (train/test),
        ``os_months`` (> 0), ``os_event`` (0/1) and ``lp`` (linear predictor, higher =
        higher risk), one row per patient.
    split : pandas.DataFrame
        ``patient_id`` and ``split`` for every patient (``results/split.tsv``).
    file : str, optional
        Name of the score file, for messages.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SCORE_COLUMNS`, one row per patient of ``split``, in its order.

    Raises
    ------
    InputError
        A missing column, a duplicate patient, a bad value (naming patient, row and
        column), a patient of the split table without score (or a scored patient the
        split table lacks), or a split label that differs from the split table.
    """
    for column in SCORE_COLUMNS:
        if column not in scores.columns:
            raise InputError("the score file lacks this column", file=file, column=column)
    scores = scores.reset_index(drop=True)
    ids = scores[PATIENT_ID].astype(str)
    duplicated = ids.duplicated()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise InputError("duplicate patient", file=file, patient=ids.iloc[row], row=row + 1, column=PATIENT_ID)

    def bad(mask, column, message):
        if mask.any():
            row = int(np.flatnonzero(np.asarray(mask))[0])
            raise InputError(message, file=file, patient=ids.iloc[row], row=row + 1, column=column)

    lp = pd.to_numeric(scores[LP], errors="coerce")
    bad(~np.isfinite(lp.to_numpy(dtype=float)), LP, "the linear predictor is missing or not a finite number")
    months = pd.to_numeric(scores[OS_MONTHS], errors="coerce").to_numpy(dtype=float)
    bad(~(np.isfinite(months) & (months > 0)), OS_MONTHS, "os_months must be a number > 0")
    events = pd.to_numeric(scores[OS_EVENT], errors="coerce").to_numpy(dtype=float)
    bad(~np.isin(events, (0, 1)), OS_EVENT, "os_event must be 0 or 1")
    bad(~scores[SPLIT].isin(SPLIT_LEVELS).to_numpy(), SPLIT, f"split must be one of {', '.join(SPLIT_LEVELS)}")

    split_ids = split[PATIENT_ID].astype(str)
    known = pd.Series(np.arange(len(scores)), index=ids.to_numpy())
    missing = split_ids[~split_ids.isin(ids)]
    if len(missing):
        raise InputError(
            f"patient of the split table has no score ({len(missing)} patient(s) missing)",
            file=file,
            patient=missing.iloc[0],
        )
    extra = ids[~ids.isin(split_ids)]
    if len(extra):
        row = int(extra.index[0])
        raise InputError("patient is not in the split table", file=file, patient=extra.iloc[0], row=row + 1)
    rows = known.reindex(split_ids.to_numpy()).to_numpy()
    out = pd.DataFrame(
        {
            PATIENT_ID: split_ids.to_numpy(),
            SPLIT: scores[SPLIT].to_numpy()[rows],
            OS_MONTHS: months[rows],
            OS_EVENT: events[rows].astype(int),
            LP: lp.to_numpy(dtype=float)[rows],
        }
    )
    differs = out[SPLIT].to_numpy() != split[SPLIT].astype(str).to_numpy()
    if differs.any():
        i = int(np.flatnonzero(differs)[0])
        raise InputError(
            f"split {out[SPLIT].iloc[i]!r} differs from the split table's {split[SPLIT].iloc[i]!r}",
            file=file,
            patient=out[PATIENT_ID].iloc[i],
            row=int(rows[i]) + 1,
            column=SPLIT,
        )
    return out


def join_clinical(risk_groups: pd.DataFrame, clinical: pd.DataFrame, *, file=None) -> pd.DataFrame:
    """Risk groups joined with the validated clinical sheet (one row per patient).

    Raises
    ------
    InputError
        A patient of the risk groups missing from the clinical sheet, or the reverse.
    """
    for column in RISK_GROUP_COLUMNS:
        if column not in risk_groups.columns:
            raise InputError("the risk group table lacks this column", file=file, column=column)
    groups = risk_groups[list(RISK_GROUP_COLUMNS)].copy()
    groups[PATIENT_ID] = groups[PATIENT_ID].astype(str)
    clinical = clinical.copy()
    clinical[PATIENT_ID] = clinical[PATIENT_ID].astype(str)
    clinical = clinical.drop(columns=[c for c in (SPLIT, LP, RISK_GROUP) if c in clinical.columns])
    missing = groups[~groups[PATIENT_ID].isin(clinical[PATIENT_ID])]
    if len(missing):
        raise InputError("patient is not in the clinical sheet", file=file, patient=missing[PATIENT_ID].iloc[0])
    unassigned = clinical[~clinical[PATIENT_ID].isin(groups[PATIENT_ID])]
    if len(unassigned):
        raise InputError(
            "patient of the clinical sheet has no risk group", file=file, patient=unassigned[PATIENT_ID].iloc[0]
        )
    return groups.merge(clinical, on=PATIENT_ID, how="left", validate="one_to_one")


def read_risk_groups_with_clinical(risk_groups_path, clinical_path) -> pd.DataFrame:
    """Read ``risk_groups.tsv`` and the validated clinical sheet and join them (:func:`join_clinical`)."""
    from .io import read_table

    return join_clinical(
        read_table(risk_groups_path, dtype={PATIENT_ID: str}),
        read_table(clinical_path, dtype={PATIENT_ID: str}),
        file=risk_groups_path,
    )


def select_subset(frame: pd.DataFrame, subset: str) -> pd.DataFrame:
    """The patients of one split (``train``/``test``) or all of them (``all``)."""
    if subset not in SUBSETS:
        raise InputError(f"patient set must be one of {', '.join(SUBSETS)}, got {subset!r}")
    return frame if subset == "all" else frame[frame[SPLIT] == subset]


# --------------------------------------------------------------------------- risk groups
def fit_risk_groups(scores: pd.DataFrame, **cutoff_options):
    """Learn the cut-off on the training patients and label every patient.

    Parameters
    ----------
    scores : pandas.DataFrame
        Checked score table (:func:`check_scores`).
    **cutoff_options
        Keyword arguments of :class:`MaxstatCutoff` (minprop, maxprop, pmethod,
        n_resamples, seed).

    Returns
    -------
    (pandas.DataFrame, MaxstatCutoff)
        The score table with column ``risk_group`` (``high`` where lp > cut-off) and
        the fitted cut-off.
    """
    train = scores[scores[SPLIT] == TRAIN]
    if len(train) == 0:
        raise InputError("no training patients: the cut-off is learned on the training set", column=SPLIT)
    cutoff = MaxstatCutoff(**cutoff_options).fit(train[LP], train[OS_MONTHS], train[OS_EVENT])
    groups = scores.copy()
    groups[RISK_GROUP] = cutoff.predict(groups[LP])
    for name in SPLIT_LEVELS:
        part = groups[groups[SPLIT] == name]
        counts = part[RISK_GROUP].value_counts()
        log.info("%s: %d low risk, %d high risk", name, counts.get(LOW, 0), counts.get(HIGH, 0))
        for level in RISK_LEVELS:
            if len(part) and counts.get(level, 0) == 0:
                log.warning("the cut-off leaves no %s-risk patient in the %s set", level, name)
    return groups, cutoff


def _warn(note, where):
    if note:
        log.warning("%s: %s", where, note)


def risk_group_summary(groups: pd.DataFrame, cutoff_row: pd.Series, *, time_months=36.0, conf_level=0.95,
                       conf_type="log") -> pd.DataFrame:
    """High vs low risk in each split (``results/tables/risk_groups_{nomogram}.tsv``).

    Parameters
    ----------
    groups : pandas.DataFrame
        Patients with ``split``, ``os_months``, ``os_event`` and ``risk_group``.
    cutoff_row : pandas.Series
        The cut-off record (a row of :func:`cutoff_table`).
    time_months : float, default 36
        Time point of the survival probabilities (months).
    conf_level, conf_type
        Confidence intervals (see :func:`survsig.km.kaplan_meier`).

    Returns
    -------
    pandas.DataFrame
        One row per split: ``nomogram``, ``split``, ``cutoff``, ``maxstat_statistic``,
        ``maxstat_p``, ``maxstat_pmethod`` (training set's), ``time_months``, then per
        group (low, high) ``n_``, ``events_``, ``os_`` (survival at ``time_months``)
        with ``_lower``/``_upper``, then ``hr`` (high vs low) with ``hr_lower``,
        ``hr_upper``, ``hr_p`` (Wald), ``logrank_chisq``, ``logrank_p`` and ``note``
        (why a value is NaN, see :func:`survsig.km.compare_groups`).
    """
    rows = []
    for name in SPLIT_LEVELS:
        part = groups[groups[SPLIT] == name]
        result = compare_groups(
            part[OS_MONTHS], part[OS_EVENT], part[RISK_GROUP], levels=RISK_LEVELS,
            time_months=time_months, conf_level=conf_level, conf_type=conf_type,
        )
        _warn(result["note"], f"{cutoff_row['nomogram']}, {name} set")
        rows.append(
            {
                "nomogram": cutoff_row["nomogram"],
                SPLIT: name,
                "cutoff": cutoff_row["cutoff"],
                "maxstat_statistic": cutoff_row["statistic"],
                "maxstat_p": cutoff_row["p_value"],
                "maxstat_pmethod": cutoff_row["pmethod"],
                "time_months": float(time_months),
                **result,
            }
        )
    return pd.DataFrame(rows)


def risk_group_table(groups: pd.DataFrame) -> pd.DataFrame:
    """``results/risk_groups.tsv``: patient_id, split, lp, risk_group of every patient."""
    return groups[list(RISK_GROUP_COLUMNS)].reset_index(drop=True)


# --------------------------------------------------------------------------- text helpers
def survival_label(time_months) -> str:
    """``3-year OS`` for 36 months, ``30-month OS`` otherwise."""
    t = float(time_months)
    return f"{t / 12:g}-year OS" if t % 12 == 0 else f"{t:g}-month OS"


def _legend(result, level, time_months):
    return (
        f"n = {result[f'n_{level}']}, deaths {result[f'events_{level}']}; {survival_label(time_months)} "
        + format_survival(result[f"os_{level}"], result[f"os_{level}_lower"], result[f"os_{level}_upper"])
        + "\n"
        + format_median(result[f"median_{level}"], result[f"median_{level}_lower"], result[f"median_{level}_upper"])
    )


def _risk_groups_km(frame, result, time_months):
    return [
        KMGroup(
            RISK_LABELS[level],
            frame.loc[frame[RISK_GROUP] == level, OS_MONTHS].to_numpy(float),
            frame.loc[frame[RISK_GROUP] == level, OS_EVENT].to_numpy(int),
            RISK_COLORS[level],
            legend=_legend(result, level, time_months),
        )
        for level in RISK_LEVELS
    ]


def _comparison_line(result, conf_level, what="High vs low risk"):
    return f"{what}: {format_hr(result['hr'], result['hr_lower'], result['hr_upper'], conf_level=conf_level)}; " \
        f"log-rank {format_p(result['logrank_p'])}"


# --------------------------------------------------------------------------- Fig. 3
def km_risk_figure(groups, cutoff_row, split, *, nomogram, time_months=36.0, conf_level=0.95, conf_type="log",
                   step_months=12.0, cutoff_text=None):
    """Kaplan-Meier curves of the two risk groups in one split (Fig. 3 A-F).

    Header: legend with n, deaths, survival at ``time_months`` (CI) and median survival
    (CI) per group; the
    hazard ratio (high vs low, Cox) and log-rank p; the cut-off (``cutoff_text`` replaces
    its line). Under the plot: the
    numbers at risk at each time tick. Returns the figure (save with
    :func:`survsig.figures.save_figure`).
    """
    part = groups[groups[SPLIT] == split]
    result = compare_groups(
        part[OS_MONTHS], part[OS_EVENT], part[RISK_GROUP], levels=RISK_LEVELS,
        time_months=time_months, conf_level=conf_level, conf_type=conf_type,
    )
    lines = [
        _comparison_line(result, conf_level),
        cutoff_text or f"Cut-off learned on the training set: high risk = lp > {cutoff_row['cutoff']:.4g}",
    ]
    if result["note"]:
        lines.append(f"Note: {result['note']}")
    title = f"{NOMOGRAM_TITLES.get(nomogram, nomogram)}, {SPLIT_TITLES[split]}"
    max_months = float(groups[OS_MONTHS].max())
    km_groups = _risk_groups_km(part, result, time_months)
    with km_style():
        fig = new_figure(PANEL_WIDTH, panel_height(2, lines, legend_lines=legend_line_count(km_groups)))
        draw_km_panel(
            fig, (0, 0), km_groups, title=title, lines=lines,
            step_months=step_months, max_months=max_months, conf_level=conf_level, conf_type=conf_type,
        )
    return fig


# --------------------------------------------------------------------------- Fig. 4
def subgroup_masks(frame, variable):
    """(level name, title, boolean mask) per subgroup level of ``variable``."""
    if variable not in SUBGROUPS:
        raise InputError(f"unknown subgroup variable {variable!r}; one of {', '.join(SUBGROUPS)}")
    if variable not in frame.columns:
        raise InputError("the clinical sheet lacks this column", column=variable)
    return [(name, title, frame[variable].isin(levels).to_numpy()) for name, title, levels in SUBGROUPS[variable]]


def subgroup_table(frame, *, subset="all", time_months=36.0, conf_level=0.95, conf_type="log") -> pd.DataFrame:
    """High vs low risk within each clinical subgroup (Fig. 4; ``subgroups_{subset}.tsv``).

    Parameters
    ----------
    frame : pandas.DataFrame
        Risk groups joined with the clinical sheet (:func:`join_clinical`).
    subset : {"all", "train", "test"}
        Patients analysed.

    Returns
    -------
    pandas.DataFrame
        One row per variable and level of :data:`SUBGROUPS`: ``subset``,
        ``variable``, ``level``, then the columns of :func:`survsig.km.compare_groups`
        (high vs low risk).
    """
    frame = select_subset(frame, subset)
    rows = []
    for variable in SUBGROUPS:
        for name, _, mask in subgroup_masks(frame, variable):
            part = frame[mask]
            result = compare_groups(
                part[OS_MONTHS], part[OS_EVENT], part[RISK_GROUP], levels=RISK_LEVELS,
                time_months=time_months, conf_level=conf_level, conf_type=conf_type,
            )
            _warn(result["note"], f"subgroup {variable} = {name} ({subset})")
            rows.append({"subset": subset, "variable": variable, "level": name, **result})
    return pd.DataFrame(rows)


def subgroup_figure(frame, variable, *, subset="all", nomogram="integrated", time_months=36.0, conf_level=0.95,
                    conf_type="log", step_months=12.0):
    """One KM panel of high vs low risk per level of ``variable``, side by side (Fig. 4)."""
    frame = select_subset(frame, subset)
    panels = []
    for name, title, mask in subgroup_masks(frame, variable):
        part = frame[mask]
        result = compare_groups(
            part[OS_MONTHS], part[OS_EVENT], part[RISK_GROUP], levels=RISK_LEVELS,
            time_months=time_months, conf_level=conf_level, conf_type=conf_type,
        )
        lines = [_comparison_line(result, conf_level)]
        if result["note"]:
            lines.append(f"Note: {result['note']}")
        panels.append((title, _risk_groups_km(part, result, time_months), lines))
    header = f"{NOMOGRAM_TITLES.get(nomogram, nomogram)} risk groups within subgroups, {SPLIT_TITLES[subset]}"
    return _panel_figure(panels, header, frame, step_months, conf_level, conf_type)


def _panel_figure(panels, header, frame, step_months, conf_level, conf_type, footer=""):
    panels = [(title, groups, wrap_lines(lines)) for title, groups, lines in panels]
    n_lines = max(len(lines) for _, _, lines in panels)
    n_groups = max(len(groups) for _, groups, _ in panels)
    legend_lines = max(legend_line_count(groups) for _, groups, _ in panels)
    height = panel_height(n_groups, [""] * n_lines, legend_lines=legend_lines)
    header_h, footer_h = 0.4, (0.3 if footer else 0.0)
    max_months = float(frame[OS_MONTHS].max()) if len(frame) else 12.0
    with km_style():
        fig = new_figure(PANEL_WIDTH * len(panels), height + header_h + footer_h)
        fig.text(0.12 / fig.get_figwidth(), 1 - 0.12 / fig.get_figheight(), header, ha="left", va="top",
                 fontsize=11.5, fontweight="bold")
        for i, (title, groups, lines) in enumerate(panels):
            lines = list(lines) + [""] * (n_lines - len(lines))
            draw_km_panel(
                fig, (PANEL_WIDTH * i, footer_h), groups, title=title, lines=lines, step_months=step_months,
                max_months=max_months, conf_level=conf_level, conf_type=conf_type,
            )
        if footer:
            fig.text(0.12 / fig.get_figwidth(), 0.12 / fig.get_figheight(), footer, ha="left", va="bottom")
    return fig


# --------------------------------------------------------------------------- treatment x risk
def _local(frame):
    return np.where(frame["treatment"].isin(LOCAL_TREATMENTS), "local", "chemotherapy").astype(object)


def interaction_p(frame) -> float:
    """Wald p of the local-treatment x high-risk interaction in a Cox model.

    Model: ``local + high + local:high`` (lifelines, Efron ties). NaN when a cell of
    treatment (local/chemotherapy) x risk group has no deaths or the fit does not
    converge (:func:`survsig.km.fit_cox`).
    """
    local = (_local(frame) == "local").astype(float)
    high = (frame[RISK_GROUP].to_numpy() == HIGH).astype(float)
    event = frame[OS_EVENT].to_numpy(int)
    for a in (0, 1):
        for b in (0, 1):
            if event[(local == a) & (high == b)].sum() == 0:
                return float("nan")
    data = pd.DataFrame(
        {"time": frame[OS_MONTHS].to_numpy(float), "event": event, "local": local, "high": high,
         "local_x_high": local * high}
    )
    fit = fit_cox(data)
    return float("nan") if fit is None else float(fit.summary.loc["local_x_high", "p"])


def treatment_by_risk_table(frame, *, subset="all", time_months=36.0, conf_level=0.95,
                            conf_type="log") -> pd.DataFrame:
    """Local treatment vs chemotherapy within each risk group (``treatment_by_risk_{subset}.tsv``).

    Parameters
    ----------
    frame : pandas.DataFrame
        Risk groups joined with the clinical sheet (:func:`join_clinical`).
    subset : {"all", "train", "test"}
        Patients analysed.

    Returns
    -------
    pandas.DataFrame
        One row per risk group: ``subset``, ``risk_group``, patients per treatment
        (``n_surgery``, ``n_reirradiation``), the columns of
        :func:`survsig.km.compare_groups` for local (surgery or re-irradiation) vs
        chemotherapy (``hr`` < 1: local treatment does better), the three-treatment
        log-rank test (``logrank3_chisq``, ``logrank3_p``, 2 df) and the
        ``interaction_p`` of :func:`interaction_p` over both groups.
    """
    frame = select_subset(frame, subset)
    p_interaction = interaction_p(frame)
    rows = []
    for level in RISK_LEVELS:
        part = frame[frame[RISK_GROUP] == level]
        result = compare_groups(
            part[OS_MONTHS], part[OS_EVENT], _local(part), levels=("chemotherapy", "local"),
            time_months=time_months, conf_level=conf_level, conf_type=conf_type,
        )
        chisq3, _, p3 = logrank(part[OS_MONTHS], part[OS_EVENT], part["treatment"])
        _warn(result["note"], f"treatment within {level} risk ({subset})")
        counts = {f"n_{t}": int((part["treatment"] == t).sum()) for t in LOCAL_TREATMENTS}
        rows.append(
            {"subset": subset, RISK_GROUP: level, **counts, **result, "logrank3_chisq": chisq3,
             "logrank3_p": p3, "interaction_p": p_interaction}
        )
    return pd.DataFrame(rows)


def treatment_by_risk_figure(frame, *, subset="all", nomogram="integrated", time_months=36.0, conf_level=0.95,
                             conf_type="log", step_months=12.0, table=None):
    """KM curves by treatment within the low- and the high-risk group, side by side.

    ``table``: the same patients' :func:`treatment_by_risk_table`, when already
    computed (it is computed here otherwise).
    """
    frame = select_subset(frame, subset)
    if table is None:
        table = treatment_by_risk_table(frame, time_months=time_months, conf_level=conf_level, conf_type=conf_type)
    panels = []
    for level, result in zip(RISK_LEVELS, table.to_dict("records")):
        part = frame[frame[RISK_GROUP] == level]
        groups = []
        for treatment in TREATMENT_COLORS:
            mask = (part["treatment"] == treatment).to_numpy()
            curve = kaplan_meier(part.loc[mask, OS_MONTHS], part.loc[mask, OS_EVENT], conf_level=conf_level,
                                 conf_type=conf_type)
            groups.append(
                KMGroup(
                    TREATMENT_LABELS[treatment],
                    part.loc[mask, OS_MONTHS].to_numpy(float),
                    part.loc[mask, OS_EVENT].to_numpy(int),
                    TREATMENT_COLORS[treatment],
                    legend=f"n = {int(mask.sum())}, deaths {int(part.loc[mask, OS_EVENT].sum())}",
                    curve=curve,
                )
            )
        lines = [
            _comparison_line(result, conf_level, what="Local vs chemotherapy"),
            f"Three treatments: log-rank {format_p(result['logrank3_p'])}",
        ]
        if result["note"]:
            lines.append(f"Note: {result['note']}")
        panels.append((f"{RISK_LABELS[level]} group", groups, lines))
    header = f"Treatment within the risk groups of the {NOMOGRAM_TITLES.get(nomogram, nomogram).lower()}, " \
        f"{SPLIT_TITLES[subset]}"
    footer = (
        "Local treatment = surgery or re-irradiation. Interaction of local treatment and high risk "
        f"(Cox, Wald): {format_p(table['interaction_p'].iloc[0])}"
    )
    return _panel_figure(panels, header, frame, step_months, conf_level, conf_type, footer=footer)


# --------------------------------------------------------------------------- Table S3
#: Table S3 columns: baseline_table's ``train``/``test`` columns, renamed for the groups.
S3_RENAME = {
    TRAIN: "low_risk",
    TEST: "high_risk",
    **{f"{TRAIN}_{k}": f"low_risk_{k}" for k in ("n", "percent", "median", "lower", "upper")},
    **{f"{TEST}_{k}": f"high_risk_{k}" for k in ("n", "percent", "median", "lower", "upper")},
}
S3_TITLE = "Table S3  Clinical characteristics of the low- and high-risk groups"


def risk_group_baseline(frame, *, subset="all", fisher_below_expected=5, fisher_resamples=10000, seed=2022):
    """Table S3: clinical characteristics of the low- vs high-risk group.

    :func:`survsig.table1.baseline_table` with the risk groups in place of the splits
    (low risk in the first column, high risk in the second), so the rows, tests and
    formatting are Table 1's.

    Parameters
    ----------
    frame : pandas.DataFrame
        Risk groups joined with the clinical sheet (:func:`join_clinical`).
    subset : {"all", "train", "test"}
        Patients tabulated.
    fisher_below_expected, fisher_resamples, seed
        As :func:`survsig.table1.baseline_table` (config block ``table1``).

    Returns
    -------
    pandas.DataFrame
        Table 1's columns with ``train``/``test`` renamed ``low_risk``/``high_risk``
        (:data:`S3_RENAME`).

    Raises
    ------
    InputError
        When one risk group has no patient in ``subset``.
    """
    from .table1 import baseline_table

    frame = select_subset(frame, subset)
    for level in RISK_LEVELS:
        if not (frame[RISK_GROUP] == level).any():
            raise InputError(
                f"no {level}-risk patient in {SPLIT_TITLES[subset]}: Table S3 compares two groups", column=RISK_GROUP
            )
    pseudo_split = pd.DataFrame(
        {PATIENT_ID: frame[PATIENT_ID].to_numpy(),
         SPLIT: np.where(frame[RISK_GROUP].to_numpy() == LOW, TRAIN, TEST)}
    )
    clinical = frame.drop(columns=[SPLIT, LP, RISK_GROUP])
    table = baseline_table(
        clinical, pseudo_split, fisher_below_expected=fisher_below_expected, fisher_resamples=fisher_resamples,
        seed=seed,
    )
    return table.rename(columns=S3_RENAME)


def render_risk_group_baseline(table, png_path, pdf_path, *, subset="all", dpi=200):
    """Draw Table S3 (:func:`risk_group_baseline`) with Table 1's renderer."""
    from .table1 import render_table1

    back = table.rename(columns={v: k for k, v in S3_RENAME.items()})
    title = S3_TITLE + ("" if subset == "all" else f" ({SPLIT_TITLES[subset]})")
    render_table1(back, png_path, pdf_path, title=title, set_names=("Low risk", "High risk"), dpi=dpi)


__all__ = [
    "MaxstatCutoff",
    "logrank_scores",
    "lausen92_p",
    "cutoff_table",
    "check_scores",
    "join_clinical",
    "fit_risk_groups",
    "risk_group_summary",
    "risk_group_table",
    "km_risk_figure",
    "subgroup_table",
    "subgroup_figure",
    "interaction_p",
    "treatment_by_risk_table",
    "treatment_by_risk_figure",
    "risk_group_baseline",
    "render_risk_group_baseline",
]
