"""C-index, time-dependent AUC and calibration against R (survival 3.5-3, timeROC 0.4,
ResourceSelection 0.3-5 on R's lung data), against synthetic truth, and reproducibility."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from sksurv.metrics import concordance_index_censored, cumulative_dynamic_auc
from sksurv.util import Surv

from survsig.core.errors import InputError
from survsig.core.figures import save_figure
from survsig.core.io import write_tsv
from survsig.statistics.calibration import (
    calibration,
    calibration_figure,
    calibration_tables,
    gnd_test,
    hosmer_lemeshow,
    km_at,
    smooth_calibration,
)
from survsig.statistics.cindex import (
    TABLE3_COLUMNS,
    bootstrap_c,
    bootstrap_counts,
    concordance_table,
    table3_figure,
    with_optimism_correction,
)
from survsig.statistics.oracle import oracle_predictors, oracle_table
from survsig.statistics.time_roc import auc_table, roc_figure, time_dependent_auc
from survsig.survival.concordance import compare_c, concordance_index, harrell_c
from survsig.survival.km import censoring_survival


@pytest.fixture
def r_out(shared_dir):
    return shared_dir / "reference" / "R" / "out"


@pytest.fixture
def lung_lp(r_out):
    """time (days), status and the Efron coxph linear predictor of R's lung (n = 227)."""
    return pd.read_csv(r_out / "lung_cox_lp_efron.csv")


# --------------------------------------------------------------------------- C-index
def test_harrell_c_and_se_match_r_concordance(lung_lp, r_out):
    """R: concordance(coxph(Surv(time, status) ~ age + sex + ph.ecog, lung)): C, sqrt(var), counts."""
    ref = json.loads((r_out / "lung_cox.json").read_text())["efron"]["concordance"]
    res = harrell_c(lung_lp["time"], lung_lp["status"], lung_lp["lp"])
    assert res["c"] == pytest.approx(ref["C"], abs=1e-12)
    assert res["se"] == pytest.approx(ref["se"], abs=1e-12)
    counts = ref["counts"]
    assert (res["concordant"], res["discordant"], res["tied_x"]) == (
        counts["concordant"],
        counts["discordant"],
        counts["tied.x"],
    )
    assert res["se"] ** 2 == pytest.approx(np.sum(res["dfbeta"] ** 2))
    # the same C as scikit-survival's concordance_index_censored
    sk = concordance_index_censored(lung_lp["status"].astype(bool), lung_lp["time"], lung_lp["lp"])
    assert res["c"] == pytest.approx(sk[0], abs=1e-12)


def test_harrell_c_by_hand():
    # times 1..4, deaths at 1, 2 and 4; comparable pairs (1,2) (1,3) (1,4) (2,3) (2,4);
    # scores 2, 3, 1, 3: (1,3) and (2,3) concordant, (1,2) and (1,4) discordant, (2,4)
    # tied: C = (2 + 0.5) / 5
    res = harrell_c([1, 2, 3, 4], [1, 1, 0, 1], [2.0, 3.0, 1.0, 3.0])
    assert (res["concordant"], res["discordant"], res["tied_x"]) == (2, 2, 1)
    assert res["c"] == pytest.approx(0.5)
    assert harrell_c([1, 2, 3, 4], [1, 1, 0, 1], [4.0, 3.0, 1.0, 3.0])["c"] == pytest.approx(4.5 / 5)
    # a censoring tied with a death counts as the longer time
    assert harrell_c([1, 1], [1, 0], [1.0, 0.0])["pairs"] == 1
    assert np.isnan(harrell_c([1, 2], [0, 0], [1.0, 0.0])["c"])


def test_one_c_index_whether_with_its_standard_error_or_alone(lung_lp):
    """concordance_index (O(n log n)) and harrell_c (pairs, with the SE) count the same pairs."""
    rng = np.random.default_rng(7)
    time = rng.integers(1, 30, size=300).astype(float)  # many tied times
    event = (rng.uniform(size=300) < 0.6).astype(int)
    score = rng.integers(0, 8, size=300).astype(float)  # many tied scores
    for t, e, x in ((time, event, score), (lung_lp["time"], lung_lp["status"], lung_lp["lp"])):
        # C is a ratio of pair counts below 2**53: two exact counts give equal values to rounding
        assert concordance_index(t, e, x) == pytest.approx(harrell_c(t, e, x)["c"], rel=4 * np.finfo(float).eps)
    assert np.isnan(concordance_index([1, 2], [0, 0], [1.0, 0.0]))
    assert np.isnan(concordance_index([2, 2], [1, 1], [1.0, 0.0]))  # deaths, no comparable pair
    with pytest.raises(InputError, match="not finite"):
        concordance_index([1, 2], [1, 0], [np.nan, 0.0])


