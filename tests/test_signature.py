"""Signatures: standardised on train only; oracle signatures; C-index beside the oracle."""

import numpy as np
import pandas as pd
import pytest
from lifelines.utils import concordance_index

from survsig.errors import InputError
from survsig.signature import oracle_signature, signature_table, signature_vs_oracle, standardise_signature
from survsig.simulate import SyntheticSettings, simulate_patients


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
    assert table.loc[("ct", "test"), "n"] == 120


def test_signature_table_keeps_patients_and_split():
    table = signature_table(["A", "B", "C"], ["train", "test", "train"], [0.0, 5.0, 2.0])
    assert table["patient_id"].tolist() == ["A", "B", "C"]
    np.testing.assert_allclose(table["signature"], [-0.70710678, 2.82842712, 0.70710678])
