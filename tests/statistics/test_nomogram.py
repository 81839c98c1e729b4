"""Cox fits, selection and nomograms against R (survival 3.5-3, rms 6.5-0 on R's lung data),
against synthetic truth, and on bad input."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from survsig.core.errors import InputError
from survsig.core.figures import save_figure
from survsig.statistics.axes import axis_values, points_scale, r_pretty
from survsig.statistics.nomogram import CoxNomogram
from survsig.statistics.nomogram_figure import nomogram_figure, survival_axis
from survsig.statistics.scoring import score_new_patients, score_table
from survsig.statistics.selection import backward_aic, nomogram_term_names, select_terms, selection_table
from survsig.statistics.terms import Term, patient_table, signature_term
from survsig.statistics.univariable import table2_figure, table2_terms, univariable_table
from survsig.survival.cox import baseline_cumulative_hazard, fit_cox

LUNG_TERMS = ["age", "sex", "ph.ecog"]


# --------------------------------------------------------------------------- R fixtures
@pytest.fixture
def r_out(shared_dir):
    return shared_dir / "reference" / "R" / "out"


@pytest.fixture
def lung(shared_dir):
    """R's survival::lung (status 1 = death), rows with ph.ecog (n = 227), as coxph uses them."""
    data = pd.read_csv(shared_dir / "reference" / "R" / "data" / "lung.csv")
    return data.dropna(subset=["ph.ecog"]).reset_index(drop=True)


def lung_frame(lung):
    return lung.rename(columns={"time": "os_months", "status": "os_event"})


def lung_nomogram(lung):
    """Numeric terms as R's formula ``~ age + sex + ph.ecog`` codes them."""
    terms = [Term(name, name, "continuous", name) for name in LUNG_TERMS]
    return CoxNomogram(terms, survival_times=(180, 365, 730), name="lung").fit(lung_frame(lung))


def read_json(path):
    return json.loads(path.read_text())


# --------------------------------------------------------------------------- coxph
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_fit_matches_r_coxph(lung, r_out, ties):
    """R: coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung, ties = ties)."""
    ref = read_json(r_out / "lung_cox.json")[ties]
    fit = fit_cox(lung["time"], lung["status"], lung[LUNG_TERMS], ties=ties)
    assert (fit.n, fit.events) == (ref["n"], ref["nevent"])
    np.testing.assert_allclose(fit.coef, [ref["coef"][t] for t in LUNG_TERMS], rtol=0, atol=1e-8)
    np.testing.assert_allclose(fit.se, [ref["se"][t] for t in LUNG_TERMS], rtol=0, atol=1e-9)
    assert fit.loglik == pytest.approx(ref["loglik_model"], abs=1e-8)
    assert fit.loglik_null == pytest.approx(ref["loglik_null"], abs=1e-8)
    assert fit.aic == pytest.approx(ref["AIC"], abs=1e-8)
    assert fit.converged


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_wald_summary_matches_r(lung, r_out, ties):
    """R: summary(coxph(...))$coefficients and exp(confint(fit))."""
    ref = pd.read_csv(r_out / f"lung_cox_coef_{ties}.csv")
    summary = fit_cox(lung["time"], lung["status"], lung[LUNG_TERMS], ties=ties).summary()
    for column, r_column in (
        ("z", "z"),
        ("p_value", "p"),
        ("hr", "HR"),
        ("hr_lower", "HR_lower95"),
        ("hr_upper", "HR_upper95"),
    ):
        np.testing.assert_allclose(summary[column], ref[r_column], rtol=1e-7, atol=1e-12, err_msg=column)