def test_compare_c_is_the_joint_jackknife():
    rng = np.random.default_rng(1)
    n = 150
    x = rng.normal(size=n)
    time = rng.exponential(np.exp(-x))
    event = (rng.uniform(size=n) < 0.7).astype(int)
    a, b = x + rng.normal(scale=0.5, size=n), x + rng.normal(scale=1.5, size=n)
    res = compare_c(time, event, a, b)
    ca, cb = harrell_c(time, event, a), harrell_c(time, event, b)
    assert res["diff"] == pytest.approx(ca["c"] - cb["c"])
    cov = np.sum(ca["dfbeta"] * cb["dfbeta"])
    assert res["se"] == pytest.approx(np.sqrt(ca["se"] ** 2 + cb["se"] ** 2 - 2 * cov))
    same = compare_c(time, event, a, a)
    assert same["diff"] == 0 and same["se"] == 0 and np.isnan(same["p_value"])
    # the bootstrap SE of the difference agrees with the jackknife's (within 25%)
    boot = bootstrap_c(time, event, {"a": a, "b": b}, counts=bootstrap_counts(n, resamples=1000, seed=4))
    assert np.std(boot["a"] - boot["b"], ddof=1) == pytest.approx(res["se"], rel=0.25)


def test_bootstrap_weights_equal_explicit_resamples():
    rng = np.random.default_rng(2)
    n = 60
    time = rng.exponential(size=n).round(1) + 0.1  # ties in time
    event = (rng.uniform(size=n) < 0.6).astype(int)
    score = rng.normal(size=n).round(1)  # ties in the score
    counts = bootstrap_counts(n, resamples=5, seed=9)
    boot = bootstrap_c(time, event, {"s": score}, counts=counts)
    for b in range(5):
        idx = np.repeat(np.arange(n), counts[b].astype(int))
        assert boot["s"][b] == pytest.approx(harrell_c(time[idx], event[idx], score[idx])["c"], abs=1e-12)
    np.testing.assert_array_equal(counts, bootstrap_counts(n, resamples=5, seed=9))
    assert not np.array_equal(counts, bootstrap_counts(n, resamples=5, seed=10))
    assert counts.sum(axis=1).tolist() == [n] * 5


