"""Baseline characteristics of two patient sets, with p-values: Table 1 (training vs test
set) and Table S3 (low- vs high-risk group).

Rows follow Table 1 of the study: age, sex, rT-stage, N-stage, EBV DNA, treatment, the
SUV columns present in the sheet, then deaths and the median follow-up (reverse
Kaplan-Meier). Tests (two-sided):

* categorical, no expected count below ``fisher_below_expected``: Pearson's chi-square
  (:func:`scipy.stats.chi2_contingency`), with Yates' continuity correction for 2 x 2
  tables as R's ``chisq.test`` does by default, without it for larger tables (R applies
  it to 2 x 2 tables only as well);
* categorical with an expected count below ``fisher_below_expected``: Fisher's exact
  test; 2 x 2 exactly (:func:`scipy.stats.fisher_exact`, same p as R's ``fisher.test``);
  larger tables by a seeded Monte Carlo p-value over random tables with the observed
  margins (:func:`scipy.stats.fisher_exact` with :class:`scipy.stats.MonteCarloMethod`,
  p = (1 + #{tables at most as probable}) / (B + 1), as R's
  ``fisher.test(simulate.p.value = TRUE, B = 10000)``). SciPy offers no exact network
  algorithm for r x c tables;
* continuous: Mann-Whitney U (:func:`scipy.stats.mannwhitneyu`, SciPy's default method
  and continuity correction).

Levels no patient has are shown (0 (0.0)) but left out of the test's table.
"""

from __future__ import annotations

import logging
import math
import textwrap

import matplotlib.lines
import numpy as np
import pandas as pd
from scipy import stats

from survsig.core.columns import (
    CATEGORY_LEVELS,
    CLINICAL_REQUIRED,
    OS_EVENT,
    OS_MONTHS,
    PATIENT_ID,
    SPLIT,
    SPLIT_LEVELS,
    SUV_COLUMNS,
)
from survsig.core.errors import InputError
from survsig.core.figures import new_figure, style
from survsig.core.formats import format_p_cell as format_p
from survsig.core.formats import suv_mathtext
from survsig.core.vocabulary import EN_DASH as DASH
from survsig.core.vocabulary import SUV_KIND_LABELS as SUV_LABELS
from survsig.survival.km import reverse_km_follow_up

TRAIN, TEST = SPLIT_LEVELS
log = logging.getLogger(__name__)

#: Columns of the table returned by :func:`baseline_table`, in order.
TABLE_COLUMNS = (
    "characteristic",  # machine name: a clinical column, "patients", "deaths", "follow_up"
    "level",  # category level (canonical label); empty on summary rows
    "label",  # text shown in the figure
    "statistic",  # "n", "n (%)", "median (range)", "median (IQR)"
    TRAIN,  # formatted text, training set
    TEST,  # formatted text, test set
    "train_n",
    "train_percent",
    "test_n",
    "test_percent",
    "train_median",
    "train_lower",
    "train_upper",
    "test_median",
    "test_lower",
    "test_upper",
    "p_value",
    "method",  # name of the test behind p_value
)

CATEGORY_TITLES = {
    "sex": "Sex, no. (%)",
    "rT_stage": "rT-stage, no. (%)",
    "N_stage": "N-stage, no. (%)",
    "ebv_dna": "EBV-DNA, no. (%)",
    "treatment": "Treatment, no. (%)",
}
LEVEL_LABELS = {
    "sex": {"M": "Male", "F": "Female"},
    "ebv_dna": {"undetectable": "Undetectable", "detectable": "Detectable"},
    "treatment": {"surgery": "Surgery", "reirradiation": "Re-radiation", "chemotherapy": "Chemotherapy"},
}
SUV_GROUPS = {"tumor": "Tumor SUV, median (range)", "node": "Lymph node SUV, median (range)"}
AGE_LABEL = "Age (years), median (range)"
DEATHS_LABEL = "Deaths, no. (%)"
FOLLOW_UP_LABEL = "Follow-up (months), median (IQR)"

CHI2 = "Pearson chi-square"
CHI2_YATES = "Pearson chi-square, Yates' correction"
FISHER = "Fisher's exact"
FISHER_MC = "Fisher's exact, Monte Carlo (B = {B})"
MANN_WHITNEY = "Mann-Whitney U"
REVERSE_KM = "reverse Kaplan-Meier"