def test_backward_aic_picks_r_step_variables(shared_dir, r_out):
    """R: step(coxph(Surv(time, status) ~ age + sex + ph.ecog + ph.karno + wt.loss), "backward")."""
    ref = read_json(r_out / "lung_step.json")
    drop1 = pd.read_csv(r_out / "lung_step_drop1_full.csv")
    cc = pd.read_csv(shared_dir / "reference" / "R" / "data" / "lung_cc.csv")
    full = ["age", "sex", "ph.ecog", "ph.karno", "wt.loss"]
    assert fit_cox(cc["time"], cc["status"], cc[full]).aic == pytest.approx(ref["full_AIC"], abs=1e-6)
    for dropped, aic in zip(drop1["dropped"][1:], drop1["AIC"][1:]):
        rest = [t for t in full if t != dropped]
        assert fit_cox(cc["time"], cc["status"], cc[rest]).aic == pytest.approx(aic, abs=1e-6), dropped

    selected, trace = backward_aic(cc["time"], cc["status"], cc[full], min_terms=0)
    assert selected == ref["selected_vars"]
    r_trace = pd.read_csv(r_out / "lung_step_trace.csv")
    np.testing.assert_allclose(trace["aic"], r_trace["AIC"], atol=1e-6)
    assert list(trace["step"]) == ["", "- wt.loss"]
    fit = fit_cox(cc["time"], cc["status"], cc[selected])
    np.testing.assert_allclose(fit.coef, [ref["selected_coef"][t] for t in selected], atol=1e-7)
    np.testing.assert_allclose(fit.se, [ref["selected_se"][t] for t in selected], atol=1e-8)
    assert fit.loglik == pytest.approx(ref["selected_loglik"], abs=1e-8)


def test_backward_aic_keeps_forced_terms_and_min_terms():
    rng = np.random.default_rng(3)
    n = 300
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})
    time = rng.exponential(np.exp(-1.0 * X["a"]))
    event = (rng.uniform(size=n) < 0.8).astype(int)
    selected, _ = backward_aic(time, event, X)
    assert selected == ["a"]  # b and c are noise
    selected, _ = backward_aic(time, event, X, keep=["b"])
    assert selected == ["a", "b"]
    # null covariates only: R's step() would drop to the empty model, we keep one term
    selected, _ = backward_aic(time, event, X[["b", "c"]])
    assert len(selected) == 1


def test_predicted_survival_matches_r_survfit(lung, r_out):
    """R: summary(survfit(fit_efron, newdata = lung[1:5, ]), times = c(180, 365, 730))."""
    ref = pd.read_csv(r_out / "lung_cox_pred_surv_efron.csv")
    means = read_json(r_out / "lung_cox.json")["efron"]["lp_centering_means"]
    nomogram = lung_nomogram(lung)
    np.testing.assert_allclose(nomogram.means_[LUNG_TERMS], [means[t] for t in LUNG_TERMS], atol=1e-12)
    first5 = lung_frame(lung).iloc[:5]
    np.testing.assert_allclose(nomogram.predict_lp(first5), ref["lp_centered"].to_numpy()[::3], atol=1e-8)
    surv = nomogram.predict_survival(first5, [180, 365, 730])
    np.testing.assert_allclose(surv.ravel(), ref["surv"], atol=1e-8)
    # every patient's linear predictor of the scores file equals R's predict(type = "lp")
    lp = pd.read_csv(r_out / "lung_cox_lp_efron.csv")["lp"]
    np.testing.assert_allclose(nomogram.predict_lp(lung_frame(lung)), lp, atol=1e-8)


def test_breslow_baseline_is_the_plain_breslow_estimator():
    # two deaths tied at t = 2, three patients at risk, lp = 0: Breslow 2/3;
    # Efron 1/3 + 1/(3 - 1/2 * 2)
    time, event, lp = [1, 2, 2, 3], [0, 1, 1, 0], np.zeros(4)
    times, cumhaz = baseline_cumulative_hazard(time, event, lp, ties="breslow")
    assert times.tolist() == [2.0] and cumhaz[0] == pytest.approx(2 / 3)
    _, cumhaz = baseline_cumulative_hazard(time, event, lp, ties="efron")
    assert cumhaz[0] == pytest.approx(1 / 3 + 1 / 2)


