"""Bootstrap validation and calibration against R's rms 6.5-0 (validate, calibrate) on R's
lung data, fed the resamples rms drew (tests/data/r_rms, made by validate_calibrate.R), and
the nomograms' procedure repeated in the resamples."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sksurv.linear_model.coxph import CoxPHOptimizer
from test_nomogram import synthetic_cohort

from survsig.core.errors import InputError
from survsig.core.figures import save_figure
from survsig.statistics.internal_validation import (
    CALIBRATION_COLUMNS,
    INDICES,
    CoxBootstrapValidation,
    bootstrap_calibration_figure,
    bootstrap_resamples,
    calibration_cuts,
    cut_groups,
    gini_mean_difference,
    read_calibration,
    read_resamples,
    somers_dxy,
    summary_table,
    validate_nomograms,
)
from survsig.statistics.nomogram import CoxNomogram
from survsig.statistics.selection import nomogram_term_names, select_terms
from survsig.survival.concordance import harrell_c
from survsig.survival.cox import fit_cox, linear_predictor, newton_cox, partial_likelihood
from survsig.survival.km import kaplan_meier, kaplan_meier_at, survival_at

R_RMS = Path(__file__).resolve().parents[1] / "data" / "r_rms"
TERMS = ["age", "sex", "ph.ecog"]
# rms's numbers and ours are the same arithmetic in another order: differences are
# rounding, far below the 1e-6
R_ATOL = 1e-9


@pytest.fixture(scope="module")
def lung():
    frame = pd.read_csv(R_RMS / "lung_used.csv")
    return frame["time"].to_numpy(float), frame["status"].to_numpy(int), frame[TERMS]


@pytest.fixture(scope="module")
def r_resamples(lung):
    return read_resamples(R_RMS / "resamples_seed123_B200.csv", n=len(lung[0]))


@pytest.fixture(scope="module")
def rms():
    return json.loads((R_RMS / "rms_validate.json").read_text())


# --------------------------------------------------------------------------- Cox fits
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_partial_likelihood_equals_scikit_survival(ties):
    rng = np.random.default_rng(3)
    n = 150
    X = rng.normal(size=(n, 3))
    time = rng.integers(1, 30, n).astype(float)  # many tied times
    event = (rng.random(n) < 0.7).astype(int)
    beta = np.array([0.3, -0.2, 0.1])
    loglik, score, information = partial_likelihood(time, event, X, beta, ties=ties)
    optimizer = CoxPHOptimizer(X, event.astype(bool), time, np.zeros(3), ties)
    optimizer.update(beta)
    assert loglik == pytest.approx(-optimizer.nlog_likelihood(beta) * n, rel=1e-12)
    np.testing.assert_allclose(score, -optimizer.gradient * n, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(information, optimizer.hessian * n, rtol=1e-10)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_newton_cox_is_rms_cph(lung, rms, ties):
    """rms's cph (eps 1e-4, 10 iterations) stops before full convergence; newton_cox stops
    at the same step, so the coefficients agree to rounding, not to 1e-5."""
    time, event, X = lung
    fit = newton_cox(time, event, X.to_numpy(float), ties=ties, eps=1e-4, iter_max=10)
    r = rms[ties]
    np.testing.assert_allclose(fit.coef, [r["coef"][t] for t in TERMS], rtol=1e-12)
    assert [fit.loglik_init, fit.loglik] == pytest.approx(r["loglik"], rel=1e-13)
    assert fit.center == pytest.approx(r["center"], rel=1e-12)
    full = fit_cox(time, event, X, ties=ties)
    assert np.max(np.abs(fit.coef - full.coef)) > 1e-9  # a different point than the converged fit...
    converged = newton_cox(time, event, X.to_numpy(float), ties=ties)
    np.testing.assert_allclose(converged.coef, full.coef, rtol=1e-8)  # ...which R's coxph defaults reach
    frozen = newton_cox(time, event, X.to_numpy(float), ties=ties, init=full.coef, iter_max=0)
    assert frozen.loglik == pytest.approx(full.loglik, rel=1e-13)


def test_newton_cox_refuses_no_events_and_collinear_terms():
    time = np.arange(1.0, 11.0)
    with pytest.raises(InputError, match="no events"):
        newton_cox(time, np.zeros(10), np.arange(10.0)[:, None])
    x = np.arange(10.0)
    with pytest.raises(InputError, match="singular"):
        newton_cox(time, np.ones(10), np.c_[x, 2 * x])


# --------------------------------------------------------------------------- indices
def test_dxy_and_gini_are_rms_dxy_and_hmisc_gini(lung, rms):
    time, event, X = lung
    fit = newton_cox(time, event, X.to_numpy(float), eps=1e-4, iter_max=10)
    lp = linear_predictor(X.to_numpy(float), fit.coef)
    assert somers_dxy(time, event, lp) == pytest.approx(rms["efron"]["Dxy"], abs=1e-12)
    assert somers_dxy(time, event, lp) == pytest.approx(2 * harrell_c(time, event, lp)["c"] - 1, abs=1e-12)
    assert gini_mean_difference(lp) == pytest.approx(rms["efron"]["g"], rel=1e-12)
    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0])
    pairs = np.abs(x[:, None] - x[None, :])
    assert gini_mean_difference(x) == pytest.approx(pairs.sum() / (5 * 4), rel=1e-14)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_validate_equals_rms_given_its_resamples(lung, r_resamples, ties):
    time, event, X = lung
    result = CoxBootstrapValidation(ties=ties).fit(time, event, X, r_resamples)
    ref = pd.read_csv(R_RMS / f"validate_{ties}_B200.csv").set_index("index")
    ours = result.indices_.set_index("index")
    assert list(ours.index) == list(INDICES)
    for ours_col, r_col in [
        ("apparent", "index.orig"),
        ("training", "training"),
        ("test", "test"),
        ("optimism", "optimism"),
        ("corrected", "index.corrected"),
    ]:
        np.testing.assert_allclose(ours.loc[ref.index, ours_col], ref[r_col], rtol=0, atol=R_ATOL, err_msg=ours_col)
    assert (ours.loc[ref.index, "n"] == ref["n"]).all()
    c = ours.loc["C"]
    d = ours.loc["Dxy"]
    assert c["apparent"] == pytest.approx(d["apparent"] / 2 + 0.5, abs=1e-15)
    assert c["corrected"] == pytest.approx(d["corrected"] / 2 + 0.5, abs=1e-15)
    assert c["optimism"] == pytest.approx(d["optimism"] / 2, abs=1e-15)
    assert result.resamples_used_ == 200 and result.resamples_failed_ == 0
    assert len(result.resample_optimism_) == 200


@pytest.mark.parametrize("u,m", [(365, 50), (730, 40)])
def test_calibrate_km_equals_rms_given_its_resamples(lung, r_resamples, u, m):
    """u = 730 has a group whose KM is 0 (std.err Inf) and groups left out of some resamples."""
    time, event, X = lung
    result = CoxBootstrapValidation(horizon=u, m=m).fit(time, event, X, r_resamples)
    ref = pd.read_csv(R_RMS / f"calibrate_KM_u{u}_m{m}_B200.csv")
    ours = result.calibration_
    assert list(ours.columns) == list(CALIBRATION_COLUMNS)
    pairs = [
        ("apparent", "index.orig"),
        ("training", "training"),
        ("test", "test"),
        ("optimism", "mean.optimism"),
        ("corrected", "mean.corrected"),
        ("mean_predicted", "mean.predicted"),
        ("observed", "KM"),
        ("observed_corrected", "KM.corrected"),
        ("std_err", "std.err"),
    ]
    for ours_col, r_col in pairs:
        np.testing.assert_allclose(ours[ours_col], ref[r_col], rtol=0, atol=R_ATOL, err_msg=ours_col)
    assert (ours["n"].to_numpy() == ref["n"].to_numpy()).all()
    if u == 730:
        assert np.isinf(ours["std_err"]).sum() == 1 and (ref["n"] < 200).any()


def test_calibrate_reproduces_the_shared_rms_reference(shared_dir, lung, r_resamples):
    """../shared's calibrate() output (made by rms with set.seed(123)) is reproduced from
    the resamples file: the file holds the very resamples rms drew."""
    time, event, X = lung
    ref = pd.read_csv(shared_dir / "reference" / "R" / "out" / "lung_calibrate365_KM_m50_B200.csv")
    ours = CoxBootstrapValidation(horizon=365, m=50).fit(time, event, X, r_resamples).calibration_
    np.testing.assert_allclose(ours["corrected"], ref["mean.corrected"], rtol=0, atol=R_ATOL)
    np.testing.assert_allclose(ours["observed_corrected"], ref["KM.corrected"], rtol=0, atol=R_ATOL)


def test_own_resamples_agree_with_rms_within_monte_carlo_error(lung):
    """numpy's resamples are not R's; the optimism estimates then differ by Monte Carlo
    error only: within 4 standard errors of the difference of two independent means."""
    time, event, X = lung
    r = pd.read_csv(R_RMS / "validate_efron_B200.csv").set_index("index")
    ours = CoxBootstrapValidation().fit(time, event, X, bootstrap_resamples(len(time), 200, seed=2022))
    spread = ours.resample_optimism_.std(ddof=1)
    table = ours.indices_.set_index("index")
    for index in ["Dxy", "R2", "Slope", "g"]:
        se_difference = np.sqrt(2) * spread[index] / np.sqrt(200)  # R's spread taken equal to ours
        assert abs(table.loc[index, "optimism"] - r.loc[index, "optimism"]) < 4 * se_difference, index
        assert abs(table.loc[index, "optimism"] - r.loc[index, "optimism"]) > 0  # not the same draws


# --------------------------------------------------------------------------- building blocks
def test_cut_groups_follow_hmisc_cut2():
    # cut2 moves the cuts down by half the smallest gap: a value equal to a cut starts the next group
    groups, n_groups = cut_groups(np.array([0.1, 0.2, 0.3, 0.4, 0.5]), np.array([0.0, 0.3, 1.0]))
    assert n_groups == 2
    assert groups.tolist() == [0, 0, 1, 1, 1]
    cuts = calibration_cuts(np.linspace(0.05, 0.95, 227), 50)
    assert len(cuts) == 5 and cuts[0] == 0 and cuts[-1] == 1


def test_kaplan_meier_at_equals_the_whole_curve():
    rng = np.random.default_rng(8)
    time = rng.integers(1, 40, 80).astype(float)
    event = (rng.random(80) < 0.6).astype(int)
    curve = kaplan_meier(time, event)
    for t in [0.5, 10, 17.5, 30, 39]:
        surv, se_log, last = kaplan_meier_at(time, event, t)
        read = survival_at(curve, [t]).iloc[0]
        assert surv == pytest.approx(read["surv"], abs=1e-14)
        assert se_log * surv == pytest.approx(read["std_err"], abs=1e-14)
        assert last == time.max()


def test_bad_resamples_are_refused_naming_the_file(tmp_path, lung):
    time, event, X = lung
    with pytest.raises(InputError, match="rows of 227 indices"):
        CoxBootstrapValidation().fit(time, event, X, np.zeros((3, 10), dtype=int))
    path = tmp_path / "resamples.csv"
    pd.DataFrame([[0, 1, 2]]).to_csv(path, index=False)
    with pytest.raises(InputError, match="1..3") as err:
        read_resamples(path, n=3)
    assert str(path) in str(err.value)
    pd.DataFrame([[1.5, 1, 2]]).to_csv(path, index=False)
    with pytest.raises(InputError, match="whole numbers"):
        read_resamples(path, n=3)
    with pytest.raises(InputError, match="at least 2 patients"):
        CoxBootstrapValidation(m=1)


def test_bad_calibration_table_is_refused_naming_file_and_column(tmp_path):
    path = tmp_path / "bootstrap_calibration_integrated.tsv"
    pd.DataFrame({"group": [1], "apparent": [0.1]}).to_csv(path, sep="\t", index=False)
    with pytest.raises(InputError) as err:
        read_calibration(path)
    assert str(path) in str(err.value) and "training" in str(err.value)


# --------------------------------------------------------------------------- the nomograms
@pytest.fixture(scope="module")
def nomogram_validation():
    frame = synthetic_cohort(n=300, seed=4)
    n_train = int((frame["split"] == "train").sum())
    resamples = bootstrap_resamples(n_train, 30, seed=1)
    settings = dict(
        clinical_factors=["sex", "age", "rT_stage", "N_stage", "ebv_dna"],
        p_threshold=0.05,
        use_suv=True,
        integrated_model="petct",
    )
    results = validate_nomograms(
        frame, ["clinical", "dl_petct", "integrated"], **settings, resamples=resamples, horizon=36, m=40
    )
    return frame, settings, resamples, results


def test_nomogram_validation_starts_from_the_nomogram_itself(nomogram_validation):
    frame, settings, _, results = nomogram_validation
    selection = select_terms(frame, clinical_factors=settings["clinical_factors"], p_threshold=0.05, use_suv=True)
    train = frame[frame["split"] == "train"]
    for name, result in results.items():
        terms = nomogram_term_names(name, selection, integrated_model="petct")
        assert result.terms_ == terms
        nomogram = CoxNomogram(terms).fit(train)
        c = harrell_c(train["os_months"], train["os_event"], nomogram.predict_lp(train))["c"]
        assert result.indices_.set_index("index").loc["C", "apparent"] == pytest.approx(c, abs=1e-12)
    # the signature's true effect is strong: its C barely depends on the resample
    assert results["dl_petct"].indices_.set_index("index").loc["C", "optimism"] < 0.01
    # the selection was repeated: some resample picked a term the original did not, or dropped one
    frequency = results["clinical"].selection_frequency_
    assert ((frequency > 0) & (frequency < 1)).any()
    assert results["dl_petct"].selection_frequency_["signature_petct"] == 1


def test_nomogram_validation_is_reproducible_and_summarised(nomogram_validation):
    frame, settings, resamples, results = nomogram_validation
    # the term selections in 2 processes: the same numbers as one after another
    again = validate_nomograms(frame, ["integrated"], **settings, resamples=resamples, horizon=36, m=40, workers=2)
    pd.testing.assert_frame_equal(again["integrated"].indices_, results["integrated"].indices_, check_exact=True)
    pd.testing.assert_series_equal(
        again["integrated"].selection_frequency_, results["integrated"].selection_frequency_, check_exact=True
    )
    pd.testing.assert_frame_equal(
        again["integrated"].calibration_, results["integrated"].calibration_, check_exact=True
    )
    summary = summary_table(results).set_index("nomogram")
    for name, result in results.items():
        c = result.indices_.set_index("index").loc["C"]
        assert summary.loc[name, "c_corrected"] == c["corrected"]
        assert summary.loc[name, "c_apparent"] - summary.loc[name, "c_optimism"] == pytest.approx(c["corrected"])


def test_bootstrap_calibration_figure(tmp_path, nomogram_validation):
    table = nomogram_validation[3]["integrated"].calibration_
    path = tmp_path / "table.tsv"
    table.to_csv(path, sep="\t", index=False)
    png, pdf = tmp_path / "cal.png", tmp_path / "cal.pdf"
    save_figure(bootstrap_calibration_figure(read_calibration(path), horizon_months=36, title="Integrated"), png, pdf)
    first = png.read_bytes()
    save_figure(bootstrap_calibration_figure(read_calibration(path), horizon_months=36, title="Integrated"), png, pdf)
    assert png.read_bytes() == first and pdf.stat().st_size > 1000
