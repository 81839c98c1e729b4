"""Risk groups: maxstat cut-off, Kaplan-Meier with R's intervals, log-rank, subgroups.

R references (../shared/reference/R): ``maxstat::maxstat.test`` (rref_04_lung_maxstat.R)
and ``survival::survdiff`` / ``survfit`` (rref_01_lung_cox.R) on R's lung data.
Synthetic truth: survsig.cohort.patients plants risk and a local-treatment benefit that fades
with risk; the tests check both come back out.
"""

import hashlib
import io
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from conftest import REPO
from survsig.cohort.patients import SyntheticSettings, simulate_patients
from survsig.cohort.split import split_cohort
from survsig.core.errors import InputError
from survsig.core.figures import save_figure
from survsig.core.files import check_scores
from survsig.statistics.stratify import (
    RISK_GROUP_COLUMNS,
    MaxstatCutoff,
    cutoff_table,
    fit_risk_groups,
    join_clinical,
    km_risk_figure,
    lausen92_p,
    logrank_scores,
    risk_group_baseline,
    risk_group_summary,
    risk_group_table,
    subgroup_figure,
    subgroup_table,
    treatment_by_risk_table,
)
from survsig.survival.groups import compare_groups, logrank
from survsig.survival.km import kaplan_meier, survival_at

MAXSTAT_VARIABLES = ("age", "ph.karno", "wt.loss", "meal.cal")


# --------------------------------------------------------------------------- fixtures
@pytest.fixture
def lung(shared_dir):
    return pd.read_csv(shared_dir / "reference/R/data/lung.csv")


@pytest.fixture
def r_out(shared_dir):
    return shared_dir / "reference/R/out"


def lung_variable(lung, variable):
    """R's ``d[!is.na(d$x), ]``: time, status and the variable, rows without it dropped."""
    d = lung[["time", "status", variable]].dropna()
    return d[variable].to_numpy(float), d["time"].to_numpy(float), d["status"].to_numpy(int)


def synthetic(n=420, seed=2022):
    """Simulated patients, a seeded 6:4 split and score files holding the true risk."""
    patients = simulate_patients(SyntheticSettings(seed=seed, n_patients=n))
    split = split_cohort(patients, seed=seed)
    joined = split.merge(patients, on="patient_id")
    scores = joined[["patient_id", "split", "os_months", "os_event"]].assign(
        lp=(joined["lp_clinical"] + joined["lp_image"]).to_numpy()
    )
    return patients, split, scores


@pytest.fixture(scope="module")
def cohort():
    patients, split, scores = synthetic()
    groups, cutoff = fit_risk_groups(check_scores(scores, split), pmethod="Lau92")
    return patients, split, scores, groups, cutoff


# --------------------------------------------------------------------------- maxstat vs R
@pytest.mark.parametrize("variable", MAXSTAT_VARIABLES)
def test_maxstat_cutpoint_and_statistic_equal_r(lung, r_out, variable):
    """R: maxstat.test(Surv(time, status) ~ x, smethod = "LogRank", minprop = 0.1, maxprop = 0.9)."""
    ref = json.loads((r_out / "lung_maxstat.json").read_text())[variable]
    profile = pd.read_csv(r_out / "lung_maxstat_profile.csv")
    profile = profile[profile["variable"] == variable]
    x, time, status = lung_variable(lung, variable)
    fit = MaxstatCutoff(minprop=0.1, maxprop=0.9, pmethod="Lau92").fit(x, time, status)
    assert fit.cutoff_ == ref["cutpoint"]
    assert fit.statistic_ == pytest.approx(ref["max_stat"], rel=0, abs=1e-10)
    assert (fit.n_, fit.n_low_, fit.n_high_) == (ref["n"], ref["n_low"], ref["n_high"])
    # the whole profile: the same candidate cut-points and statistics
    np.testing.assert_array_equal(fit.cuts_, profile["cut"].to_numpy(float))
    np.testing.assert_allclose(fit.statistics_, profile["stat"].to_numpy(float), rtol=0, atol=1e-10)
    # Lau92 is closed form: R's p-value to rounding
    assert fit.p_value_ == pytest.approx(ref["p_Lau92"], rel=0, abs=1e-12)
    # groups as maxstat makes them: x <= cut low, x > cut high; survdiff at the cut
    groups = fit.predict(x)
    assert (groups == "low").sum() == ref["n_low"]
    chisq, df, p = logrank(time, status, groups)
    assert chisq == pytest.approx(ref["survdiff_chisq_at_cut"], rel=0, abs=1e-8)
    assert p == pytest.approx(ref["survdiff_p_at_cut"], rel=0, abs=1e-10)


