"""Table 1: hand-counted values, p-values against scipy and R, and reproducible files."""

import hashlib
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from survsig.core.errors import InputError
from survsig.core.figures import save_figure
from survsig.core.formats import format_p_cell as format_p
from survsig.core.io import read_table, write_tsv
from survsig.statistics.baseline import (
    TABLE_COLUMNS,
    baseline_figure,
    baseline_table,
    categorical_test,
    continuous_test,
)
from survsig.survival.km import reverse_km_follow_up, survival_quantile

# Ten patients: six in the training set (P01-P06), four in the test set (P07-P10).
SMALL = pd.DataFrame(
    {
        "patient_id": [f"P{i:02d}" for i in range(1, 11)],
        "os_months": [10, 20, 30, 40, 50, 60, 15, 25, 35, 45],
        "os_event": [1, 0, 1, 0, 0, 1, 0, 1, 0, 0],
        "age": [40, 50, 60, 45, 55, 35, 30, 70, 65, 52],
        "sex": ["M", "M", "M", "F", "M", "F", "M", "F", "F", "M"],
        "rT_stage": ["T3", "T3", "T4", "T0", "T1", "T3", "T4", "T2", "T3", "T3"],
        "N_stage": ["N0", "N0", "N1", "N0", "N2", "N1", "N0", "N0", "N3", "N1"],
        "ebv_dna": ["detectable"] * 2
        + ["undetectable"] * 2
        + ["detectable"] * 2
        + ["undetectable"] * 2
        + ["detectable", "undetectable"],
        "treatment": [
            "surgery",
            "reirradiation",
            "reirradiation",
            "chemotherapy",
            "reirradiation",
            "surgery",
            "reirradiation",
            "reirradiation",
            "surgery",
            "chemotherapy",
        ],
        "tumor_suv_max": [8.1, 12.5, 3.3, 0.0, 6.6, 9.9, 4.4, 15.2, 7.7, 5.0],
    }
)
SMALL_SPLIT = pd.DataFrame({"patient_id": SMALL["patient_id"], "split": ["train"] * 6 + ["test"] * 4})


def row(table, characteristic, level=""):
    hit = table[(table["characteristic"] == characteristic) & (table["level"] == level)]
    assert len(hit) == 1, (characteristic, level)
    return hit.iloc[0]


def crosstab(column, clinical=SMALL, split=SMALL_SPLIT):
    joined = clinical.merge(split, on="patient_id")
    table = pd.crosstab(joined[column], joined["split"])[["train", "test"]]
    return table.to_numpy()


# --------------------------------------------------------------------------- references
def test_fisher_2x2_tea_tasting():
    p, method = categorical_test([[3, 1], [1, 3]])
    assert method == "Fisher's exact"
    assert round(p, 4) == 0.4857


def test_chisq_2x2_matches_r_yates():
    # R: chisq.test(matrix(c(12, 5, 7, 7), 2)) -> X-squared = 0.64112, df = 1, p-value = 0.4233
    table = np.array([[12, 7], [5, 7]])
    p, method = categorical_test(table)  # smallest expected count 5.42 >= 5: chi-square
    assert method == "Pearson chi-square, Yates' correction"
    assert round(p, 4) == 0.4233
    assert stats.chi2.isf(p, df=1) == pytest.approx(0.64112, abs=5e-6)
    # the uncorrected statistic would differ: Yates' correction is applied
    assert p != pytest.approx(stats.chi2_contingency(table, correction=False).pvalue)


def test_chisq_rxc_without_correction():
    table = np.array([[34, 24], [27, 20], [28, 8], [108, 72], [72, 27]])  # the paper's rT-stage
    p, method = categorical_test(table)
    assert method == "Pearson chi-square"
    expected = stats.chi2_contingency(table, correction=False)
    assert p == pytest.approx(expected.pvalue, rel=1e-12)
    statistic = ((table - expected.expected_freq) ** 2 / expected.expected_freq).sum()
    assert p == pytest.approx(stats.chi2.sf(statistic, df=4), rel=1e-12)