# --------------------------------------------------------------------------- rms nomogram
def test_r_pretty_matches_r():
    # R 4.2: pretty(c(39, 82), 10); pretty(c(0, 100), 10); pretty(c(0, 1)); pretty(c(1, 10))
    assert r_pretty(39, 82, 10).tolist() == list(range(35, 86, 5))
    assert r_pretty(0, 100, 10).tolist() == list(range(0, 101, 10))
    np.testing.assert_allclose(r_pretty(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert r_pretty(1, 10).tolist() == [0, 2, 4, 6, 8, 10]
    assert r_pretty(5, 5).tolist()[0] <= 5 <= r_pretty(5, 5).tolist()[-1]


def rms_scale(lung, r_out):
    rms = read_json(r_out / "lung_rms.json")
    patients = pd.read_csv(r_out / "lung_nomogram_patient_points.csv")
    values = {t: axis_values(lung[t]) for t in LUNG_TERMS}
    lp = patients["lp_centered"]
    return rms, points_scale(rms["coef"], values, center=rms["center"], lp_range=(lp.min(), lp.max()))


def test_points_per_value_match_rms_nomogram(lung, r_out):
    """R: nomogram(cph(Surv(time, status) ~ age + sex + ph.ecog), maxscale = 100): points of every value."""
    ref = pd.read_csv(r_out / "lung_nomogram_points.csv")
    rms, scale = rms_scale(lung, r_out)
    for term in LUNG_TERMS:
        rows = ref[ref["variable"] == term]
        axis = scale["axes"][term]
        np.testing.assert_allclose(axis["values"], rows["value"], err_msg=term)  # rms' ticks
        np.testing.assert_allclose(axis["xbeta"], rows["Xbeta"], atol=1e-12, err_msg=term)
        np.testing.assert_allclose(axis["points"], rows["points"], atol=1e-3, rtol=0, err_msg=term)
        np.testing.assert_allclose(axis["points"], rows["points"], atol=1e-9, rtol=0, err_msg=term)  # in fact
    assert scale["sc"] == pytest.approx(rms["nomogram"]["scale_sc"], abs=1e-9)
    assert scale["intercept"] == pytest.approx(rms["nomogram"]["intercept"], abs=1e-12)


def test_axes_match_rms_nomogram(lung, r_out):
    """Linear predictor axis exactly; survival axes within 1e-3 points (rms inverts S(t) by
    linear interpolation on a 1000-point grid, we invert it exactly: 7e-5 points apart)."""
    axes = pd.read_csv(r_out / "lung_nomogram_axes.csv")
    rms, scale = rms_scale(lung, r_out)
    lp = axes[axes["axis"] == "lp"]
    np.testing.assert_allclose(scale["lp_at"], lp["value"], atol=1e-12)
    np.testing.assert_allclose((np.asarray(scale["lp_at"]) - scale["intercept"]) * scale["sc"], lp["points"], atol=1e-9)
    nomogram = lung_nomogram(lung)
    nomogram.scale_ = scale
    for day, s0 in ((365, rms["baseline_surv_at_lp0"]["t365"]), (730, rms["baseline_surv_at_lp0"]["t730"])):
        nomogram.baseline_times_ = np.array([1.0])
        nomogram.baseline_cumhaz_ = np.array([-np.log(s0)])  # rms' baseline, flat from day 1
        ref = axes[axes["axis"] == f"S{day}"]
        # rms ticks: pretty(S(range(lp.at)), 10), those inside the lp axis
        s_range = sorted(s0 ** np.exp([scale["lp_at"][0], scale["lp_at"][-1]]))
        ticks = r_pretty(s_range[0], s_range[1], 10)
        positions, labels = survival_axis(nomogram, day, ticks[::-1])
        ref = ref.sort_values("value", ascending=False)
        assert [float(v) for v in labels] == ref["value"].tolist()
        np.testing.assert_allclose(positions, ref["points"], atol=1e-3)
    rms_base = read_json(r_out / "lung_rms.json")["baseline_surv_at_lp0"]
    fitted = lung_nomogram(lung)
    # our baseline (Efron-corrected, at our coefficients) vs rms' (its own, less converged, fit)
    assert fitted.survival_at(0.0, 365)[()] == pytest.approx(rms_base["t365"], abs=1e-4)


def test_patient_points_match_rms(lung, r_out):
    """Per-patient points, total points and lp of rms' nomogram, for all 227 patients."""
    ref = pd.read_csv(r_out / "lung_nomogram_patient_points.csv")
    rms, scale = rms_scale(lung, r_out)
    nomogram = lung_nomogram(lung)
    nomogram.coef_ = pd.Series(rms["coef"])[LUNG_TERMS]
    nomogram.scale_ = scale
    points = nomogram.points(lung_frame(lung))
    for term in LUNG_TERMS:
        np.testing.assert_allclose(points[f"points_{term}"], ref[f"pts_{term}"], atol=1e-9)
    np.testing.assert_allclose(points["total_points"], ref["total_points"], atol=1e-9)
    np.testing.assert_allclose(points["lp"], ref["lp_centered"], atol=1e-9)


def test_own_fit_points_close_to_rms(lung, r_out):
    """With our own fit the points differ from rms by < 0.02: rms' cph stops at a looser
    tolerance (its coefficients are 2e-6 from coxph's, whose log-likelihood is higher)."""
    ref = pd.read_csv(r_out / "lung_nomogram_points.csv")
    nomogram = lung_nomogram(lung)
    for term in LUNG_TERMS:
        diff = np.abs(np.asarray(nomogram.scale_["axes"][term]["points"]) - ref.loc[ref["variable"] == term, "points"])
        assert diff.max() < 0.02, term


# --------------------------------------------------------------------------- synthetic truth
def synthetic_cohort(n=600, seed=11):
    """Exponential survival with known log hazard ratios: age 0.04/year, rT3-4 0.9,
    signature 0.8/SD; sex, N-stage and EBV DNA without effect; uniform censoring."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "patient_id": [f"P{i:04d}" for i in range(n)],
            "age": rng.normal(50, 10, n).round(),
            "sex": rng.choice(["M", "F"], n),
            "rT_stage": rng.choice(["T0", "T1", "T2", "T3", "T4"], n),
            "N_stage": rng.choice(["N0", "N1", "N2", "N3"], n),
            "ebv_dna": rng.choice(["undetectable", "detectable"], n),
            "tumor_suv_max": rng.gamma(4, 2, n),
            "signature_petct": rng.normal(size=n),
        }
    )
    lp = 0.04 * (frame["age"] - 50) + 0.9 * frame["rT_stage"].isin(["T3", "T4"]) + 0.8 * frame["signature_petct"]
    event_time = rng.exponential(40 * np.exp(-lp))
    censor = rng.uniform(10, 80, n)
    frame["os_months"] = np.minimum(event_time, censor).round(2) + 0.01
    frame["os_event"] = (event_time <= censor).astype(int)
    frame["split"] = np.where(np.arange(n) % 5 < 3, "train", "test")
    return frame


def test_fit_recovers_true_coefficients():
    frame = synthetic_cohort(n=2000)
    nomogram = CoxNomogram(["age", "rT_stage", "signature_petct"]).fit(frame)
    truth = np.array([0.04, 0.9, 0.8])
    z = (nomogram.coef_.to_numpy() - truth) / nomogram.se_.to_numpy()
    assert np.all(np.abs(z) < 3), z


def test_selection_finds_the_true_clinical_factors():
    frame = synthetic_cohort()
    selection = select_terms(frame, clinical_factors=["sex", "age", "rT_stage", "N_stage", "ebv_dna"])
    assert selection["clinical"] == ["age", "rT_stage"]
    assert selection["univariable_p"]["rT_stage"] < 1e-6
    table = selection_table(selection)
    assert set(table["stage"]) >= {"univariable", "backward_clinical", "selected"}
    assert nomogram_term_names("integrated", selection, integrated_model="petct") == [
        "age",
        "rT_stage",
        "signature_petct",
    ]
    assert nomogram_term_names("dl_ct", selection, integrated_model="petct") == ["signature_ct"]


def test_selection_falls_back_to_the_smallest_p_factor():
    frame = synthetic_cohort(n=120, seed=5)
    frame["os_months"] = np.random.default_rng(0).permutation(frame["os_months"].to_numpy())  # no effect left
    selection = select_terms(frame, clinical_factors=["sex", "N_stage", "ebv_dna"], p_threshold=1e-9)
    assert len(selection["clinical"]) == 1
    assert "smallest" in selection["notes"][0]


def test_univariable_table_codes_levels_as_the_study():
    frame = synthetic_cohort()
    terms = table2_terms(frame, ["sex", "age", "rT_stage"], ["petct"])
    table = univariable_table(frame, terms)
    assert list(table["term"].unique()) == ["sex", "age", "rT_stage", "tumor_suv_max", "signature_petct"]
    row = table[(table["term"] == "rT_stage") & (table["split"] == "train")].iloc[0]
    # HR of T3-4 vs T0-2 by hand: the same model on a 0/1 column
    train = frame[frame["split"] == "train"]
    fit = fit_cox(train["os_months"], train["os_event"], train["rT_stage"].isin(["T3", "T4"]).astype(float))
    assert row["hr"] == pytest.approx(np.exp(fit.coef[0]), rel=1e-12)
    assert row["hr_lower"] < row["hr"] < row["hr_upper"]
    assert row["n"] == len(train) and row["events"] == train["os_event"].sum()


# --------------------------------------------------------------------------- files
def test_nomogram_json_round_trip_and_scoring(tmp_path):
    frame = synthetic_cohort()
    train = frame[frame["split"] == "train"]
    nomogram = CoxNomogram(["age", "rT_stage", "signature_petct"], name="integrated").fit(train)
    path = tmp_path / "integrated.json"
    nomogram.save(path)
    first = path.read_bytes()
    nomogram.save(path)
    assert path.read_bytes() == first  # deterministic
    loaded = CoxNomogram.load(path)
    np.testing.assert_array_equal(loaded.predict_lp(frame), nomogram.predict_lp(frame))
    np.testing.assert_array_equal(loaded.predict_survival(frame, [12, 36]), nomogram.predict_survival(frame, [12, 36]))
    data = json.loads(first)
    assert set(data["baseline_survival"]) == {"12", "36", "60"}
    assert data["means"]["age"] == pytest.approx(train["age"].mean())
    # scores: all patients, the scores file's columns, lp = (x - means) . coef
    scores = score_table(loaded, frame)
    assert list(scores.columns) == ["patient_id", "split", "os_months", "os_event", "lp"]
    assert len(scores) == len(frame)
    x = np.column_stack([frame["age"], frame["rT_stage"].isin(["T3", "T4"]), frame["signature_petct"]])
    expected = (x - nomogram.means_.to_numpy()) @ nomogram.coef_.to_numpy()
    np.testing.assert_allclose(scores["lp"], expected, atol=1e-12)
    # points reproduce the linear predictor: lp = intercept + total / sc
    points = loaded.points(frame)
    np.testing.assert_allclose(points["lp"], expected, atol=1e-9)
    assert points[["points_age", "points_rT_stage", "points_signature_petct"]].to_numpy().min() > -1e-9


def test_score_new_patients_sheet():
    frame = synthetic_cohort()
    nomogram = CoxNomogram(["age", "rT_stage", "signature_petct"]).fit(frame[frame["split"] == "train"])
    sheet = pd.DataFrame(
        {"patient_id": ["A", "B"], "age": [40, 70], "rT_stage": ["T1", "T4"], "signature_petct": [-1.0, 1.5]}
    )
    scored = score_new_patients(nomogram, sheet)
    assert scored["lp"].iloc[1] > scored["lp"].iloc[0]
    assert scored["survival_36m"].iloc[1] < scored["survival_36m"].iloc[0]
    np.testing.assert_allclose(scored["survival_12m"], nomogram.predict_survival(sheet, [12])[:, 0])
    with pytest.raises(InputError, match="signature_petct"):
        score_new_patients(nomogram, sheet.drop(columns="signature_petct"), file="new.tsv")
    bad = sheet.assign(rT_stage=["T1", "T9"])
    with pytest.raises(InputError, match="'T9' is not one of") as err:
        score_new_patients(nomogram, bad, file="new.tsv")
    assert err.value.patient == "B" and err.value.column == "rT_stage" and err.value.file == "new.tsv"


def test_figures_are_byte_identical(tmp_path):
    frame = synthetic_cohort()
    nomogram = CoxNomogram(["age", "rT_stage", "signature_petct"], name="integrated").fit(
        frame[frame["split"] == "train"]
    )
    digests = []
    for run in ("a", "b"):
        png, pdf = tmp_path / f"{run}.png", tmp_path / f"{run}.pdf"
        figure = nomogram_figure(nomogram, survival_ticks=[0.9, 0.7, 0.5, 0.3, 0.1], title="Integrated")
        save_figure(figure, png, pdf)
        digests.append((hashlib.sha256(png.read_bytes()).hexdigest(), hashlib.sha256(pdf.read_bytes()).hexdigest()))
    assert digests[0] == digests[1]
    table = univariable_table(frame, table2_terms(frame, ["age", "rT_stage"], ["petct"]))
    save_figure(table2_figure(table), tmp_path / "t2.png", tmp_path / "t2.pdf")
    assert (tmp_path / "t2.png").stat().st_size > 10_000


# --------------------------------------------------------------------------- bad input
def clinical_and_split(frame):
    clinical = frame.drop(columns=["split", "signature_petct"])
    return clinical, frame[["patient_id", "split"]]


def test_signature_file_missing_patients_is_one_clear_error():
    frame = synthetic_cohort(n=50)
    clinical, split = clinical_and_split(frame)
    signature = frame[["patient_id", "split", "signature_petct"]].rename(columns={"signature_petct": "signature"})
    table = patient_table(clinical, split, {"petct": signature})
    np.testing.assert_allclose(table["signature_petct"], frame["signature_petct"])
    with pytest.raises(InputError, match="no signature of model 'petct'") as err:
        patient_table(
            clinical, split, {"petct": signature.drop(index=[3, 7])}, files={"petct": "results/signatures/petct.tsv"}
        )
    assert err.value.patient == "P0003" and err.value.file == "results/signatures/petct.tsv"
    assert "2 patient(s) missing" in str(err.value)
    with pytest.raises(InputError, match="disagrees"):
        patient_table(clinical, split, {"petct": signature.assign(split="train")})


def test_constant_covariate_is_an_error_in_a_fit_and_a_note_in_table2():
    frame = synthetic_cohort(n=200)
    frame["tumor_suv_max"] = 0.0
    with pytest.raises(InputError, match="constant") as err:
        fit_cox(frame["os_months"], frame["os_event"], frame[["age", "tumor_suv_max"]])
    assert err.value.column == "tumor_suv_max"
    table = univariable_table(frame, table2_terms(frame, ["age"], []))
    suv = table[table["term"] == "tumor_suv_max"]
    assert suv["hr"].isna().all() and suv["note"].str.contains("constant").all()
    with pytest.raises(InputError, match="constant"):
        CoxNomogram(["tumor_suv_max"]).fit(frame)


def test_split_without_events():
    frame = synthetic_cohort(n=200)
    frame.loc[frame["split"] == "test", "os_event"] = 0
    table = univariable_table(frame, [signature_term("petct")])
    test_row = table[table["split"] == "test"].iloc[0]
    assert np.isnan(test_row["hr"]) and "no events" in test_row["note"]
    frame.loc[frame["split"] == "train", "os_event"] = 0
    with pytest.raises(InputError, match="no events"):
        select_terms(frame, clinical_factors=["age"])
    with pytest.raises(InputError, match="no events"):
        CoxNomogram(["age"]).fit(frame[frame["split"] == "train"])