@pytest.mark.parametrize("variable", MAXSTAT_VARIABLES)
def test_maxstat_condmc_p_agrees_with_r_within_monte_carlo_error(lung, r_out, variable):
    """R: pmethod = "condMC", B = 9999 (R's RNG): agreement within 4 SE of two MC estimates."""
    ref = json.loads((r_out / "lung_maxstat.json").read_text())[variable]
    x, time, status = lung_variable(lung, variable)
    fit = MaxstatCutoff(pmethod="condMC", n_resamples=9999, seed=1).fit(x, time, status)
    p_r = ref["p_condMC_B9999_seed1"]
    se = math.sqrt(2 * p_r * (1 - p_r) / 9999)
    assert abs(fit.p_value_ - p_r) < 4 * se
    # seeded: the same seed gives the same p, byte for byte
    again = MaxstatCutoff(pmethod="condMC", n_resamples=9999, seed=1).fit(x, time, status)
    assert again.p_value_ == fit.p_value_


def test_logrank_scores_hand_computed_with_ties():
    """exactRankTests::cscores.Surv: a_i = d_i - sum_{t_j <= t_i} d_j / (N - r_j + 1), r = max rank."""
    time = [1, 2, 2, 3, 4]
    event = [1, 1, 0, 1, 0]
    # r = 1, 3, 3, 4, 5; terms d/(N - r + 1): 1/5, 1/3, 0, 1/2, 0 (cumulated in time order)
    c1 = 1 / 5
    c2 = c1 + 1 / 3  # both times-2 rows, the censored one adds 0
    c4 = c2 + 1 / 2
    expected = [1 - c1, 1 - c2, 0 - c2, 1 - c4, 0 - c4]
    np.testing.assert_allclose(logrank_scores(time, event), expected, rtol=0, atol=1e-15)


def test_lausen92_p_formula():
    b = 2.5
    phi = math.exp(-b * b / 2) / math.sqrt(2 * math.pi)
    expected = 4 * phi / b + phi * (b - 1 / b) * math.log(0.9 * 0.9 / (0.1 * 0.1))
    assert lausen92_p(b) == pytest.approx(expected, rel=1e-14)


def test_predict_puts_ties_with_the_cutoff_in_the_low_group():
    fit = MaxstatCutoff().fit(np.arange(20.0), np.arange(1.0, 21.0), np.tile([1, 0], 10))
    assert fit.predict([fit.cutoff_, fit.cutoff_ + 1e-9, fit.cutoff_ - 1]).tolist() == ["low", "high", "low"]


def test_bad_options_are_reported_together():
    with pytest.raises(InputError) as err:
        MaxstatCutoff(minprop=0.95, maxprop=0.9, pmethod="exactGauss").fit([1, 2, 3], [1, 2, 3], [1, 0, 1])
    assert "minprop" in str(err.value) and "pmethod" in str(err.value)


# --------------------------------------------------------------------------- KM and log-rank vs R
def test_logrank_chisq_equals_survdiff(lung, r_out):
    ref = json.loads((r_out / "lung_cox.json").read_text())["logrank_sex"]
    chisq, df, p = logrank(lung["time"], lung["status"], lung["sex"])
    assert df == 1
    assert chisq == pytest.approx(ref["chisq"], rel=0, abs=1e-8)
    assert p == pytest.approx(ref["p"], rel=0, abs=1e-12)


@pytest.mark.parametrize("sex", [1, 2])
def test_kaplan_meier_and_log_ci_equal_survfit(lung, r_out, sex):
    """R: summary(survfit(Surv(time, status) ~ sex, conf.type = "log"), times = c(180, 365, 730))."""
    ref = pd.read_csv(r_out / "lung_km_by_sex.csv")
    ref = ref[ref["strata"] == f"sex={sex}"].reset_index(drop=True)
    part = lung[lung["sex"] == sex]
    at = survival_at(kaplan_meier(part["time"], part["status"], conf_type="log"), ref["time"])
    np.testing.assert_array_equal(at["n_risk"], ref["n_risk"])
    np.testing.assert_array_equal(at["n_event"], ref["n_event_cum_interval"])
    for ours, theirs in (("surv", "surv"), ("std_err", "std_err_surv"), ("lower", "lower95"), ("upper", "upper95")):
        np.testing.assert_allclose(at[ours], ref[theirs], rtol=0, atol=1e-8, err_msg=ours)


