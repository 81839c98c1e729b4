"""Signatures: standardised on train only; oracle signatures; C-index beside the oracle."""

import numpy as np
import pandas as pd
import pytest
from lifelines.utils import concordance_index

from survsig.cohort.patients import SyntheticSettings, simulate_patients
from survsig.core.errors import InputError
from survsig.imaging.signature import (
    fitted_oracle,
    oracle_signature,
    signature_table,
    signature_vs_oracle,
    signature_vs_radiomics,
    standardise_signature,
)
from survsig.survival.concordance import compare_c


def test_standardised_with_training_statistics_only():
    raw = pd.Series([1.0, 2.0, 3.0, 100.0, -50.0])
    split = pd.Series(["train", "train", "train", "test", "test"])
    z = standardise_signature(raw, split)
    np.testing.assert_allclose(z[:3], [-1.0, 0.0, 1.0])
    assert z[3] == pytest.approx(98.0)  # test values do not move the scale
    with pytest.raises(InputError, match="constant"):
        standardise_signature(pd.Series([1.0, 1.0, 5.0]), pd.Series(["train", "train", "test"]))


@pytest.fixture(scope="module")
def cohort():
    patients = simulate_patients(SyntheticSettings(seed=4, n_patients=300))
    split = pd.DataFrame(
        {"patient_id": patients["patient_id"], "split": np.where(np.arange(300) % 5 < 3, "train", "test")}
    )
    return patients, split


def test_oracle_signature_is_the_predictor_the_channels_see(cohort):
    patients, split = cohort
    for channels, column in (
        (["ct"], "lp_image_ct"),
        (["pet", "roi"], "lp_image_pet"),
        (["ct", "pet", "roi"], "lp_image"),
    ):
        signature = oracle_signature(patients, split, channels)
        assert list(signature.columns) == ["patient_id", "split", "signature"]
        assert np.corrcoef(signature["signature"], patients[column])[0, 1] == pytest.approx(1.0)
    missing = patients.iloc[1:]
    with pytest.raises(InputError, match="no ground truth") as err:
        oracle_signature(missing, split, ["ct"])
    assert patients["patient_id"].iloc[0] in str(err.value)


def test_signature_vs_oracle_reports_equal_c_for_the_oracle_itself(cohort):
    patients, split = cohort
    models = {"ct": ["ct"], "petct": ["ct", "pet", "roi"]}
    signatures = {name: oracle_signature(patients, split, channels) for name, channels in models.items()}
    noisy = signatures["petct"].copy()
    noisy["signature"] += np.random.default_rng(0).normal(0, 2.0, len(noisy))
    signatures["noisy"] = noisy
    models["noisy"] = ["ct", "pet", "roi"]
    table = signature_vs_oracle(signatures, patients, patients, models).set_index(["model", "split"])
    for model in ("ct", "petct"):
        for split_name in ("train", "test"):
            assert table.loc[(model, split_name), "cindex"] == pytest.approx(
                table.loc[(model, split_name), "oracle_cindex"]
            )
    test = split["split"] == "test"
    expected = concordance_index(patients.os_months[test], -patients.lp_image[test], patients.os_event[test])
    assert table.loc[("petct", "test"), "image_oracle_cindex"] == pytest.approx(expected)
    assert table.loc[("noisy", "test"), "gap_to_image_oracle"] > 0.02
    gap = table["oracle_cindex"] - table["cindex"]
    np.testing.assert_array_equal(table["gap_to_oracle"], gap)
    fitted = fitted_oracle(
        patients.set_index("patient_id"),
        patients.set_index("patient_id"),
        split.loc[split["split"] == "train", "patient_id"].tolist(),
        "lp_image",
    )
    expected = concordance_index(patients.os_months[test], -fitted[test.to_numpy()], patients.os_event[test])
    assert table.loc[("petct", "test"), "fitted_oracle_cindex"] == pytest.approx(expected)
    np.testing.assert_array_equal(table["gap_to_fitted_oracle"], table["fitted_oracle_cindex"] - table["cindex"])
    assert table.loc[("ct", "test"), "gap_to_oracle"] == pytest.approx(0.0, abs=1e-12)
    assert table.loc[("ct", "test"), "n"] == 120