def exact_fisher_kx2(table):
    """Exact r x 2 Fisher p by enumerating every table with the observed margins."""
    table = np.asarray(table)
    rows, col0, n = table.sum(axis=1), table[:, 0].sum(), table.sum()

    def prob(first):
        return math.prod(math.comb(int(r), int(x)) for r, x in zip(rows, first)) / math.comb(int(n), int(col0))

    observed = prob(table[:, 0])
    total = 0.0
    for first in itertools.product(*(range(int(r) + 1) for r in rows)):
        if sum(first) == col0:
            q = prob(first)
            if q <= observed * (1 + 1e-7):
                total += q
    return total


def test_fisher_rxc_monte_carlo_close_to_exact_and_seeded():
    table = np.array([[3, 1], [1, 3], [4, 0], [2, 4]])
    p, method = categorical_test(table)
    assert method == "Fisher's exact, Monte Carlo (B = 10000)"
    assert p == pytest.approx(exact_fisher_kx2(table), abs=0.015)  # 3 standard errors at B = 10000
    again, _ = categorical_test(table)
    assert again == p
    other, _ = categorical_test(table, seed=1)
    assert other != p
    # the same seeded scipy call gives the same number
    method = stats.MonteCarloMethod(n_resamples=10000, rng=np.random.default_rng(2022))
    assert p == stats.fisher_exact(table, method=method).pvalue


def test_empty_levels_left_out_of_the_test():
    with_empty = np.array([[5, 9], [0, 0], [12, 3]])
    assert categorical_test(with_empty) == categorical_test(with_empty[[0, 2]])
    assert math.isnan(categorical_test([[5, 0], [0, 0]])[0])


def test_mann_whitney_matches_scipy():
    x, y = [40, 50, 60, 45, 55, 35], [30, 70, 65, 52]
    p, method = continuous_test(x, y)
    assert method == "Mann-Whitney U"
    assert p == stats.mannwhitneyu(x, y, alternative="two-sided").pvalue


def test_reverse_km_hand_computed():
    # deaths at 1 and 3 are censorings of the follow-up; follow-up "ends" at 2, 4, 5, 6:
    # S(2) = 4/5 = 0.8, S(4) = 0.8 * 2/3 = 0.533, S(5) = 0.267, S(6) = 0
    median, q1, q3 = reverse_km_follow_up([1, 2, 3, 4, 5, 6], [1, 0, 1, 0, 0, 0])
    assert (median, q1, q3) == (5.0, 4.0, 6.0)
    # everyone alive: S(3) = 0.5 exactly until 4, so the median is 3.5 as in R's
    # quantile(survfit(Surv(1:6, rep(1, 6)) ~ 1), 0.5)
    assert reverse_km_follow_up([1, 2, 3, 4, 5, 6], [0] * 6) == (3.5, 2.0, 5.0)
    # follow-up ends at 1 (S = 3/4) and 2 (S = 1/2); the last two died: the curve stays at
    # 0.5 (median 2, the flat has no end), Q1 on the flat at 0.75 -> 1.5, Q3 not reached
    median, q1, q3 = reverse_km_follow_up([1, 2, 3, 4], [0, 0, 1, 1])
    assert (median, q1) == (2.0, 1.5) and math.isinf(q3)


def test_survival_quantile_r_rule():
    times, surv = [0, 1, 2, 3, 4], [1.0, 0.75, 0.5, 0.5, 0.25]
    assert survival_quantile(times, surv, 0.5) == 3.0  # flat at 0.5 from 2 until the drop at 4
    assert survival_quantile(times, surv, 0.6) == 2.0
    assert survival_quantile(times, surv, 0.75) == 1.5
    assert math.isinf(survival_quantile(times, surv, 0.2))


def test_format_p():
    assert [format_p(p) for p in (0.2314, 0.0104, 0.0004, float("nan"))] == ["0.231", "0.010*", "< 0.001*", ""]


