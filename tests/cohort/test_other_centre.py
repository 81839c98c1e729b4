"""The synthetic other centre: the same biology seen by another scanner in another case mix."""

import hashlib
import re

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import yaml
from test_simulate import OUTPUTS

from conftest import REPO
from survsig.cohort.patients import (
    AGE_CENTRE,
    CASE_MIX_VARIABLES,
    HAZARD,
    OTHER_CENTRE,
    TABLE1_PROPORTIONS,
    SyntheticSettings,
    other_centre,
    simulate_patients,
)
from survsig.cohort.phantoms import lesion_margins
from survsig.cohort.simulate import simulate_cohort
from survsig.core import columns as col
from survsig.core.errors import InputError

#: Small grids, so that rendering takes a second (the preset's grids are geometry2's).
SMALL_GRIDS = dict(ct_size=(48, 48, 16), ct_spacing=(3.0, 3.0, 5.0), pet_size=(24, 24, 12), pet_spacing=(6.0, 6.0, 6.0))
CALIBRATION = OTHER_CENTRE["pet_calibration"]


def small_external(**changes):
    base = SyntheticSettings(seed=11, n_patients=8, rnaseq_samples=4, n_genes=200)
    return other_centre(base, **SMALL_GRIDS, **changes)


def run(settings, folder):
    out = {key: folder / name for key, name in OUTPUTS.items()}
    return out, simulate_cohort(settings, out, threads=1)


def digest_tree(folder):
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """The small external cohort as the other centre's scanner reads it, and as a scanner
    of calibration 1.0 reads the same patients (same seed, same draws)."""
    runs = {}
    for name, calibration in (("calibrated", CALIBRATION), ("true", 1.0)):
        folder = tmp_path_factory.mktemp(name)
        runs[name] = (folder, *run(small_external(pet_calibration=calibration), folder))
    return runs


def test_ids_carry_the_prefix_and_miss_the_training_cohorts():
    training = simulate_patients(SyntheticSettings(n_patients=60))
    external = simulate_patients(other_centre(SyntheticSettings(n_patients=60)))
    assert external[col.PATIENT_ID].tolist() == [f"EXT{i:04d}" for i in range(1, 61)]
    assert not set(external[col.PATIENT_ID]) & set(training[col.PATIENT_ID])
    own = simulate_patients(SyntheticSettings(n_patients=12, id_prefix="C-2_b"))
    assert own[col.PATIENT_ID].iloc[-1] == "C-2_b0012"


def test_other_centre_changes_the_centre_and_keeps_the_biology():
    base = SyntheticSettings(tumour_volume_ml=15.0, tumour_volume_spread=0.8, n_patients=100, image_format="nrrd")
    external = other_centre(base)
    geometry2 = SyntheticSettings.from_config(yaml.safe_load((REPO / "config/geometry2.yaml").read_text())["synthetic"])
    for name in ("ct_size", "ct_spacing", "pet_size", "pet_spacing"):
        assert getattr(external, name) == getattr(geometry2, name)
    assert (external.seed, external.id_prefix, external.pet_calibration, external.age_mean) == (7919, "EXT", 1.15, 52.0)
    for name in ("tumour_volume_ml", "tumour_volume_spread", "n_patients", "image_format", "genesets"):
        assert getattr(external, name) == getattr(base, name)
    # the hazard centres age where the study does, whatever the centre's ages: lp_clinical is
    # the same function of age and rT-stage
    patients = simulate_patients(external)
    expected = HAZARD["age_per_year"] * (patients["age"] - AGE_CENTRE) + HAZARD["rT3_4"] * patients["rT_stage"].isin(
        ["T3", "T4"]
    )
    np.testing.assert_array_equal(patients["lp_clinical"], expected)
    # the preset's fields of view hold every lesion of a study-sized external cohort
    margins = lesion_margins(other_centre(SyntheticSettings()))
    assert not margins[["ct_cut", "pet_cut"]].any().any()
    assert margins[["ct_margin_mm", "pet_margin_mm"]].min().min() > 20.0
    # the preset is copied, not shared: changing one cohort's case mix leaves it alone
    external.case_mix["sex"] = {"M": 1, "F": 1}
    assert "sex" not in OTHER_CENTRE["case_mix"]


def test_other_centre_refuses_the_cohorts_own_seed_or_prefix():
    with pytest.raises(InputError, match=r"another seed than the cohort's \(7919\)"):
        other_centre(SyntheticSettings(seed=7919))
    with pytest.raises(InputError, match=r"another id_prefix than the cohort's \('SYN'\)"):
        other_centre(SyntheticSettings(), id_prefix="SYN")


def test_pet_calibration_scales_the_pet_and_its_suvs_only(calibrated):
    folder_c, out_c, patients_c = calibrated["calibrated"]
    folder_1, out_1, patients_1 = calibrated["true"]
    images = pd.read_csv(out_c["images"], sep="\t")
    assert images.equals(pd.read_csv(out_1["images"], sep="\t"))
    for pet in images["pet"]:
        measured = sitk.GetArrayFromImage(sitk.ReadImage(str(folder_c / pet)))
        true = sitk.GetArrayFromImage(sitk.ReadImage(str(folder_1 / pet)))
        assert (true > 1.0).any()
        np.testing.assert_allclose(measured, CALIBRATION * true.astype(float), rtol=1e-6, atol=0)
    np.testing.assert_allclose(
        patients_c[list(col.SUV_COLUMNS)], CALIBRATION * patients_1[list(col.SUV_COLUMNS)], rtol=1e-6, atol=0
    )
    assert (patients_1["tumor_suv_max"] > 1.0).all()
    # the same draws otherwise: CT, ROI, outcomes, the truth (the oracle) and RNA-seq are the same bytes
    digest_c, digest_1 = digest_tree(folder_c), digest_tree(folder_1)
    differing = sorted(name for name in digest_c if digest_c[name] != digest_1[name])
    assert differing == ["clinical.tsv", *(f"images/{pid}_pet.nii.gz" for pid in patients_c[col.PATIENT_ID])]
    other = [c for c in patients_c.columns if c not in col.SUV_COLUMNS]
    pd.testing.assert_frame_equal(patients_c[other], patients_1[other])


