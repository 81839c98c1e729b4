"""The clinical part of the statistics on real patients: 156 head-and-neck cancer patients
of MD Anderson (TCIA HNSCC), mapped to the canonical columns as a user's config would."""

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from survsig.cohort.split import split_cohort
from survsig.statistics.cindex import concordance_table
from survsig.statistics.nomogram import CoxNomogram
from survsig.statistics.scoring import score_table
from survsig.statistics.selection import nomogram_term_names, select_terms
from survsig.statistics.terms import patient_table
from survsig.statistics.univariable import table2_terms, univariable_table
from survsig.survival.concordance import harrell_c

#: canonical column -> the sheet's column (config ``cohort.columns``)
COLUMNS = {
    "patient_id": "TCIA code",
    "os_months": "Survival  (months)",
    "os_event": "Overall Survival Censor",
    "age": "Age",
    "sex": "Sex",
    "rT_stage": "T",
    "N_stage": "N",
}
#: canonical level -> the sheet's labels (config ``cohort.labels``); carcinoma in situ is
#: counted with the early stages (T0-2), the N2 subgroups as N2
LABELS = {
    "sex": {"M": ["Male"], "F": ["Female"]},
    "rT_stage": {"T0": ["In situ"], "T1": ["1"], "T2": ["2"], "T3": ["3", "3a"], "T4": ["4", "4a", "4b"]},
    "N_stage": {"N0": ["0"], "N1": ["1"], "N2": ["2", "2a", "2b", "2c"], "N3": ["3"]},
}
FACTORS = ["sex", "age", "rT_stage", "N_stage"]  # the sheet has no EBV DNA


@pytest.fixture
def cohort(shared_dir):
    path = shared_dir / "data" / "real" / "clinical" / "hnscc_mda_clinical.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    sheet = pd.read_csv(path, dtype={"T": str, "N": str})
    clinical = pd.DataFrame({canon: sheet[column] for canon, column in COLUMNS.items()})
    for canon, levels in LABELS.items():
        lookup = {label: level for level, labels in levels.items() for label in labels}
        clinical[canon] = clinical[canon].map(lookup)
    assert clinical.notna().all().all()
    split = split_cohort(clinical, train_fraction=0.6, seed=2022)
    return patient_table(clinical, split)


def test_real_cohort_shape(cohort):
    assert len(cohort) == 156
    assert int(cohort["os_event"].sum()) == 43
    assert (cohort["split"] == "train").sum() == 94


def test_table2_on_real_patients_agrees_with_lifelines(cohort):
    table = univariable_table(cohort, table2_terms(cohort, FACTORS, []))
    assert table["term"].unique().tolist() == FACTORS
    # no woman of the test set died: her hazard ratio has no finite estimate (R's coxph
    # warns "coefficient may be infinite"); the row says so instead of printing HR 1e-11
    test = cohort[cohort["split"] == "test"]
    assert test.loc[test["sex"] == "F", "os_event"].sum() == 0
    sex_test = table[(table["term"] == "sex") & (table["split"] == "test")].iloc[0]
    assert np.isnan(sex_test["hr"]) and "no finite maximum" in sex_test["note"]
    assert table.drop(index=sex_test.name)["hr"].notna().all()
    train = cohort[cohort["split"] == "train"]
    assert (table.loc[table["split"] == "train", "events"] == train["os_event"].sum()).all()
    # an independent implementation: lifelines' CoxPHFitter (Efron ties), converged tightly
    for term, coding in (
        ("age", train["age"]),
        ("rT_stage", train["rT_stage"].isin(["T3", "T4"]).astype(float)),
        ("sex", (train["sex"] == "F").astype(float)),
    ):
        data = pd.DataFrame({"x": coding.to_numpy(float), "t": train["os_months"], "e": train["os_event"]})
        fit = CoxPHFitter().fit(data, "t", "e", fit_options={"precision": 1e-12})
        row = table[(table["term"] == term) & (table["split"] == "train")].iloc[0]
        assert row["coef"] == pytest.approx(fit.params_["x"], abs=1e-7), term
        assert row["se"] == pytest.approx(fit.standard_errors_["x"], abs=1e-7), term
        assert row["p_value"] == pytest.approx(fit.summary.loc["x", "p"], rel=1e-5), term


def test_clinical_nomogram_and_c_index_on_real_patients(cohort):
    selection = select_terms(cohort, clinical_factors=FACTORS)
    terms = nomogram_term_names("clinical", selection, integrated_model="petct")
    assert terms and set(terms) <= set(FACTORS)
    train = cohort[cohort["split"] == "train"]
    nomogram = CoxNomogram(terms, name="clinical").fit(train)
    scores = score_table(nomogram, cohort)
    table = concordance_table({"clinical": scores}, reference="clinical", resamples=0)
    for split in ("train", "test"):
        row = table[table["split"] == split].iloc[0]
        part = scores[scores["split"] == split]
        c = harrell_c(part["os_months"], part["os_event"], part["lp"])
        assert row["c_index"] == c["c"] and row["lower"] < row["c_index"] < row["upper"]
        assert 0.5 < row["c_index"] < 0.9
    # on the training set the nomogram's C is at least that of its best single factor
    for term in terms:
        single = CoxNomogram([term]).fit(train).predict_lp(train)
        assert (
            table.loc[table["split"] == "train", "c_index"].iloc[0]
            >= harrell_c(train["os_months"], train["os_event"], single)["c"] - 0.02
        )
    assert np.isfinite(nomogram.baseline_survival_[36.0])
