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
and its figure shows the curves that exist. Errors (:class:`~survsig.core.errors.InputError`,
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

from survsig.core.columns import (
    EXTERNAL,
    HIGH,
    LOW,
    LP,
    OS_EVENT,
    OS_MONTHS,
    PATIENT_ID,
    RISK_GROUP,
    RISK_GROUP_COLUMNS,
    RISK_LEVELS,
    SPLIT,
    SPLIT_LEVELS,
)
from survsig.core.errors import InputError
from survsig.core.figures import TREATMENT_COLOURS, new_figure, style
from survsig.core.files import check_scores, read_risk_groups
from survsig.core.formats import format_p
from survsig.core.io import read_table
from survsig.core.vocabulary import RISK_LABELS, SPLIT_TITLES, SUBGROUPS, TREATMENT_LABELS, nomogram_title
from survsig.statistics.baseline import baseline_figure, baseline_table
from survsig.survival.cox import fit_cox
from survsig.survival.groups import compare_groups, compare_risk_groups, logrank
from survsig.survival.km import kaplan_meier
from survsig.survival.km_figure import (
    PANEL_WIDTH,
    KMGroup,
    comparison_line,
    draw_km_panel,
    km_risk_figure,
    legend_line_count,
    panel_height,
    risk_group_curves,
    wrap_lines,
)

log = logging.getLogger(__name__)

TRAIN, TEST = SPLIT_LEVELS
#: Patient sets a subgroup analysis or Table S3 can use.
SUBSETS = ("all", TRAIN, TEST, EXTERNAL)
PMETHODS = ("none", "Lau92", "condMC")

LOCAL_TREATMENTS = ("surgery", "reirradiation")


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
        return assign_risk_groups(score, self.cutoff_)

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


def assign_risk_groups(score, cutoff: float) -> np.ndarray:
    """Risk group per patient: ``"high"`` where score > ``cutoff``, else ``"low"``
    (the training set's cut-off, applied as it is to any patient)."""
    score = np.asarray(score, dtype=float)
    return np.where(score > cutoff, HIGH, LOW).astype(object)


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
    return join_clinical(
        read_risk_groups(risk_groups_path),
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


def risk_group_summary(
    groups: pd.DataFrame,
    cutoff_row: pd.Series,
    *,
    time_months=36.0,
    conf_level=0.95,
    conf_type="log",
    splits=SPLIT_LEVELS,
) -> pd.DataFrame:
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
        Confidence intervals (see :func:`survsig.survival.km.kaplan_meier`).
    splits : sequence of str
        The sets, in order (an external cohort's summary: ``("external",)``).

    Returns
    -------
    pandas.DataFrame
        One row per split: ``nomogram``, ``split``, ``cutoff``, ``maxstat_statistic``,
        ``maxstat_p``, ``maxstat_pmethod`` (training set's), ``time_months``, then per
        group (low, high) ``n_``, ``events_``, ``os_`` (survival at ``time_months``)
        with ``_lower``/``_upper``, then ``hr`` (high vs low) with ``hr_lower``,
        ``hr_upper``, ``hr_p`` (Wald), ``logrank_chisq``, ``logrank_p`` and ``note``
        (why a value is NaN, see :func:`survsig.survival.groups.compare_groups`).
    """
    rows = []
    for name in splits:
        part = groups[groups[SPLIT] == name]
        result = compare_risk_groups(part, time_months=time_months, conf_level=conf_level, conf_type=conf_type)
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
        ``variable``, ``level``, then the columns of :func:`survsig.survival.groups.compare_groups`
        (high vs low risk).
    """
    frame = select_subset(frame, subset)
    rows = []
    for variable in SUBGROUPS:
        for name, _, mask in subgroup_masks(frame, variable):
            part = frame[mask]
            result = compare_risk_groups(part, time_months=time_months, conf_level=conf_level, conf_type=conf_type)
            _warn(result["note"], f"subgroup {variable} = {name} ({subset})")
            rows.append({"subset": subset, "variable": variable, "level": name, **result})
    return pd.DataFrame(rows)


def subgroup_figure(
    frame,
    variable,
    *,
    subset="all",
    nomogram="integrated",
    time_months=36.0,
    conf_level=0.95,
    conf_type="log",
    step_months=12.0,
):
    """One KM panel of high vs low risk per level of ``variable``, side by side (Fig. 4)."""
    frame = select_subset(frame, subset)
    panels = []
    for _, title, mask in subgroup_masks(frame, variable):
        part = frame[mask]
        result = compare_risk_groups(part, time_months=time_months, conf_level=conf_level, conf_type=conf_type)
        lines = [comparison_line(result, conf_level)]
        if result["note"]:
            lines.append(f"Note: {result['note']}")
        panels.append((title, risk_group_curves(part, result, time_months), lines))
    header = f"{nomogram_title(nomogram)} risk groups within subgroups, {SPLIT_TITLES[subset]}"
    return _panel_figure(panels, header, frame, step_months, conf_level, conf_type)


def _panel_figure(panels, header, frame, step_months, conf_level, conf_type, footer=""):
    panels = [(title, groups, wrap_lines(lines)) for title, groups, lines in panels]
    n_lines = max(len(lines) for _, _, lines in panels)
    n_groups = max(len(groups) for _, groups, _ in panels)
    legend_lines = max(legend_line_count(groups) for _, groups, _ in panels)
    height = panel_height(n_groups, [""] * n_lines, legend_lines=legend_lines)
    header_h, footer_h = 0.4, (0.3 if footer else 0.0)
    max_months = float(frame[OS_MONTHS].max()) if len(frame) else 12.0
    with style("km"):
        fig = new_figure(PANEL_WIDTH * len(panels), height + header_h + footer_h)
        fig.text(
            0.12 / fig.get_figwidth(),
            1 - 0.12 / fig.get_figheight(),
            header,
            ha="left",
            va="top",
            fontsize=11.5,
            fontweight="bold",
        )
        for i, (title, groups, lines) in enumerate(panels):
            lines = list(lines) + [""] * (n_lines - len(lines))
            draw_km_panel(
                fig,
                (PANEL_WIDTH * i, footer_h),
                groups,
                title=title,
                lines=lines,
                step_months=step_months,
                max_months=max_months,
                conf_level=conf_level,
                conf_type=conf_type,
            )
        if footer:
            fig.text(0.12 / fig.get_figwidth(), 0.12 / fig.get_figheight(), footer, ha="left", va="bottom")
    return fig


# --------------------------------------------------------------------------- treatment x risk
def _local(frame):
    return np.where(frame["treatment"].isin(LOCAL_TREATMENTS), "local", "chemotherapy").astype(object)


def interaction_p(frame) -> float:
    """Wald p of the local-treatment x high-risk interaction in a Cox model.

    Model: ``local + high + local:high`` (:func:`survsig.survival.cox.fit_cox`, Efron ties). NaN
    when a cell of treatment (local/chemotherapy) x risk group has no deaths or the
    likelihood is monotone (a coefficient runs off to infinity).
    """
    local = (_local(frame) == "local").astype(float)
    high = (frame[RISK_GROUP].to_numpy() == HIGH).astype(float)
    event = frame[OS_EVENT].to_numpy(int)
    for a in (0, 1):
        for b in (0, 1):
            if event[(local == a) & (high == b)].sum() == 0:
                return float("nan")
    covariates = np.column_stack([local, high, local * high])
    fit = fit_cox(frame[OS_MONTHS].to_numpy(float), event, covariates, names=["local", "high", "local_x_high"])
    return float(fit.summary()["p_value"].iloc[2]) if fit.converged else float("nan")


def treatment_by_risk_table(frame, *, subset="all", time_months=36.0, conf_level=0.95, conf_type="log") -> pd.DataFrame:
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
        :func:`survsig.survival.groups.compare_groups` for local (surgery or re-irradiation) vs
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
            part[OS_MONTHS],
            part[OS_EVENT],
            _local(part),
            levels=("chemotherapy", "local"),
            time_months=time_months,
            conf_level=conf_level,
            conf_type=conf_type,
        )
        chisq3, _, p3 = logrank(part[OS_MONTHS], part[OS_EVENT], part["treatment"])
        _warn(result["note"], f"treatment within {level} risk ({subset})")
        counts = {f"n_{t}": int((part["treatment"] == t).sum()) for t in LOCAL_TREATMENTS}
        rows.append(
            {
                "subset": subset,
                RISK_GROUP: level,
                **counts,
                **result,
                "logrank3_chisq": chisq3,
                "logrank3_p": p3,
                "interaction_p": p_interaction,
            }
        )
    return pd.DataFrame(rows)


def treatment_by_risk_figure(
    frame,
    *,
    subset="all",
    nomogram="integrated",
    time_months=36.0,
    conf_level=0.95,
    conf_type="log",
    step_months=12.0,
    table=None,
):
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
        for treatment in TREATMENT_COLOURS:
            mask = (part["treatment"] == treatment).to_numpy()
            curve = kaplan_meier(
                part.loc[mask, OS_MONTHS], part.loc[mask, OS_EVENT], conf_level=conf_level, conf_type=conf_type
            )
            groups.append(
                KMGroup(
                    TREATMENT_LABELS[treatment],
                    part.loc[mask, OS_MONTHS].to_numpy(float),
                    part.loc[mask, OS_EVENT].to_numpy(int),
                    TREATMENT_COLOURS[treatment],
                    legend=f"n = {int(mask.sum())}, deaths {int(part.loc[mask, OS_EVENT].sum())}",
                    curve=curve,
                )
            )
        lines = [
            comparison_line(result, conf_level, what="Local vs chemotherapy"),
            f"Three treatments: log-rank {format_p(result['logrank3_p'])}",
        ]
        if result["note"]:
            lines.append(f"Note: {result['note']}")
        panels.append((f"{RISK_LABELS[level]} group", groups, lines))
    header = f"Treatment within the risk groups of the {nomogram_title(nomogram).lower()}, {SPLIT_TITLES[subset]}"
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

    :func:`survsig.statistics.baseline.baseline_table` with the risk groups in place of the splits
    (low risk in the first column, high risk in the second), so the rows, tests and
    formatting are Table 1's.

    Parameters
    ----------
    frame : pandas.DataFrame
        Risk groups joined with the clinical sheet (:func:`join_clinical`).
    subset : {"all", "train", "test"}
        Patients tabulated.
    fisher_below_expected, fisher_resamples, seed
        As :func:`survsig.statistics.baseline.baseline_table` (config block ``table1``).

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
    frame = select_subset(frame, subset)
    for level in RISK_LEVELS:
        if not (frame[RISK_GROUP] == level).any():
            raise InputError(
                f"no {level}-risk patient in {SPLIT_TITLES[subset]}: Table S3 compares two groups", column=RISK_GROUP
            )
    pseudo_split = pd.DataFrame(
        {PATIENT_ID: frame[PATIENT_ID].to_numpy(), SPLIT: np.where(frame[RISK_GROUP].to_numpy() == LOW, TRAIN, TEST)}
    )
    clinical = frame.drop(columns=[SPLIT, LP, RISK_GROUP])
    table = baseline_table(
        clinical,
        pseudo_split,
        fisher_below_expected=fisher_below_expected,
        fisher_resamples=fisher_resamples,
        seed=seed,
    )
    return table.rename(columns=S3_RENAME)


def table_s3_figure(table, *, subset="all"):
    """Table S3 (:func:`risk_group_baseline`) drawn as Table 1 is
    (:func:`survsig.statistics.baseline.baseline_figure`)."""
    back = table.rename(columns={v: k for k, v in S3_RENAME.items()})
    title = S3_TITLE + ("" if subset == "all" else f" ({SPLIT_TITLES[subset]})")
    return baseline_figure(back, title=title, set_names=(RISK_LABELS[LOW], RISK_LABELS[HIGH]))


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
    "table_s3_figure",
]