def test_fitted_oracle_weighs_the_traits_by_a_cox_fit_on_train_only(cohort):
    from lifelines import CoxPHFitter

    patients, split = cohort
    truth = patients.set_index("patient_id")
    train = split.loc[split["split"] == "train", "patient_id"].tolist()
    traits = ["tumor_volume", "uptake_level", "uptake_heterogeneity"]
    lp = fitted_oracle(truth, truth, train, "lp_image_pet")
    reference = CoxPHFitter().fit(
        truth.loc[train, [*traits, "os_months", "os_event"]], "os_months", "os_event", fit_options={"precision": 1e-12}
    )
    # both maximise the same Efron partial likelihood, lifelines told to converge to 1e-12:
    # in double precision the linear predictors agree far below any C-index difference
    np.testing.assert_allclose(lp, truth[traits].to_numpy() @ reference.params_[traits].to_numpy(), atol=1e-8)
    # 180 training patients recover the weights of HAZARD well enough to rank like the truth
    assert np.corrcoef(lp, truth["lp_image_pet"])[0, 1] > 0.9
    # the test patients' outcomes do not enter the fit
    shuffled = truth.copy()
    test = ~shuffled.index.isin(train)
    shuffled.loc[test, ["os_months", "os_event"]] = shuffled.loc[test, ["os_months", "os_event"]].to_numpy()[::-1]
    np.testing.assert_array_equal(fitted_oracle(truth, shuffled, train, "lp_image_pet"), lp)


def test_oracle_traits_add_up_to_the_true_predictors(cohort):
    from survsig.cohort.patients import HAZARD
    from survsig.core.columns import ORACLE_TRAITS

    patients, _ = cohort
    for predictor, traits in ORACLE_TRAITS.items():
        weighted = sum(HAZARD[trait] * patients[trait] for trait in traits)
        np.testing.assert_allclose(patients[predictor], weighted, atol=1e-12)


def test_signature_table_keeps_patients_and_split():
    table = signature_table(["A", "B", "C"], ["train", "test", "train"], [0.0, 5.0, 2.0])
    assert table["patient_id"].tolist() == ["A", "B", "C"]
    np.testing.assert_allclose(table["signature"], [-0.70710678, 2.82842712, 0.70710678])


def test_signature_vs_radiomics_is_the_paired_difference_on_the_same_patients(cohort):
    patients, split = cohort
    truth = oracle_signature(patients, split, ["ct", "pet", "roi"])
    rng = np.random.default_rng(1)
    network, comparator = truth.copy(), truth.copy()
    network["signature"] += rng.normal(0, 0.3, len(truth))
    comparator["signature"] += rng.normal(0, 3.0, len(truth))
    channels = {"petct": ["ct", "pet", "roi"], "radiomics": ["ct", "pet", "roi"], "ct": ["ct", "roi"]}
    ct_comparator = comparator.copy()
    table = signature_vs_radiomics(
        {"petct": network, "ct": network},
        {"petct": ("radiomics", comparator), "ct": ("radiomics_ct", ct_comparator)},
        patients,
        channels | {"radiomics_ct": ["ct", "roi"]},
    ).set_index(["model", "split"])
    assert list(table.index) == [("petct", "train"), ("petct", "test"), ("ct", "train"), ("ct", "test")]
    assert table.loc[("ct", "test"), "comparator"] == "radiomics_ct"
    assert table.loc[("ct", "test"), "comparator_channels"] == "ct+roi"
    test = (split["split"] == "test").to_numpy()
    time_, event = patients["os_months"][test], patients["os_event"][test]
    c_network = concordance_index(time_, -network["signature"][test], event)
    c_comparator = concordance_index(time_, -comparator["signature"][test], event)
    row = table.loc[("petct", "test")]
    assert row["cindex"] == pytest.approx(c_network)
    assert row["comparator_cindex"] == pytest.approx(c_comparator)
    assert row["diff"] == pytest.approx(c_network - c_comparator)
    # the less noisy network is the better signature, beyond the jackknife CI
    assert row["lower"] > 0 and row["p_value"] < 0.05
    jackknife = compare_c(time_, event, network["signature"][test], comparator["signature"][test])
    assert row["se"] == pytest.approx(jackknife["se"])
    assert row["upper"] - row["diff"] == pytest.approx(1.959964 * jackknife["se"], rel=1e-5)
    # a signature against itself: no difference, no spread
    same = signature_vs_radiomics({"petct": network}, {"petct": ("radiomics", network)}, patients, channels)
    assert np.allclose(same["diff"], 0.0) and np.allclose(same["se"], 0.0)