def test_same_seed_gives_byte_identical_external_files(calibrated, tmp_path):
    folder, _, _ = calibrated["calibrated"]
    run(small_external(pet_calibration=CALIBRATION), tmp_path)
    first, second = digest_tree(folder), digest_tree(tmp_path)
    assert first == second
    assert "images/EXT0001_pet.nii.gz" in first


def binomial_tolerance(share, n):
    """Four binomial SDs of an observed share: a correct draw misses by more once in ~16000."""
    return 4.0 * np.sqrt(share * (1.0 - share) / n)


def test_case_mix_shifts_the_shares_as_asked():
    n = 2000
    mix = {**OTHER_CENTRE["case_mix"], "sex": {"F": 3, "M": 1}}  # counts as weights, levels in any order
    patients = simulate_patients(SyntheticSettings(seed=4, n_patients=n, case_mix=mix, age_mean=52.0))
    for name in CASE_MIX_VARIABLES:
        weights = mix.get(name, TABLE1_PROPORTIONS[name])
        total = sum(weights.values())
        for level, weight in weights.items():
            share = weight / total
            assert (patients[name] == level).mean() == pytest.approx(share, abs=binomial_tolerance(share, n))
    # the shift is far beyond the noise (over 6 binomial SDs): rT3-4 75 % against Table 1's 66 %
    advanced = patients["rT_stage"].isin(["T3", "T4"]).mean()
    table1 = (180 + 99) / 420
    assert advanced - table1 > 1.5 * binomial_tolerance(table1, n)
    assert abs(patients["age"].median() - 52.0) <= 1.0
    # the order the levels are given in does not change the draw
    reordered = {name: dict(reversed(list(weights.items()))) for name, weights in mix.items()}
    again = simulate_patients(SyntheticSettings(seed=4, n_patients=n, case_mix=reordered, age_mean=52.0))
    pd.testing.assert_frame_equal(patients, again)


def test_from_config_takes_the_centres_keys():
    block = {
        "seed": 5,
        "id_prefix": "EXT",
        "pet_calibration": 1.15,
        "age_mean": 52,
        "case_mix": {"ebv_dna": {"undetectable": 35, "detectable": 65}},
    }
    settings = SyntheticSettings.from_config(block)
    assert (settings.id_prefix, settings.pet_calibration, settings.age_mean) == ("EXT", 1.15, 52)
    assert settings.level_weights("ebv_dna") == {"undetectable": 35, "detectable": 65}
    assert settings.level_weights("sex") == TABLE1_PROPORTIONS["sex"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"case_mix": {"treatment": {"surgery": 1}}},
            "'treatment' is not one of sex, rT_stage, N_stage, ebv_dna (treatment follows the rT-stage)",
        ),
        ({"case_mix": {"stage": {"T1": 1}}}, "'stage' is not one of"),
        ({"case_mix": {"sex": {"M": 1}}}, "case_mix.sex must give a weight to each of M, F, got ['M']"),
        ({"case_mix": {"sex": {"M": 1, "F": 1, "X": 1}}}, "each of M, F, got ['F', 'M', 'X']"),
        ({"case_mix": {"sex": [0.5, 0.5]}}, "each of M, F, got [0.5, 0.5]"),
        ({"case_mix": {"sex": {"M": -1, "F": 2}}}, "finite numbers >= 0, not all 0, got [-1, 2]"),
        ({"case_mix": {"sex": {"M": 0, "F": 0}}}, "not all 0, got [0, 0]"),
        ({"case_mix": {"sex": {"M": float("nan"), "F": 1}}}, "got [nan, 1]"),
        ({"case_mix": {"sex": {"M": "1", "F": 1}}}, "got ['1', 1]"),
        ({"case_mix": ["sex"]}, "case_mix must be a mapping"),
        ({"id_prefix": ""}, "id_prefix must be 1 to 32 letters"),
        ({"id_prefix": "-EXT"}, "got '-EXT'"),
        ({"id_prefix": "EXT/1"}, "got 'EXT/1'"),
        ({"id_prefix": "EXT 1"}, "got 'EXT 1'"),
        ({"id_prefix": "E" * 33}, "1 to 32 letters"),
        ({"id_prefix": 7}, "got 7"),
        ({"pet_calibration": 0.0}, "pet_calibration must be a finite number > 0, got 0.0"),
        ({"pet_calibration": -1.15}, "got -1.15"),
        ({"pet_calibration": float("inf")}, "got inf"),
        ({"pet_calibration": float("nan")}, "got nan"),
        ({"pet_calibration": "1.15"}, "got '1.15'"),
        ({"age_mean": 90}, "age_mean must be a number in [16, 78] (years), got 90"),
    ],
)
def test_bad_centre_settings_are_refused_with_one_line(changes, message):
    with pytest.raises(InputError) as error:
        SyntheticSettings(**changes)
    assert message in str(error.value)
    assert "\n" not in str(error.value)
    assert re.match(r"synthetic\.(case_mix|id_prefix|pet_calibration|age_mean)", str(error.value))