def scores_frame(seed=0, n=200, no_test_events=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    time = rng.exponential(30 * np.exp(-x)).round(2) + 0.01
    event = (rng.uniform(size=n) < 0.7).astype(int)
    split = np.where(np.arange(n) < 120, "train", "test")
    if no_test_events:
        event[split == "test"] = 0
    base = pd.DataFrame(
        {"patient_id": [f"P{i:03d}" for i in range(n)], "split": split, "os_months": time, "os_event": event}
    )
    return {
        "clinical": base.assign(lp=x + rng.normal(scale=2, size=n)),
        "dl_petct": base.assign(lp=x + rng.normal(scale=1, size=n)),
        "integrated": base.assign(lp=x + rng.normal(scale=0.5, size=n)),
    }


def test_concordance_table_is_reproducible_and_consistent(tmp_path):
    scores = scores_frame()
    table = concordance_table(scores, resamples=200, seed=3)
    assert list(table.columns) == list(TABLE3_COLUMNS)
    assert len(table) == 6
    row = table[(table["nomogram"] == "clinical") & (table["split"] == "test")].iloc[0]
    part = scores["clinical"][scores["clinical"]["split"] == "test"]
    c = harrell_c(part["os_months"], part["os_event"], part["lp"])
    assert row["c_index"] == c["c"] and row["se"] == c["se"]
    assert row["lower"] == pytest.approx(c["c"] - 1.959963984540054 * c["se"])
    assert row["diff_lower"] < row["diff"] < row["diff_upper"]
    ref = table[table["nomogram"] == "integrated"]
    assert ref["diff"].isna().all() and ref["p_bootstrap"].isna().all()
    for run in ("a", "b"):
        write_tsv(concordance_table(scores, resamples=200, seed=3), tmp_path / f"{run}.tsv")
    assert (tmp_path / "a.tsv").read_bytes() == (tmp_path / "b.tsv").read_bytes()
    other = concordance_table(scores, resamples=200, seed=4)
    assert not other["diff_lower"].equals(table["diff_lower"])
    save_figure(table3_figure(table), tmp_path / "t3.png", tmp_path / "t3.pdf")
    assert (tmp_path / "t3.png").stat().st_size > 10_000


def test_table3_gains_the_corrected_training_c(tmp_path):
    table = concordance_table(scores_frame(), resamples=20, seed=3)
    summary = pd.DataFrame(
        {
            "nomogram": ["integrated", "clinical", "dl_petct"],
            "c_optimism": [0.01, 0.03, 0.02],
            "c_corrected": [0.71, 0.52, 0.63],
        }
    )
    out = with_optimism_correction(table, summary)
    assert list(out.columns[out.columns.get_loc("p_value") + 1 :][:2]) == ["c_optimism", "c_corrected"]
    train = out[out["split"] == "train"].set_index("nomogram")
    assert train.loc["clinical", "c_corrected"] == 0.52 and train.loc["integrated", "c_optimism"] == 0.01
    assert out.loc[out["split"] == "test", "c_corrected"].isna().all()
    pd.testing.assert_frame_equal(out.drop(columns=["c_optimism", "c_corrected"]), table)
    save_figure(table3_figure(out), tmp_path / "t3.png", tmp_path / "t3.pdf")
    assert (tmp_path / "t3.png").stat().st_size > 10_000
    with pytest.raises(InputError, match="dl_petct") as err:
        with_optimism_correction(table, summary.iloc[:2], file="internal_validation.tsv")
    assert "internal_validation.tsv" in str(err.value)
    with pytest.raises(InputError, match="c_corrected"):
        with_optimism_correction(table, summary.drop(columns="c_corrected"), file="internal_validation.tsv")


def test_concordance_table_with_a_split_without_events():
    table = concordance_table(scores_frame(no_test_events=True), resamples=50, seed=1)
    test = table[table["split"] == "test"]
    assert test["c_index"].isna().all() and (test["note"] == "no events in the test set").all()
    assert table[table["split"] == "train"]["c_index"].notna().all()


def test_oracle_table_and_mapping():
    scores = scores_frame()
    truth = scores["integrated"][["patient_id"]].assign(lp_full=scores["integrated"]["lp"], lp_clinical=0.0)
    mapping = oracle_predictors(
        ["clinical", "clinical_suv", "dl_ct", "dl_petct", "integrated"], {"ct": ["ct"], "petct": ["ct", "pet", "roi"]}
    )
    assert mapping == {
        "clinical": "lp_clinical",
        "clinical_suv": None,
        "dl_ct": "lp_image_ct",
        "dl_petct": "lp_image",
        "integrated": "lp_full",
    }
    table = oracle_table({"integrated": scores["integrated"]}, truth, {"integrated": "lp_full"})
    assert (table["gap"] == 0).all()  # the nomogram's score is the oracle here


# --------------------------------------------------------------------------- td AUC
def test_time_dependent_auc_matches_timeroc(lung_lp, r_out):
    """R: timeROC(T, delta, marker = lp, cause = 1, weighting = "marginal", times, iid = TRUE)."""
    ref = pd.read_csv(r_out / "lung_tdauc.csv")
    for _, r in ref.iterrows():
        res = time_dependent_auc(lung_lp["time"], lung_lp["status"], lung_lp["lp"], r["time"])
        assert res["auc"] == pytest.approx(r["AUC_timeROC"], abs=1e-12)
        assert res["se"] == pytest.approx(r["se_timeROC"], abs=1e-12)
        assert res["lower"] == pytest.approx(r["lower_timeROC"], abs=1e-9)
        assert (res["cases"], res["controls"]) == (r["n_cases_lt"], r["n_controls"])
        assert res["fpr"][0] == 0 and res["tpr"][-1] == pytest.approx(1)


def test_scikit_survival_auc_differs_from_timeroc(lung_lp, r_out):
    """Why the AUC is our own: scikit-survival's cumulative_dynamic_auc weights cases by
    1/G(T) (not G(T-)) with its own censoring estimate; it misses timeROC by ~1e-4."""
    ref = pd.read_csv(r_out / "lung_tdauc.csv").set_index("time")
    y = Surv.from_arrays(lung_lp["status"].astype(bool), lung_lp["time"])
    sk, _ = cumulative_dynamic_auc(y, y, lung_lp["lp"].to_numpy(), [365])
    assert abs(sk[0] - ref.loc[365, "AUC_timeROC"]) > 1e-5
    assert abs(sk[0] - ref.loc[365, "AUC_timeROC"]) < 1e-3


def test_censoring_survival_prodlim_convention():
    # a death and a censoring at 2: the death leaves first, so G drops by 1/2 (not 1/3) at 2
    g_left, g_at = censoring_survival([1, 2, 2, 3], [1, 1, 0, 1])
    assert g_at(2)[()] == pytest.approx(0.5) and g_left(2)[()] == 1.0


def test_auc_without_cases_or_controls_is_nan_with_a_note():
    res = time_dependent_auc([1, 2, 3], [0, 0, 0], [0.1, 0.2, 0.3], 2.5)
    assert np.isnan(res["auc"]) and "no case" in res["note"]
    res = time_dependent_auc([1, 2, 3], [1, 1, 1], [0.1, 0.2, 0.3], 5)
    assert np.isnan(res["auc"]) and "no control" in res["note"]


# --------------------------------------------------------------------------- calibration
def test_hosmer_lemeshow_matches_resourceselection(r_out):
    """R: ResourceSelection::hoslem.test(y, fitted(glm(y ~ age + sex + ph.ecog)), g = 10), 0.3-5;
    no quantiles merge here, so its df (g - 2) is also 0.3-6's (groups formed - 2)."""
    fitted = pd.read_csv(r_out / "hoslem_lung_fitted.csv")
    ref = json.loads((r_out / "hoslem_lung.json").read_text())["ResourceSelection"]
    groups = pd.read_csv(r_out / "hoslem_lung_groups.csv")
    res = hosmer_lemeshow(fitted["y"], fitted["p"], groups=10)
    assert res["chisq"] == pytest.approx(ref["chisq"], abs=1e-9)
    assert res["df"] == ref["df"]
    assert res["p_value"] == pytest.approx(ref["p"], abs=1e-9)
    assert res["table"]["n"].tolist() == groups["n"].tolist()
    assert res["table"]["observed"].tolist() == groups["obs1"].tolist()
    np.testing.assert_allclose(res["table"]["expected"], groups["exp1"], atol=1e-9)


def test_km_at_and_greenwood_by_hand():
    # deaths at 1 (5 at risk) and 3 (3 at risk): S(3) = 4/5 * 2/3; Greenwood
    # var = S^2 (1/(5*4) + 1/(3*2))
    s, lower, upper, var = km_at([1, 2, 3, 4, 5], [1, 0, 1, 0, 0], 3.5)
    assert s == pytest.approx(8 / 15)
    assert var == pytest.approx((8 / 15) ** 2 * (1 / 20 + 1 / 6))
    assert lower < s < upper
    assert np.isnan(km_at([1, 2], [1, 0], 3)[0])  # beyond the last follow-up


def test_gnd_test_by_hand():
    groups = pd.DataFrame({"predicted": [0.8, 0.5], "observed": [0.7, 0.6], "observed_variance": [0.01, 0.02]})
    res = gnd_test(groups)
    assert res["chisq"] == pytest.approx(0.1**2 / 0.01 + 0.1**2 / 0.02)
    assert res["df"] == 1
    assert np.isnan(gnd_test(groups.assign(observed_variance=[0.01, 0.0]))["p_value"])


def exponential_cohort(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    rate = 0.02 * np.exp(0.8 * x)
    event_time = rng.exponential(1 / rate)
    censor = rng.uniform(0, 100, n)
    time = np.minimum(event_time, censor)
    return time, (event_time <= censor).astype(int), np.exp(-rate * 36)  # true S(36 months)


def test_calibration_of_the_true_model_and_of_a_wrong_one():
    time, event, truth = exponential_cohort(1500, seed=7)
    good = calibration(time, event, truth, 36, groups=5)
    bad = calibration(time, event, truth**2, 36, groups=5)  # predicts too many deaths
    assert good["smooth"]["ici"] < 0.03
    assert bad["smooth"]["ici"] > 3 * good["smooth"]["ici"]
    assert good["gnd"]["p_value"] > 0.01
    assert bad["gnd"]["p_value"] < 1e-6
    np.testing.assert_allclose(good["groups"]["observed"], good["groups"]["predicted"], atol=0.06)
    assert good["hosmer_lemeshow"]["df"] == 8
    table = calibration_tables(good, nomogram="integrated", split="test")
    assert table["row"].tolist() == ["group"] * 5 + ["summary"]
    assert table.iloc[-1]["ici"] == good["smooth"]["ici"]


def test_smooth_calibration_needs_events():
    res = smooth_calibration([1, 2, 3, 4], [0, 0, 0, 0], [0.9, 0.8, 0.7, 0.6], 3)
    assert np.isnan(res["ici"]) and "no events" in res["note"]


def test_evaluate_figures_are_byte_identical(tmp_path):
    time, event, truth = exponential_cohort(300, seed=1)
    result = calibration(time, event, truth, 36)
    scores = scores_frame()
    table, curves = auc_table(scores, "test", horizon=20)
    digests = []
    for run in ("a", "b"):
        save_figure(calibration_figure(result, title="Test"), tmp_path / f"c{run}.png", tmp_path / f"c{run}.pdf")
        save_figure(
            roc_figure(curves, dict(zip(table["nomogram"], table["auc"])), horizon=20, title="Test"),
            tmp_path / f"r{run}.png",
            tmp_path / f"r{run}.pdf",
        )
        digests.append(
            [
                hashlib.sha256((tmp_path / f"{k}{run}.{e}").read_bytes()).hexdigest()
                for k in "cr"
                for e in ("png", "pdf")
            ]
        )
    assert digests[0] == digests[1]
    assert table["auc"].between(0.5, 1).all()