# --------------------------------------------------------------------------- the table
def test_hand_counted_values():
    table = baseline_table(SMALL, SMALL_SPLIT)
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert (row(table, "patients")["train_n"], row(table, "patients")["test_n"]) == (6, 4)

    age = row(table, "age")
    assert (age["train"], age["test"]) == ("47.5 (35\u201360)", "58.5 (30\u201370)")
    assert (age["train_median"], age["train_lower"], age["train_upper"]) == (47.5, 35, 60)

    expected = {
        ("sex", "M"): ("4 (66.7)", "2 (50.0)"),
        ("sex", "F"): ("2 (33.3)", "2 (50.0)"),
        ("rT_stage", "T0"): ("1 (16.7)", "0 (0.0)"),
        ("rT_stage", "T1"): ("1 (16.7)", "0 (0.0)"),
        ("rT_stage", "T2"): ("0 (0.0)", "1 (25.0)"),
        ("rT_stage", "T3"): ("3 (50.0)", "2 (50.0)"),
        ("rT_stage", "T4"): ("1 (16.7)", "1 (25.0)"),
        ("N_stage", "N0"): ("3 (50.0)", "2 (50.0)"),
        ("N_stage", "N1"): ("2 (33.3)", "1 (25.0)"),
        ("N_stage", "N2"): ("1 (16.7)", "0 (0.0)"),
        ("N_stage", "N3"): ("0 (0.0)", "1 (25.0)"),
        ("ebv_dna", "undetectable"): ("2 (33.3)", "3 (75.0)"),
        ("ebv_dna", "detectable"): ("4 (66.7)", "1 (25.0)"),
        ("treatment", "surgery"): ("2 (33.3)", "1 (25.0)"),
        ("treatment", "reirradiation"): ("3 (50.0)", "2 (50.0)"),
        ("treatment", "chemotherapy"): ("1 (16.7)", "1 (25.0)"),
    }
    for (characteristic, level), (train, test) in expected.items():
        r = row(table, characteristic, level)
        assert (r["train"], r["test"]) == (train, test), (characteristic, level)
        assert r["train_n"] == int(train.split()[0]) and r["test_n"] == int(test.split()[0])
        assert r["train_percent"] == pytest.approx(100 * r["train_n"] / 6)
        assert r["test_percent"] == pytest.approx(100 * r["test_n"] / 4)
    # levels in canonical order, each category preceded by its header row
    assert list(table.loc[table["characteristic"] == "rT_stage", "level"]) == ["", "T0", "T1", "T2", "T3", "T4"]

    suv = row(table, "tumor_suv_max")
    assert (suv["train"], suv["test"]) == ("7.35 (0.00\u201312.50)", "6.35 (4.40\u201315.20)")
    assert "node_suv_max" not in set(table["characteristic"])  # absent columns are left out

    deaths = row(table, "deaths")
    assert (deaths["train"], deaths["test"]) == ("3 (50.0)", "1 (25.0)")
    follow = row(table, "follow_up")
    # training set: deaths at 10, 30, 60 censor follow-up; it ends at 20, 40, 50
    # S(20) = 4/5, S(40) = 4/5 * 2/3 = 0.53, S(50) = 0.27 -> median 50, Q1 40, Q3 60 (S(60) = 0.27)
    assert (follow["train_median"], follow["train_lower"]) == (50.0, 40.0)
    assert math.isinf(follow["train_upper"]) and follow["train"] == "50.0 (40.0\u2013NR)"
    assert follow["method"] == "reverse Kaplan-Meier"