def test_log_log_ci_equals_lifelines_exponential_greenwood(lung):
    kmf = KaplanMeierFitter().fit(lung["time"], lung["status"])
    curve = kaplan_meier(lung["time"], lung["status"], conf_type="log-log").set_index("time")
    theirs = kmf.confidence_interval_.reindex(curve.index)
    np.testing.assert_allclose(curve["lower"], theirs.iloc[:, 0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(curve["upper"], theirs.iloc[:, 1], rtol=0, atol=1e-10)


def test_survival_after_the_last_follow_up_is_not_estimable():
    curve = kaplan_meier([5.0, 10.0, 20.0], [1, 0, 0])
    at = survival_at(curve, [0.0, 5.0, 20.0, 36.0])
    assert at["surv"].iloc[0] == 1.0
    assert at["surv"].iloc[1] == pytest.approx(2 / 3)
    assert at["surv"].iloc[2] == pytest.approx(2 / 3)
    assert math.isnan(at["surv"].iloc[3]) and at["n_risk"].iloc[3] == 0


# --------------------------------------------------------------------------- synthetic truth
def test_cutoff_on_true_risk_splits_patients_with_a_clear_hazard_ratio(cohort):
    patients, _, _, groups, cutoff = cohort
    summary = risk_group_summary(groups, cutoff_table("integrated", cutoff).iloc[0])
    test = summary.set_index("split").loc["test"]
    assert test["hr_lower"] > 2 and test["logrank_p"] < 1e-6
    assert test["os_low"] > test["os_high"] + 0.3
    # the cut-off is one training score; high risk exactly above it, in both splits
    train_lp = groups.loc[groups["split"] == "train", "lp"]
    assert cutoff.cutoff_ in set(train_lp)
    assert ((groups["lp"] > cutoff.cutoff_) == (groups["risk_group"] == "high")).all()
    assert min(cutoff.n_low_, cutoff.n_high_) >= math.floor(0.1 * len(train_lp))
    # high-risk patients carry the higher true hazard
    truth = patients.set_index("patient_id")["lp_full"]
    by_group = truth.loc[groups["patient_id"]].groupby(groups["risk_group"].to_numpy()).mean()
    assert by_group["high"] > by_group["low"] + 1.0


def test_local_treatment_helps_low_risk_patients_only():
    """The simulation's benefit of local treatment (HAZARD['local_treatment_benefit']) fades with risk."""
    patients, split, scores = synthetic(n=4000, seed=2022)
    groups, _ = fit_risk_groups(check_scores(scores, split))
    frame = join_clinical(risk_group_table(groups), patients)
    table = treatment_by_risk_table(frame).set_index("risk_group")
    low, high = table.loc["low"], table.loc["high"]
    assert low["hr_upper"] < 1 and low["hr_p"] < 1e-3
    assert high["hr_lower"] < 1 < high["hr_upper"]
    assert low["interaction_p"] < 0.01
    # the estimates cover the planted average benefit of each group's local-treatment patients
    planted = patients.set_index("patient_id")["lp_treatment"]
    for level, row in table.iterrows():
        members = frame[(frame["risk_group"] == level) & frame["treatment"].isin(["surgery", "reirradiation"])]
        true_hr = math.exp(planted.loc[members["patient_id"]].mean())
        assert row["hr_lower"] < true_hr < row["hr_upper"], level


def test_subgroups_keep_the_separation(cohort):
    patients, _, _, groups, _ = cohort
    table = subgroup_table(join_clinical(risk_group_table(groups), patients))
    assert len(table) == 9
    assert (table["hr"] > 1.5).all()
    np.testing.assert_array_equal(
        table.groupby("variable", sort=False)[["n_low", "n_high"]].sum().to_numpy(),
        np.tile([(groups["risk_group"] == "low").sum(), (groups["risk_group"] == "high").sum()], (4, 1)),
    )


# --------------------------------------------------------------------------- bad input
def test_score_file_missing_a_patient_is_one_clear_error(cohort):
    _, split, scores, _, _ = cohort
    with pytest.raises(InputError) as err:
        check_scores(scores.drop(index=7), split, file="results/nomograms/integrated_scores.tsv")
    message = str(err.value)
    assert "integrated_scores.tsv" in message and scores["patient_id"].iloc[7] in message
    assert "no score" in message


@pytest.mark.parametrize(
    "change, column",
    [
        (lambda s: s.assign(lp=s["lp"].where(s.index != 3)), "lp"),
        (lambda s: s.assign(os_event=s["os_event"].where(s.index != 3, 2)), "os_event"),
        (lambda s: pd.concat([s, s.iloc[[3]]], ignore_index=True), "patient_id"),
        (
            lambda s: s.assign(
                split=np.where(s.index == 3, "test" if s["split"].iloc[3] == "train" else "train", s["split"])
            ),
            "split",
        ),
        (lambda s: s.drop(columns="lp"), "lp"),
    ],
)
def test_bad_score_values_name_patient_and_column(cohort, change, column):
    _, split, scores, _, _ = cohort
    with pytest.raises(InputError) as err:
        check_scores(change(scores), split, file="scores.tsv")
    assert err.value.column == column
    if column != "lp" or "lp" in change(scores).columns:
        assert err.value.patient == scores["patient_id"].iloc[3]


def test_training_set_without_deaths_cannot_learn_a_cutoff(cohort):
    _, split, scores, _, _ = cohort
    no_deaths = scores.assign(os_event=np.where(scores["split"] == "train", 0, scores["os_event"]))
    with pytest.raises(InputError, match="no deaths"):
        fit_risk_groups(check_scores(no_deaths, split))


def test_test_set_without_deaths_falls_back_to_na_with_a_note(cohort):
    _, split, scores, _, _ = cohort
    no_deaths = scores.assign(os_event=np.where(scores["split"] == "test", 0, scores["os_event"]))
    groups, cutoff = fit_risk_groups(check_scores(no_deaths, split))
    summary = risk_group_summary(groups, cutoff_table("x", cutoff).iloc[0]).set_index("split")
    test = summary.loc["test"]
    assert math.isnan(test["hr"]) and math.isnan(test["logrank_p"])
    assert "no deaths" in test["note"]
    assert test["os_low"] == 1.0 and test["events_high"] == 0
    assert summary.loc["train", "note"] == "" and summary.loc["train", "hr"] > 1
    km_risk_figure(groups, cutoff_table("x", cutoff).iloc[0], "test", nomogram="x")  # still drawn


def test_cutoff_leaving_an_empty_test_group_falls_back_to_na_with_a_note(cohort):
    _, split, scores, _, _ = cohort
    # every test patient below the lowest training score: all low risk
    low_test = scores.assign(lp=np.where(scores["split"] == "test", scores["lp"].min() - 1, scores["lp"]))
    groups, cutoff = fit_risk_groups(check_scores(low_test, split))
    summary = risk_group_summary(groups, cutoff_table("x", cutoff).iloc[0]).set_index("split")
    test = summary.loc["test"]
    assert test["n_high"] == 0 and test["n_low"] == (split["split"] == "test").sum()
    assert math.isnan(test["hr"]) and math.isnan(test["logrank_p"]) and math.isnan(test["os_high"])
    assert "no patient in the high group" in test["note"]
    fig = km_risk_figure(groups, cutoff_table("x", cutoff).iloc[0], "test", nomogram="x")
    assert any("no patient in the high group" in t.get_text() for t in fig.texts)


def test_compare_groups_without_deaths_in_one_group():
    result = compare_groups([4, 5, 6, 1, 2, 3], [0, 0, 0, 1, 1, 0], ["low"] * 3 + ["high"] * 3, levels=("low", "high"))
    assert math.isnan(result["hr"]) and "no deaths in the low group" in result["note"]
    assert result["logrank_p"] < 1  # the log-rank test is still defined


def test_monotone_likelihood_gives_no_hazard_ratio():
    """High-risk patients all die before any low-risk death: the Cox estimate is infinite."""
    result = compare_groups(
        [1, 2, 3, 4, 5, 6, 7], [1, 1, 0, 1, 0, 1, 0], ["high"] * 3 + ["low"] * 4, levels=("low", "high")
    )
    assert math.isnan(result["hr"]) and "monotone likelihood" in result["note"]
    assert result["logrank_p"] < 0.2


# --------------------------------------------------------------------------- figures and tables
def test_at_risk_table_sits_under_the_time_ticks_and_nothing_overlaps(cohort):
    _, _, _, groups, cutoff = cohort
    fig = km_risk_figure(groups, cutoff_table("integrated", cutoff).iloc[0], "train", nomogram="integrated")
    ax, ax_risk = fig.axes
    assert ax_risk.get_xlim() == ax.get_xlim()
    ticks = ax.get_xticks()
    numbers = [t for t in ax_risk.texts]
    assert len(numbers) == 2 * len(ticks)
    np.testing.assert_array_equal(sorted({t.get_position()[0] for t in numbers}), ticks)
    # the counts under tick 0 are the group sizes
    part = groups[groups["split"] == "train"]
    first = {t.get_position()[1]: int(t.get_text()) for t in numbers if t.get_position()[0] == 0}
    assert sorted(first.values()) == sorted(part["risk_group"].value_counts().tolist())
    # layout: header above the plot, row labels left of the first column of numbers
    fig.canvas.draw()  # places axis labels and tick labels
    renderer = fig.canvas.get_renderer()
    plot_box = ax.get_window_extent(renderer)
    for text in fig.texts:
        if text.get_text():
            assert text.get_window_extent(renderer).y0 >= plot_box.y1, text.get_text()
            assert text.get_window_extent(renderer).x1 <= fig.bbox.x1, text.get_text()
    risk_box = ax_risk.get_window_extent(renderer)
    assert ax_risk.title.get_window_extent(renderer).y1 < ax.xaxis.label.get_window_extent(renderer).y0
    assert risk_box.y1 <= ax_risk.title.get_window_extent(renderer).y0
    label_right = max(label.get_window_extent(renderer).x1 for label in ax_risk.get_yticklabels())
    number_left = min(t.get_window_extent(renderer).x0 for t in numbers)
    assert label_right < number_left


def test_panel_texts_stay_inside_their_panel_even_with_long_notes(cohort):
    from survsig.survival.km_figure import PANEL_WIDTH

    patients, _, _, groups, _ = cohort
    frame = join_clinical(risk_group_table(groups), patients).iloc[:30]  # tiny: empty groups, long notes
    fig = subgroup_figure(frame, "treatment")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    panel = PANEL_WIDTH * fig.dpi
    notes = [t for t in fig.texts if t.get_text().startswith("Note:")]
    assert notes, "the tiny subgroups should carry notes"
    title, *texts = fig.texts  # the figure's title spans the panels
    assert title.get_window_extent(renderer).x1 <= fig.bbox.x1
    for text in texts:
        box = text.get_window_extent(renderer)
        if text.get_text():
            assert box.x1 <= (box.x0 // panel + 1) * panel, text.get_text()


def test_figures_and_tables_are_byte_reproducible(cohort, tmp_path):
    patients, _, _, groups, cutoff = cohort
    frame = join_clinical(risk_group_table(groups), patients)
    digests = []
    for run in ("a", "b"):
        fig = subgroup_figure(frame, "N_stage")
        save_figure(fig, tmp_path / f"{run}.png", tmp_path / f"{run}.pdf")
        buffer = io.StringIO()
        subgroup_table(frame).to_csv(buffer, sep="\t")
        digests.append(
            [hashlib.sha256((tmp_path / f"{run}.{ext}").read_bytes()).hexdigest() for ext in ("png", "pdf")]
            + [buffer.getvalue()]
        )
    assert digests[0] == digests[1]


def test_table_s3_counts_the_risk_groups(cohort):
    patients, _, _, groups, _ = cohort
    frame = join_clinical(risk_group_table(groups), patients)
    table = risk_group_baseline(frame, fisher_resamples=200)
    n = table[table["characteristic"] == "patients"].iloc[0]
    counts = groups["risk_group"].value_counts()
    assert (n["low_risk_n"], n["high_risk_n"]) == (counts["low"], counts["high"])
    male = table[(table["characteristic"] == "sex") & (table["level"] == "M")].iloc[0]
    crosstab = pd.crosstab(frame["sex"], frame["risk_group"])
    assert (male["low_risk_n"], male["high_risk_n"]) == (crosstab.loc["M", "low"], crosstab.loc["M", "high"])
    with pytest.raises(InputError, match="no high-risk patient"):
        risk_group_baseline(frame.assign(risk_group="low"), fisher_resamples=200)


def test_risk_group_file_has_every_patient(cohort):
    _, split, _, groups, _ = cohort
    table = risk_group_table(groups)
    assert tuple(table.columns) == RISK_GROUP_COLUMNS
    assert table["patient_id"].tolist() == split["patient_id"].tolist()
    assert set(table["risk_group"]) == {"low", "high"}
    with pytest.raises(InputError, match="no risk group"):
        join_clinical(table.iloc[1:], pd.DataFrame({"patient_id": split["patient_id"], "sex": "M"}))


# --------------------------------------------------------------------------- config and workflow
@pytest.mark.parametrize(
    "key, value",
    [
        ("pmethod", "exactGauss"),
        ("minprop", 1.5),
        ("conf_type", "arcsin"),
        ("subgroup_set", "validation"),
        ("nomograms", ["bad name"]),
    ],
)
def test_bad_stratify_config_is_refused(key, value):
    import yaml
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    schema = str(REPO / "workflow/schemas/config.schema.yaml")
    validate(config, schema)
    config["stratify"][key] = value
    with pytest.raises(WorkflowError):
        validate(config, schema)


SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def run_snakemake(project, *args):
    return subprocess.run(
        [SNAKEMAKE, *args, "--cores", "2", "--nolock", "--configfile", "config/tiny.yaml"],
        cwd=project,
        capture_output=True,
        text=True,
    )


def write_score_files(project, names):
    """Score files of the nomogram stage's contract, from the synthetic ground truth."""
    results = project / "results"
    truth = pd.read_csv(results / "synthetic/ground_truth.tsv", sep="\t")
    clinical = pd.read_csv(results / "validated/clinical.tsv", sep="\t")
    split = pd.read_csv(results / "split.tsv", sep="\t")
    joined = split.merge(clinical, on="patient_id").merge(truth, on="patient_id")
    (results / "nomograms").mkdir(exist_ok=True)
    for name in names:
        scores = joined[["patient_id", "split", "os_months", "os_event"]].assign(
            lp=(joined["lp_clinical"] + joined["lp_image"]).round(6)
        )
        scores.to_csv(results / f"nomograms/{name}_scores.tsv", sep="\t", index=False)
    return joined


@pytest.mark.e2e
def test_stratify_targets_build_by_name_and_bad_scores_stop_cleanly(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    for part in ("Snakefile", "workflow", "config", "envs"):
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, project / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, project / part)
    result = run_snakemake(project, "results/split.tsv", "results/synthetic/ground_truth.tsv")
    assert result.returncode == 0, result.stderr
    joined = write_score_files(project, ["integrated", "clinical"])

    targets = [
        "results/figures/km_integrated_test.png",
        "results/risk_groups.tsv",
        "results/tables/table_s3_all.tsv",
    ]
    result = run_snakemake(project, *targets)
    assert result.returncode == 0, result.stdout + result.stderr
    for target in targets + ["results/figures/km_integrated_test.pdf", "results/tables/table_s3_all.png"]:
        assert (project / target).stat().st_size > 0, target
    groups = pd.read_csv(project / "results/risk_groups.tsv", sep="\t")
    cutoff = pd.read_csv(project / "results/stratify/integrated_cutoff.tsv", sep="\t").iloc[0]
    assert groups["patient_id"].tolist() == joined["patient_id"].tolist()
    assert ((groups["lp"] > cutoff["cutoff"]) == (groups["risk_group"] == "high")).all()

    # a score file missing a patient: one clear message, no output of that job
    scores = project / "results/nomograms/clinical_scores.tsv"
    table = pd.read_csv(scores, sep="\t")
    table.drop(index=5).to_csv(scores, sep="\t", index=False)
    result = run_snakemake(project, "results/tables/risk_groups_clinical.tsv")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "clinical_scores.tsv" in output and table["patient_id"].iloc[5] in output and "no score" in output
    assert not (project / "results/stratify/clinical_groups.tsv").exists()
    assert not (project / "results/tables/risk_groups_clinical.tsv").exists()
