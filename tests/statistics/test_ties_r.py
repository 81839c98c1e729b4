"""Tied scores, the Lau92 bound and Hosmer-Lemeshow with empty groups, against R.

The R outputs are made by ``tests/data/r_ties/ties_and_bounds.R`` (R 4.2, survival 3.5-3,
maxstat 0.7-25, from Debian) on R's ``colon`` and ``veteran`` data and on seeded
Hosmer-Lemeshow cases. Every tie-sensitive statistic is fed the project's own fitted
linear predictor, not R's: patients with one covariate pattern must get one score, or
C-index, maxstat, time-dependent AUC and risk groups count tied pairs as ordered.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from survsig.core.files import check_scores
from survsig.statistics.calibration import calibration, calibration_tables, hosmer_lemeshow
from survsig.statistics.nomogram import CoxNomogram
from survsig.statistics.stratify import MaxstatCutoff, fit_risk_groups, lausen92_p
from survsig.statistics.time_roc import time_dependent_auc
from survsig.survival.concordance import harrell_c
from survsig.survival.cox import fit_cox, linear_predictor
from survsig.survival.km import kaplan_meier, survival_at

DATA = Path(__file__).resolve().parents[1] / "data" / "r_ties"
R = json.loads((DATA / "ties_colon.json").read_text())
# R's coefficients come from coxph's own Newton-Raphson (tolerance 1e-9 on the log likelihood),
# ours from a tighter one: they agree to about 1e-7, the linear predictors with them
COEF_ATOL = 1e-7


def colon(model):
    """Rows of R's colon deaths with the model's covariates, and its design (rx as R's dummies)."""
    data = pd.read_csv(DATA / "colon_deaths.csv")
    covariates = [str(c) for c in np.atleast_1d(R[model]["covariates"])]  # R writes one as a scalar
    data = data.dropna(subset=covariates).reset_index(drop=True)
    if covariates == ["rx"]:
        design = pd.DataFrame({"rxLev": (data["rx"] == "Lev"), "rxLev+5FU": (data["rx"] == "Lev+5FU")}).astype(float)
    else:
        design = data[covariates].astype(float)
    return data, design


@pytest.fixture(params=sorted(R))
def fitted(request):
    """Project's Breslow fit and linear predictor of one colon model, with R's results."""
    model = request.param
    data, design = colon(model)
    fit = fit_cox(data["time"], data["status"], design, ties="breslow")
    return data, design, fit, linear_predictor(design, fit.coef, fit.means), dict(R[model], model=model)


def test_equal_covariates_give_equal_linear_predictors(fitted):
    data, design, fit, lp, ref = fitted
    np.testing.assert_allclose(fit.coef, list(ref["coef"].values()), rtol=0, atol=COEF_ATOL)
    patterns, pattern_of = np.unique(design.to_numpy(), axis=0, return_inverse=True)
    assert len(patterns) == ref["patterns"] == ref["distinct_lp"]
    assert len(np.unique(lp)) == len(patterns)
    # each pattern's patients share one value, bit for bit
    for k in range(len(patterns)):
        assert np.unique(lp[pattern_of.ravel() == k]).size == 1


def test_harrell_c_on_own_scores_equals_r_concordance(fitted):
    data, _, _, lp, ref = fitted
    res = harrell_c(data["time"], data["status"], lp)
    r = ref["concordance"]
    assert (res["concordant"], res["discordant"], res["tied_x"]) == (r["concordant"], r["discordant"], r["tied_x"])
    # the counts are exact; C and its jackknife SE are sums of them in float64
    assert res["c"] == pytest.approx(r["C"], rel=0, abs=1e-12)
    assert res["se"] == pytest.approx(r["se"], rel=0, abs=1e-10)


def test_maxstat_on_own_scores_equals_r(fitted):
    data, _, _, lp, ref = fitted
    r = ref["maxstat"]
    fit = MaxstatCutoff(minprop=0.1, maxprop=0.9, pmethod="Lau92").fit(lp, data["time"], data["status"])
    profile = pd.read_csv(DATA / "ties_colon_profile.csv")
    profile = profile[profile["model"] == ref["model"]]
    assert len(fit.cuts_) == r["candidates"] == len(profile)
    # R centres the linear predictor on the means of continuous covariates only (survival
    # 3.x leaves 0/1 columns uncentred), so the cut-points differ by one constant
    np.testing.assert_allclose(np.diff(fit.cuts_), np.diff(profile["cut"]), rtol=0, atol=COEF_ATOL * 30)
    np.testing.assert_allclose(fit.statistics_, profile["stat"], rtol=0, atol=1e-10)
    assert fit.statistic_ == pytest.approx(r["statistic"], rel=0, abs=1e-10)
    assert fit.p_value_ == pytest.approx(r["p_Lau92"], rel=1e-9)
    assert (fit.n_low_, fit.n_high_) == (r["n_low"], r["n_high"])


def test_time_dependent_auc_on_own_scores_equals_r(fitted):
    data, _, _, lp, ref = fitted
    for t, auc in zip(ref["auc"]["times"], ref["auc"]["auc"]):
        assert time_dependent_auc(data["time"], data["status"], lp, t)["auc"] == pytest.approx(auc, rel=0, abs=1e-12)


def test_risk_groups_and_their_kaplan_meier_on_own_scores_equal_r(fitted):
    data, _, _, lp, ref = fitted
    cut = MaxstatCutoff().fit(lp, data["time"], data["status"])
    high = cut.predict(lp) == "high"
    assert int(high.sum()) == ref["maxstat"]["n_high"]
    km = ref["km"]
    for is_high in (False, True):
        rows = np.array(km["high"]) == is_high
        curve = kaplan_meier(data["time"][high == is_high], data["status"][high == is_high])
        at = survival_at(curve, km["times"])
        np.testing.assert_allclose(at["surv"], np.array(km["surv"])[rows], rtol=0, atol=1e-12)
        assert at["n_risk"].tolist() == np.array(km["n_risk"])[rows].tolist()


def test_nomogram_scores_of_duplicated_patients_tie_through_the_whole_chain():
    """CoxNomogram (the workflow's fit and scores) on colon's obstruct + nodes, coded as two
    of the project's terms: risk groups and C-index from its score table equal R's."""
    data, _ = colon("obstruct_nodes")
    ref = R["obstruct_nodes"]
    frame = pd.DataFrame(
        {
            "patient_id": [f"C{i:04d}" for i in range(len(data))],
            "split": "train",
            "os_months": data["time"].astype(float),
            "os_event": data["status"].astype(int),
            "sex": np.where(data["obstruct"] == 1, "F", "M"),
            "age": data["nodes"].astype(float),
        }
    )
    nomogram = CoxNomogram(["sex", "age"], ties="breslow", name="colon").fit(frame)
    np.testing.assert_allclose(nomogram.coef_, list(ref["coef"].values()), rtol=0, atol=COEF_ATOL)
    scores = frame[["patient_id", "split", "os_months", "os_event"]].assign(lp=nomogram.predict_lp(frame))
    assert scores["lp"].nunique() == ref["patterns"]
    c = harrell_c(scores["os_months"], scores["os_event"], scores["lp"])
    assert c["tied_x"] == ref["concordance"]["tied_x"]
    assert c["c"] == pytest.approx(ref["concordance"]["C"], rel=0, abs=1e-12)
    checked = check_scores(scores, frame[["patient_id", "split"]])
    groups, cutoff = fit_risk_groups(checked)
    assert len(cutoff.cuts_) == ref["maxstat"]["candidates"]
    assert (groups["risk_group"] == "high").sum() == ref["maxstat"]["n_high"]


# --------------------------------------------------------------------------- Lau92
def test_lausen92_p_equals_r_including_its_bound_below_one():
    ref = json.loads((DATA / "lausen92.json").read_text())
    grid = ref["grid"]
    for b, p, p_narrow in zip(grid["b"], grid["p"], grid["p_minprop_0.2_maxprop_0.7"]):
        assert lausen92_p(b) == pytest.approx(p, rel=1e-12), b
        assert lausen92_p(b, minprop=0.2, maxprop=0.7) == pytest.approx(p_narrow, rel=1e-12), b
    vet = ref["veteran_diagtime"]
    assert vet["statistic"] < 1 and lausen92_p(vet["statistic"]) == vet["p_Lau92"] == 1.0


# --------------------------------------------------------------------------- Hosmer-Lemeshow
@pytest.mark.parametrize("case", ["smooth", "merged", "empty"])
def test_hosmer_lemeshow_equals_resourceselection_0_3_6(case):
    """smooth: 10 groups; merged: tied quantiles leave 8 groups, df 6 (0.3-6; 0.3-5 said 8);
    empty: 2 of 9 groups hold no patient, and R's statistic is NaN."""
    ref = json.loads((DATA / "hoslem.json").read_text())[case]
    cases = pd.read_csv(DATA / "hoslem_cases.csv")
    cases = cases[cases["case"] == case]
    res = hosmer_lemeshow(cases["y"], cases["p"], groups=10)
    assert res["groups"] == ref["groups"]
    assert res["df"] == ref["df_0.3_6"]
    assert res["table"]["n"].tolist() == ref["n"]
    assert res["empty_groups"] == ref["empty"]
    if ref["chisq"] is None:
        assert np.isnan(res["chisq"]) and np.isnan(res["p_value"])
        assert res["note"] == "not computed: 2 of 9 quantile groups are empty (8 distinct predicted values)"
    else:
        assert res["note"] == ""
        assert res["chisq"] == pytest.approx(ref["chisq"], rel=1e-12)
        assert res["p_value"] == pytest.approx(ref["p_0.3_6"], rel=1e-10)


def test_calibration_table_carries_the_hosmer_lemeshow_note():
    cases = pd.read_csv(DATA / "hoslem_cases.csv")
    empty = cases[cases["case"] == "empty"]
    # everyone followed past the horizon or dead before it: y is the HL outcome itself
    time = np.where(empty["y"] == 1, 10.0, 50.0)
    result = calibration(time, empty["y"].to_numpy(), 1 - empty["p"].to_numpy(), 36, groups=4)
    summary = calibration_tables(result, nomogram="clinical", split="train").iloc[-1]
    assert np.isnan(summary["hl_chisq"]) and np.isnan(summary["hl_p_value"])
    assert summary["hl_note"].startswith("not computed: 2 of 9 quantile groups are empty")