def test_p_values_equal_scipy_on_the_same_tables():
    # small counts: Fisher (2 x 2 exact; larger tables Monte Carlo, seeded)
    table = baseline_table(SMALL, SMALL_SPLIT)
    sex = row(table, "sex")
    assert sex["method"] == "Fisher's exact"
    assert sex["p_value"] == pytest.approx(stats.fisher_exact(crosstab("sex")).pvalue, rel=1e-12)
    rt = row(table, "rT_stage")
    assert rt["method"] == "Fisher's exact, Monte Carlo (B = 10000)"
    mc = stats.MonteCarloMethod(n_resamples=10000, rng=np.random.default_rng(2022))
    assert rt["p_value"] == stats.fisher_exact(crosstab("rT_stage"), method=mc).pvalue
    assert (
        row(table, "age")["p_value"]
        == stats.mannwhitneyu(SMALL["age"][:6], SMALL["age"][6:], alternative="two-sided").pvalue
    )
    assert (
        row(table, "tumor_suv_max")["p_value"]
        == stats.mannwhitneyu(SMALL["tumor_suv_max"][:6], SMALL["tumor_suv_max"][6:], alternative="two-sided").pvalue
    )
    # level rows carry no p-value
    assert row(table, "sex", "M")[["p_value"]].isna().all()

    # fisher_below_expected=0: chi-square everywhere (Yates for 2 x 2 as R's default)
    chi = baseline_table(SMALL, SMALL_SPLIT, fisher_below_expected=0)
    for column in ("sex", "rT_stage", "N_stage", "ebv_dna", "treatment"):
        counts = crosstab(column)
        r = row(chi, column)
        assert r["p_value"] == pytest.approx(stats.chi2_contingency(counts).pvalue, rel=1e-12), column
        yates = counts.shape == (2, 2)
        assert r["method"] == ("Pearson chi-square, Yates' correction" if yates else "Pearson chi-square")


def test_absent_level_shown_and_left_out_of_test():
    clinical = SMALL.copy()
    clinical.loc[clinical["N_stage"] == "N3", "N_stage"] = "N2"  # nobody in N3
    table = baseline_table(clinical, SMALL_SPLIT, fisher_below_expected=0)
    assert (row(table, "N_stage", "N3")["train"], row(table, "N_stage", "N3")["test"]) == ("0 (0.0)", "0 (0.0)")
    counts = crosstab("N_stage", clinical)
    assert counts.shape == (3, 2)
    assert row(table, "N_stage")["p_value"] == pytest.approx(stats.chi2_contingency(counts).pvalue, rel=1e-12)


def test_split_problems_raise():
    bad = SMALL_SPLIT.copy()
    bad.loc[2, "split"] = "validation"
    with pytest.raises(InputError) as err:
        baseline_table(SMALL, bad)
    assert (err.value.column, err.value.patient) == ("split", "P03")
    with pytest.raises(InputError, match="no split") as err:
        baseline_table(SMALL, SMALL_SPLIT.iloc[1:])
    assert err.value.patient == "P01"
    with pytest.raises(InputError, match="'test' set is empty"):
        baseline_table(SMALL, SMALL_SPLIT.assign(split="train"))
    wrong = SMALL.copy()
    wrong.loc[4, "sex"] = "male"
    with pytest.raises(InputError) as err:
        baseline_table(wrong, SMALL_SPLIT)
    assert (err.value.column, err.value.patient) == ("sex", "P05")


# --------------------------------------------------------------------------- files
def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_files_written_and_byte_identical(tmp_path):
    table = baseline_table(SMALL, SMALL_SPLIT)
    write_tsv(table, tmp_path / "a.tsv")
    write_tsv(baseline_table(SMALL, SMALL_SPLIT), tmp_path / "b.tsv")
    assert digest(tmp_path / "a.tsv") == digest(tmp_path / "b.tsv")

    save_figure(baseline_figure(table), tmp_path / "a.png", tmp_path / "a.pdf")
    # the same table read back from its TSV draws the same figure
    back = read_table(tmp_path / "a.tsv", dtype={"level": str})
    save_figure(baseline_figure(back), tmp_path / "b.png", tmp_path / "b.pdf")
    png = (tmp_path / "a.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width == 1700 and height > 1000  # 8.5 in at 200 dpi; one line per row
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")
    assert b"CreationDate" not in (tmp_path / "a.pdf").read_bytes()
    assert digest(tmp_path / "a.png") == digest(tmp_path / "b.png")
    assert digest(tmp_path / "a.pdf") == digest(tmp_path / "b.pdf")
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