def test_signature_vs_radiomics_names_a_patient_the_comparator_lacks(cohort):
    patients, split = cohort
    network = oracle_signature(patients, split, ["ct", "roi"])
    comparator = network.iloc[:-1]
    channels = {"ct": ["ct", "roi"], "radiomics_ct": ["ct", "roi"]}
    with pytest.raises(InputError, match="no signature of the radiomics comparator 'radiomics_ct'") as err:
        signature_vs_radiomics({"ct": network}, {"ct": ("radiomics_ct", comparator)}, patients, channels)
    assert network["patient_id"].iloc[-1] in str(err.value)
    with pytest.raises(InputError, match="not in the clinical sheet") as err:
        signature_vs_radiomics({"ct": network}, {"ct": ("radiomics_ct", network)}, patients.iloc[2:], channels)
    assert str(patients["patient_id"].iloc[0]) in str(err.value) or str(patients["patient_id"].iloc[1]) in str(
        err.value
    )


# --------------------------------------------------------------------------- frozen signature
def frozen_from_scores(tmp_path, scores, labels):
    """Scales learnt on ``scores`` and the FrozenSignature that saves them (fake model files)."""
    from survsig.imaging.signature import FrozenSignature, learn_signature

    scales = {}
    signature = learn_signature(scores, labels, scales)
    files = []
    for m in range(len(scores)):
        path = tmp_path / f"models/x/member{m}/model.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes([m]) * 100)
        files.append(path)
    return signature, FrozenSignature.from_scales("x", ["pet", "roi"], files, scales, results_dir=tmp_path)


def test_frozen_signature_scores_any_patient_as_the_run_did(tmp_path):
    """Scales learnt on the training patients, saved, loaded and applied to any subset of
    patients (one at a time, the test set alone, shuffled) give the run's values bit for bit."""
    import json

    from survsig.imaging.signature import FrozenSignature

    rng = np.random.default_rng(4)
    n = 60
    labels = np.where(np.arange(n) < 36, "train", "test")
    scores = [rng.normal(size=(3, n)) * (m + 1) + m for m in range(2)]
    signature, frozen = frozen_from_scores(tmp_path, scores, labels)
    train = signature[labels == "train"]
    assert abs(train.mean()) < 1e-12 and train.std(ddof=1) == pytest.approx(1.0, abs=1e-12)
    loaded = FrozenSignature.from_dict(json.loads(json.dumps(frozen.to_dict())))
    assert [len(m["snapshots"]) for m in loaded.members] == [3, 3]
    for subset in (np.arange(n), np.flatnonzero(labels == "test"), rng.permutation(n), [7]):
        applied = loaded.signature([s[:, subset] for s in scores])
        assert np.array_equal(applied, signature[subset])
    assert [p.name for p in loaded.model_files(tmp_path)] == ["model.pt", "model.pt"]


def test_frozen_signature_refuses_another_runs_model_and_bad_keys(tmp_path):
    from survsig.imaging.signature import FrozenSignature

    rng = np.random.default_rng(5)
    labels = np.where(np.arange(20) < 12, "train", "test")
    _, frozen = frozen_from_scores(tmp_path, [rng.normal(size=(2, 20))], labels)
    (tmp_path / "models/x/member0/model.pt").write_bytes(b"another run")
    with pytest.raises(InputError, match="SHA-256 differs"):
        frozen.model_files(tmp_path)
    data = frozen.to_dict()
    data["members"][0]["snapshots"][1] = [0.1, 0.0]
    with pytest.raises(InputError, match=r"members\[0\].snapshots\[1\]' has an SD of 0.0"):
        FrozenSignature.from_dict(data, file="frozen.json")
    data = frozen.to_dict()
    del data["scale"]
    with pytest.raises(InputError, match="'scale' is missing"):
        FrozenSignature.from_dict(data, file="frozen.json")
    with pytest.raises(InputError, match="not a frozen signature file"):
        FrozenSignature.from_dict({"format": "other"})