# --------------------------------------------------------------------------- formatting
def _number(value, digits):
    """Format a number; ``digits=None``: integer if integral, else one decimal."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NA"
    if math.isinf(value):
        return "NR"  # not reached (reverse Kaplan-Meier quantile)
    if digits is None:
        return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return f"{value:.{digits}f}"


def _count(n, total):
    percent = 100.0 * n / total if total else float("nan")
    return f"{n} ({_number(percent, 1)})", percent


def _interval(center, lower, upper, digits):
    return f"{_number(center, digits)} ({_number(lower, digits)}{DASH}{_number(upper, digits)})"


# --------------------------------------------------------------------------- tests
def categorical_test(table, *, fisher_below_expected=5, resamples=10000, seed=2022):
    """Test independence of a levels x splits contingency table.

    Parameters
    ----------
    table : array_like of int, shape (levels, 2)
        Patient counts; rows are category levels, columns the training and test sets.
        Rows without patients are dropped first.
    fisher_below_expected : float, default 5
        Fisher's exact test is used when any expected count is below this (patients);
        0 never uses it.
    resamples : int, default 10000
        Monte Carlo tables (B) for Fisher's test on tables larger than 2 x 2.
    seed : int, default 2022
        Seed of the Monte Carlo generator (one fresh generator per call).

    Returns
    -------
    (float, str)
        Two-sided p-value (NaN when fewer than two levels or splits have patients) and
        the name of the test used (empty when none).
    """
    table = np.asarray(table, dtype=np.int64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.ndim != 2 or min(table.shape) < 2:
        return float("nan"), ""
    expected = stats.contingency.expected_freq(table)
    if (expected < fisher_below_expected).any():
        if table.shape == (2, 2):
            return float(stats.fisher_exact(table).pvalue), FISHER
        method = stats.MonteCarloMethod(n_resamples=int(resamples), rng=np.random.default_rng(seed))
        return float(stats.fisher_exact(table, method=method).pvalue), FISHER_MC.format(B=int(resamples))
    if table.shape == (2, 2):
        return float(stats.chi2_contingency(table, correction=True).pvalue), CHI2_YATES
    return float(stats.chi2_contingency(table, correction=False).pvalue), CHI2


def continuous_test(train, test):
    """Two-sided Mann-Whitney U p-value of two samples (NaN values dropped).

    Returns
    -------
    (float, str)
        p-value (NaN when a sample is empty) and the test's name.
    """
    train = np.asarray(train, dtype=float)
    test = np.asarray(test, dtype=float)
    train, test = train[~np.isnan(train)], test[~np.isnan(test)]
    if len(train) == 0 or len(test) == 0:
        return float("nan"), ""
    return float(stats.mannwhitneyu(train, test, alternative="two-sided").pvalue), MANN_WHITNEY


# --------------------------------------------------------------------------- table
def _row(characteristic, level="", label="", statistic="", **values):
    row = dict.fromkeys(TABLE_COLUMNS, np.nan)
    row.update(
        characteristic=characteristic, level=level, label=label, statistic=statistic, method="", train="", test=""
    )
    row.update(values)
    return row


def _join_split(clinical, split):
    missing = [c for c in CLINICAL_REQUIRED if c not in clinical.columns]
    if missing:
        raise InputError(f"the clinical sheet lacks column(s): {', '.join(missing)}", column=missing[0])
    for column in (PATIENT_ID, SPLIT):
        if column not in split.columns:
            raise InputError("the split table lacks this column", column=column)
    ids = clinical[PATIENT_ID].astype(str)
    split_ids = split[PATIENT_ID].astype(str)
    if split_ids.duplicated().any():
        raise InputError("duplicate patient in the split table", patient=split_ids[split_ids.duplicated()].iloc[0])
    labels = pd.Series(split[SPLIT].to_numpy(), index=split_ids.to_numpy())
    for row, (patient, label) in enumerate(labels.items(), start=1):
        if label not in SPLIT_LEVELS:
            raise InputError(
                f"split label {label!r} is not one of {', '.join(SPLIT_LEVELS)}",
                patient=patient,
                row=row,
                column=SPLIT,
            )
    unknown = split_ids[~split_ids.isin(ids)]
    if len(unknown):
        raise InputError("patient in the split table is not in the clinical sheet", patient=unknown.iloc[0])
    unassigned = ids[~ids.isin(split_ids)]
    if len(unassigned):
        raise InputError("patient of the clinical sheet has no split", patient=unassigned.iloc[0], column=SPLIT)
    assigned = labels.reindex(ids.to_numpy()).to_numpy()
    for level in SPLIT_LEVELS:
        if not (assigned == level).any():
            raise InputError(f"the '{level}' set is empty", column=SPLIT)
    for column, levels in CATEGORY_LEVELS.items():
        bad = ~clinical[column].isin(levels)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"{clinical[column].iloc[row]!r} is not one of {', '.join(levels)}",
                patient=ids.iloc[row],
                row=row + 1,
                column=column,
            )
    return assigned


def _continuous_row(characteristic, label, values, is_train, digits):
    values = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    row = _row(characteristic, label=label, statistic="median (range)")
    for name, mask in ((TRAIN, is_train), (TEST, ~is_train)):
        x = values[mask]
        x = x[~np.isnan(x)]
        if len(x):
            med, low, high = float(np.median(x)), float(x.min()), float(x.max())
            row.update({name: _interval(med, low, high, digits), f"{name}_median": med})
            row.update({f"{name}_lower": low, f"{name}_upper": high})
        else:
            row[name] = "NA"
    p, method = continuous_test(values[is_train], values[~is_train])
    row.update(p_value=p, method=method)
    return row


def baseline_table(
    clinical: pd.DataFrame,
    split: pd.DataFrame,
    *,
    fisher_below_expected: float = 5,
    fisher_resamples: int = 10000,
    seed: int = 2022,
) -> pd.DataFrame:
    """Baseline characteristics by split, shaped like Table 1 of the study.

    Parameters
    ----------
    clinical : pandas.DataFrame
        Validated clinical sheet with canonical columns (:mod:`survsig.core.columns`): age
        (years), os_months (months), os_event (0/1), the categorical columns and any of
        the SUV columns (g/mL; NaN values are left out of medians and tests).
    split : pandas.DataFrame
        ``patient_id`` and ``split`` (``train``/``test``) for every patient of
        ``clinical``, as written by :func:`survsig.cohort.split.split_cohort`.
    fisher_below_expected : float, default 5
        Use Fisher's exact test instead of chi-square when any expected count of a
        categorical table is below this number of patients.
    fisher_resamples : int, default 10000
        Monte Carlo tables (B) for Fisher's test on tables larger than 2 x 2.
    seed : int, default 2022
        Seed of those Monte Carlo draws (a fresh generator per test, so each p-value
        depends on its own table only).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TABLE_COLUMNS`, in the study's row order: ``patients`` (n per
        set), ``age`` median (range), for each categorical column a header row (label,
        p-value, test) then one row per canonical level with n and % of the set, one
        median (range) row per SUV column present, ``deaths`` n (%), and ``follow_up``
        median (IQR) in months by the reverse Kaplan-Meier method (``inf``/"NR" when not
        reached). ``train``/``test`` hold the formatted text, the ``*_n``,
        ``*_percent``, ``*_median``, ``*_lower`` and ``*_upper`` columns the numbers
        (percent in %, lower/upper = min/max or quartiles), ``method`` the test behind
        ``p_value``.

    Raises
    ------
    InputError
        A missing column, a patient without split (or a split patient not in the
        sheet), a bad split label, an empty set, or a category outside the canonical
        levels.
    """
    assigned = _join_split(clinical, split)
    is_train = assigned == TRAIN
    totals = {TRAIN: int(is_train.sum()), TEST: int((~is_train).sum())}
    rows = [
        _row(
            "patients",
            label="Patients, no.",
            statistic="n",
            train=str(totals[TRAIN]),
            test=str(totals[TEST]),
            train_n=totals[TRAIN],
            test_n=totals[TEST],
        )
    ]
    rows.append(_continuous_row("age", AGE_LABEL, clinical["age"], is_train, None))

    def categorical(characteristic, title, values, levels, level_labels):
        counts = np.array(
            [[int(((values == level) & mask).sum()) for mask in (is_train, ~is_train)] for level in levels]
        )
        p, method = categorical_test(
            counts, fisher_below_expected=fisher_below_expected, resamples=fisher_resamples, seed=seed
        )
        out = [_row(characteristic, label=title, statistic="n (%)", p_value=p, method=method)]
        for level, (n_train, n_test) in zip(levels, counts):
            text_train, pct_train = _count(int(n_train), totals[TRAIN])
            text_test, pct_test = _count(int(n_test), totals[TEST])
            out.append(
                _row(
                    characteristic,
                    level=str(level),
                    label=level_labels.get(level, str(level)),
                    statistic="n (%)",
                    train=text_train,
                    test=text_test,
                    train_n=int(n_train),
                    train_percent=pct_train,
                    test_n=int(n_test),
                    test_percent=pct_test,
                )
            )
        return out

    for column, levels in CATEGORY_LEVELS.items():
        rows += categorical(column, CATEGORY_TITLES[column], clinical[column], levels, LEVEL_LABELS.get(column, {}))

    for column in SUV_COLUMNS:
        if column in clinical.columns:
            site, kind = column.split("_suv_")
            label = f"{SUV_GROUPS[site].split(' SUV,')[0]} {SUV_LABELS[kind]}, median (range)"
            rows.append(_continuous_row(column, label, clinical[column], is_train, 2))

    events = pd.to_numeric(clinical[OS_EVENT]).astype(int).to_numpy()
    death_counts = np.array(
        [
            [int((events[mask] == 1).sum()) for mask in (is_train, ~is_train)],
            [int((events[mask] == 0).sum()) for mask in (is_train, ~is_train)],
        ]
    )
    p, method = categorical_test(
        death_counts, fisher_below_expected=fisher_below_expected, resamples=fisher_resamples, seed=seed
    )
    deaths = _row("deaths", label=DEATHS_LABEL, statistic="n (%)", p_value=p, method=method)
    for name, n_deaths in zip((TRAIN, TEST), death_counts[0]):
        text, pct = _count(int(n_deaths), totals[name])
        deaths.update({name: text, f"{name}_n": int(n_deaths), f"{name}_percent": pct})
    rows.append(deaths)

    months = pd.to_numeric(clinical[OS_MONTHS]).to_numpy(dtype=float)
    follow = _row("follow_up", label=FOLLOW_UP_LABEL, statistic="median (IQR)", method=REVERSE_KM)
    for name, mask in ((TRAIN, is_train), (TEST, ~is_train)):
        med, q1, q3 = reverse_km_follow_up(months[mask], events[mask])
        follow.update({name: _interval(med, q1, q3, 1), f"{name}_median": med})
        follow.update({f"{name}_lower": q1, f"{name}_upper": q3})
    rows.append(follow)

    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    tested = table[table["method"] != ""]
    log.info(
        "Table 1: %d training and %d test patients; %s",
        totals[TRAIN],
        totals[TEST],
        "; ".join(f"{c}: {m}" for c, m in zip(tested["characteristic"], tested["method"])),
    )
    for column in ("train_n", "test_n"):
        table[column] = table[column].astype("Int64")
    return table


# --------------------------------------------------------------------------- figure
def _text(value):
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value) else str(value)


def _figure_rows(table):
    """(label, indent, bold, train, test, p) per figure line, SUV rows grouped by site."""
    lines = []
    open_group = None
    for rec in table.to_dict("records"):
        characteristic, level = _text(rec["characteristic"]), _text(rec["level"])
        if characteristic == "patients":
            continue
        p_text = format_p(rec["p_value"])
        if p_text and _text(rec["method"]).startswith(FISHER):
            p_text += "\u2020"  # dagger: Fisher's exact test
        values = (_text(rec[TRAIN]), _text(rec[TEST]), p_text)
        if characteristic in SUV_COLUMNS:
            site, kind = characteristic.split("_suv_")
            if open_group != site:
                lines.append((SUV_GROUPS[site], 0, True, "", "", ""))
                open_group = site
            lines.append((suv_mathtext(SUV_LABELS[kind]), 1, False, *values))
            continue
        open_group = None
        if level:
            lines.append((_text(rec["label"]), 1, False, *values))
        else:
            lines.append((_text(rec["label"]), 0, True, *values))
    return lines


def _footnote(table):
    used = {_text(m) for m in table["method"]}
    notes = ["* p < 0.05."]
    if any(m.startswith(FISHER) for m in used):
        text = "\u2020 Fisher's exact test (an expected count was small)"
        mc = sorted(m for m in used if m.startswith(FISHER) and "Monte Carlo" in m)
        if mc:
            detail = mc[0][len(FISHER) + len(", Monte Carlo") :].replace(" ", "\u00a0")
            text += "; tables larger than 2\u00a0\u00d7\u00a02 by Monte Carlo p-value" + detail
        notes.append(text + ".")
    if used & {CHI2, CHI2_YATES}:
        other = "Other categorical" if any(m.startswith(FISHER) for m in used) else "Categorical"
        text = f"{other} rows: Pearson's chi-square test"
        if CHI2_YATES in used:
            text += " (Yates' continuity correction for 2\u00a0\u00d7\u00a02 tables)"
        notes.append(text + ".")
    if MANN_WHITNEY in used:
        notes.append("Continuous rows: Mann-Whitney U test (two-sided).")
    if (table["characteristic"] == "follow_up").any():
        notes.append("Follow-up by the reverse Kaplan-Meier method (NR: not reached).")
    if any(c in SUV_COLUMNS for c in table["characteristic"]):
        notes.append("SUV, standardized uptake value (g/mL).")
    notes.append("EBV-DNA, Epstein-Barr virus DNA.")
    return textwrap.fill(" ".join(notes), width=115)


TITLE = "Table 1  Baseline characteristics of the training and test sets"


def baseline_figure(
    table: pd.DataFrame,
    *,
    title: str = TITLE,
    set_names: tuple = ("Training set", "Test set"),
):
    """Table 1 as a figure.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`baseline_table` (or the same table read back from its TSV).
    title : str, optional
        Title above the table.
    set_names : (str, str), default ("Training set", "Test set")
        Headers of the ``train`` and ``test`` columns (e.g. two risk groups compared
        in their place, Table S3).

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Three-line table layout: column headers "Training set (n = ..)", "Test set (n = ..)"
    and "p value"; categories in bold with indented levels; SUV rows grouped under
    "Tumor SUV" / "Lymph node SUV"; p < 0.05 marked with ``*``.
    """
    patients = table[table["characteristic"] == "patients"]
    n = {name: (int(patients[f"{name}_n"].iloc[0]) if len(patients) else None) for name in (TRAIN, TEST)}
    headers = [
        "Characteristics",
        f"{set_names[0]} (n = {n[TRAIN]})" if n[TRAIN] is not None else set_names[0],
        f"{set_names[1]} (n = {n[TEST]})" if n[TEST] is not None else set_names[1],
        "p value",
    ]
    lines = _figure_rows(table)
    footnote = _footnote(table)

    row_h = 0.25  # inches per line
    width = 8.5
    top, title_h, header_h = 0.25, 0.45, 0.4
    foot_h = 0.18 * (footnote.count("\n") + 1) + 0.25
    height = top + title_h + header_h + row_h * len(lines) + 0.15 + foot_h
    x_label, x_indent, x_train, x_test, x_p, x_right = 0.35, 0.6, 4.45, 6.15, 7.55, width - 0.3

    with style("table"):
        fig = new_figure(width, height)

        def y(inches_from_top):
            return 1.0 - inches_from_top / height

        def hline(at, lw):
            fig.add_artist(
                matplotlib.lines.Line2D(
                    [x_label / width - 0.01, x_right / width], [y(at), y(at)], color="black", linewidth=lw
                )
            )

        fig.text(x_label / width, y(top), title, ha="left", va="top", fontsize=11.5, fontweight="bold")
        head_top = top + title_h
        hline(head_top, 1.2)
        head_y = head_top + header_h / 2
        fig.text(x_label / width, y(head_y), headers[0], ha="left", va="center", fontweight="bold")
        for x, text in ((x_train, headers[1]), (x_test, headers[2])):
            fig.text(x / width, y(head_y), text, ha="center", va="center", fontweight="bold")
        fig.text(x_p / width, y(head_y), "$\\mathbfit{p}$ value", ha="center", va="center", fontweight="bold")
        body_top = head_top + header_h
        hline(body_top, 0.8)
        for i, (label, indent, bold, train, test, p) in enumerate(lines):
            at = y(body_top + row_h * (i + 0.5))
            x0 = x_indent if indent else x_label
            fig.text(x0 / width, at, label, ha="left", va="center", fontweight="bold" if bold else "normal")
            fig.text(x_train / width, at, train, ha="center", va="center")
            fig.text(x_test / width, at, test, ha="center", va="center")
            fig.text(x_p / width, at, p, ha="center", va="center", fontweight="bold" if "*" in p else "normal")
        body_end = body_top + row_h * len(lines) + 0.05
        hline(body_end, 1.2)
        fig.text(x_label / width, y(body_end + 0.12), footnote, ha="left", va="top", fontsize=8, linespacing=1.5)
    return fig
