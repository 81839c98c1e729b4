"""The radiomics comparator: pyradiomics features as the library computes them, and the
elastic-net Cox signature fit on the training set."""

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from survsig.core.errors import InputError
from survsig.imaging.radiomic_features import (
    RadiomicsSettings,
    RadiomicsSignature,
    extract_features,
    extract_patient_features,
    feature_name,
    modality_features,
    radiomics_signature,
)

radiomics = pytest.importorskip("radiomics")
from radiomics import featureextractor  # noqa: E402

CASES = ("STS_001", "STS_002", "STS_003")
# texture classes are the slow ones on the real CTs (about 1 s per case); the test keeps one
SETTINGS = RadiomicsSettings(feature_classes=("shape", "firstorder", "glcm"), spacing_mm=(3.0, 3.0, 3.0))


def library_features(image_path, mask_path, modality, settings, *, shape):
    """pyradiomics' own output for the file pair, with the comparator's settings."""
    extractor = featureextractor.RadiomicsFeatureExtractor(
        binWidth=settings.bin_width[modality],
        resampledPixelSpacing=list(settings.spacing_mm),
        correctMask=True,
        label=1,
    )
    extractor.disableAllFeatures()
    for name in settings.feature_classes:
        if name != "shape" or shape:
            extractor.enableFeatureClassByName(name)
    result = extractor.execute(str(image_path), str(mask_path))
    return {feature_name(modality, k): float(v) for k, v in result.items() if feature_name(modality, k)}


@pytest.mark.parametrize("case", CASES)
def test_features_of_real_petct_cases_equal_the_library_output(shared_dir, case):
    folder = shared_dir / "data" / "real" / "petct" / "sts" / case
    ct, pet = folder / "CT" / "image.nii.gz", folder / "PET" / "image.nii.gz"
    roi = folder / "CT" / "mask.nii.gz"  # one ROI, on the CT grid; PET lies on its own grid
    ours = extract_patient_features(case, {"ct": ct, "pet": pet}, roi, SETTINGS)
    expected = library_features(ct, roi, "ct", SETTINGS, shape=True)
    expected.update(library_features(pet, roi, "pet", SETTINGS, shape=False))
    assert list(ours) == list(expected)
    assert len([n for n in ours if n.startswith("shape_")]) == 14
    assert len([n for n in ours if n.startswith("pet_glcm_")]) == 24
    # the same library on the same voxels: equal to the last bit
    assert ours == expected
    # a real tumour: physical size, not voxel counts (CT 0.98 x 0.98 x 3.3 mm, PET ~4 mm)
    assert 1e3 < ours["shape_MeshVolume"] < 1e7
    assert ours["pet_firstorder_Maximum"] > ours["pet_firstorder_Mean"] > 0


def test_roi_label_value_and_grid_do_not_matter(shared_dir, tmp_path):
    """Any nonzero voxel is tumour; the PET's own mask gives the PET features of the CT mask
    mapped onto the PET grid."""
    folder = shared_dir / "data" / "real" / "petct" / "sts" / "STS_002"
    settings = RadiomicsSettings(modalities=("pet",), feature_classes=("firstorder",))
    roi = sitk.ReadImage(str(folder / "CT" / "mask.nii.gz"))
    relabelled = tmp_path / "roi_label7.nii.gz"
    sitk.WriteImage(sitk.Cast(roi, sitk.sitkUInt8) * 7, str(relabelled))
    pet = {"pet": folder / "PET" / "image.nii.gz"}
    one = extract_patient_features("STS_002", pet, folder / "CT" / "mask.nii.gz", settings)
    seven = extract_patient_features("STS_002", pet, relabelled, settings)
    assert one == seven
    own_mask = extract_patient_features("STS_002", pet, folder / "PET" / "mask.nii.gz", settings)
    # the two masks are drawn on different grids: close, not equal
    assert own_mask["pet_firstorder_Mean"] == pytest.approx(one["pet_firstorder_Mean"], rel=0.25)


def synthetic_case(tmp_path, name, roi_voxels):
    """A small CT and PET with an ROI of ``roi_voxels`` (z, y, x) indices set."""
    rng = np.random.default_rng(0)
    paths = {}
    for modality, scale in (("ct", 40.0), ("pet", 2.0)):
        image = sitk.GetImageFromArray(rng.normal(scale, scale / 4, (12, 20, 20)).astype(np.float32))
        image.SetSpacing((2.0, 2.0, 3.0))
        paths[modality] = tmp_path / f"{name}_{modality}.nii.gz"
        sitk.WriteImage(image, str(paths[modality]))
    mask = np.zeros((12, 20, 20), np.uint8)
    for z, y, x in roi_voxels:
        mask[z, y, x] = 1
    roi = sitk.GetImageFromArray(mask)
    roi.SetSpacing((2.0, 2.0, 3.0))
    paths["roi"] = tmp_path / f"{name}_roi.nii.gz"
    sitk.WriteImage(roi, str(paths["roi"]))
    return paths


@pytest.mark.parametrize("voxels", [[], [(6, 10, 10)]], ids=["empty", "one voxel"])
def test_unusable_roi_is_one_error_naming_file_patient_and_column(tmp_path, voxels):
    paths = synthetic_case(tmp_path, "P7", voxels)
    with pytest.raises(InputError) as err:
        extract_patient_features("P7", paths, paths["roi"], RadiomicsSettings(spacing_mm=(2.0, 2.0, 2.0)))
    assert err.value.patient == "P7"
    assert err.value.column == "roi"
    assert err.value.file == str(paths["roi"])
    assert "\n" not in str(err.value)


def test_unreadable_image_names_patient_and_modality(tmp_path):
    paths = synthetic_case(tmp_path, "P8", [(z, y, x) for z in range(4, 8) for y in range(8, 12) for x in range(8, 12)])
    paths["pet"].write_bytes(b"not an image")
    with pytest.raises(InputError) as err:
        extract_patient_features("P8", paths, paths["roi"], RadiomicsSettings())
    assert (err.value.patient, err.value.column, err.value.file) == ("P8", "pet", str(paths["pet"]))


def test_feature_table_has_a_row_per_patient_in_order(tmp_path):
    cube = [(z, y, x) for z in range(3, 9) for y in range(6, 14) for x in range(6, 14)]
    cases = [synthetic_case(tmp_path, name, cube) for name in ("B", "A")]
    seen = []
    table = extract_features(
        ["B", "A"],
        {m: [c[m] for c in cases] for m in ("ct", "pet")},
        [c["roi"] for c in cases],
        RadiomicsSettings(feature_classes=("shape", "firstorder")),
        progress=lambda patient, number, total: seen.append((patient, number, total)),
    )
    assert list(table["patient_id"]) == ["B", "A"]
    assert seen == [("B", 1, 2), ("A", 2, 2)]
    # 6 x 8 x 8 voxels of 2 x 2 x 3 mm
    assert table["shape_VoxelVolume"].tolist() == pytest.approx([6 * 8 * 8 * 12.0] * 2, rel=0.05)


@pytest.mark.parametrize(
    "block, key",
    [
        ({"modalities": ["mri"]}, "radiomics.modalities"),
        ({"modalities": ["ct"], "bin_width": {"pet": 0.5}}, "radiomics.bin_width"),
        ({"feature_classes": ["wavelet"]}, "radiomics.feature_classes"),
        ({"selection": "best"}, "radiomics.selection"),
        ({"l1_ratio": 0}, "radiomics.l1_ratio"),
    ],
)
def test_bad_settings_name_their_key(block, key):
    with pytest.raises(InputError, match=key.replace(".", r"\.")):
        RadiomicsSettings.from_config(block)


def cohort_of_features(n=300, seed=0):
    """Features of which two drive the hazard (one heavy-tailed, like a volume), many noise."""
    rng = np.random.default_rng(seed)
    volume = rng.lognormal(2.0, 1.0, n)
    entropy = rng.normal(0, 1, n)
    noise = rng.normal(0, 1, (n, 30))
    lp = 0.9 * np.log(volume) + 0.7 * entropy
    time_ = rng.exponential(np.exp(-lp) * 30)
    censor = rng.uniform(5, 80, n)
    features = pd.DataFrame(noise, columns=[f"noise_{i}" for i in range(30)])
    features.insert(0, "shape_MeshVolume", volume)
    features.insert(1, "pet_glcm_JointEntropy", entropy)
    features.index = [f"P{i:03d}" for i in range(n)]
    return features, np.minimum(time_, censor), (time_ <= censor).astype(int), lp


def test_signature_recovers_the_true_predictors():
    from survsig.survival.concordance import concordance_index

    features, time_, event, lp = cohort_of_features()
    train = np.arange(len(features)) < 200
    model = RadiomicsSignature(RadiomicsSettings(seed=1)).fit(features[train], time_[train], event[train])
    assert model is not None and model.cv_cindex_.shape == (5, len(model.alphas_))
    assert {"shape_MeshVolume", "pet_glcm_JointEntropy"} <= set(model.coef_.index)
    assert model.coef_["shape_MeshVolume"] > 0 and model.coef_["pet_glcm_JointEntropy"] > 0
    # the two true features carry most of the weight
    weight = model.coef_.abs()
    assert weight[["shape_MeshVolume", "pet_glcm_JointEntropy"]].sum() > 0.6 * weight.sum()
    risk = model.predict(features[~train])
    truth = concordance_index(time_[~train], event[~train], lp[~train])
    assert concordance_index(time_[~train], event[~train], risk) > truth - 0.03
    assert np.corrcoef(risk, lp[~train])[0, 1] > 0.9


def test_signature_is_reproducible_and_fit_on_train_only():
    features, time_, event, _ = cohort_of_features(n=200, seed=3)
    ids = features.index
    split = pd.DataFrame({"patient_id": ids, "split": np.where(np.arange(200) < 120, "train", "test")})
    clinical = pd.DataFrame({"patient_id": ids, "os_months": time_, "os_event": event})
    first, model = radiomics_signature(features, clinical, split, RadiomicsSettings())
    again, _ = radiomics_signature(features, clinical, split, RadiomicsSettings())
    assert first.tobytes() == again.tobytes()
    # test patients' outcomes do not touch the fit: scramble them, same signature
    scrambled = clinical.copy()
    test_rows = split["split"].to_numpy() == "test"
    scrambled.loc[test_rows, "os_months"] = scrambled.loc[test_rows, "os_months"].to_numpy()[::-1]
    other, _ = radiomics_signature(features, scrambled, split, RadiomicsSettings())
    assert first.tobytes() == other.tobytes()
    # another seed gives other folds
    _, model_other_folds = radiomics_signature(features, clinical, split, RadiomicsSettings(seed=9))
    assert not np.array_equal(model.cv_cindex_, model_other_folds.cv_cindex_)


def test_unusable_features_are_left_out_and_named():
    features, time_, event, _ = cohort_of_features(n=150, seed=4)
    features["constant"] = 1.0
    features["gaps"] = features["noise_0"]
    features.iloc[3, features.columns.get_loc("gaps")] = np.nan
    model = RadiomicsSignature(RadiomicsSettings()).fit(features, time_, event)
    assert model.dropped_ == {"gaps": "not finite for every patient", "constant": "constant on the training set"}
    assert "constant" not in model.features_ and "gaps" not in model.features_
    assert np.isfinite(model.predict(features)).all()


def test_feature_missing_for_a_test_patient_is_left_out():
    features, time_, event, _ = cohort_of_features(n=150, seed=6)
    ids = features.index
    split = pd.DataFrame({"patient_id": ids, "split": np.where(np.arange(150) < 100, "train", "test")})
    clinical = pd.DataFrame({"patient_id": ids, "os_months": time_, "os_event": event})
    features.loc[ids[120], "shape_MeshVolume"] = np.inf
    risk, model = radiomics_signature(features, clinical, split, RadiomicsSettings())
    assert model.dropped_ == {"shape_MeshVolume": "not finite for every patient"}
    assert np.isfinite(risk).all()


def test_missing_patient_is_named():
    features, time_, event, _ = cohort_of_features(n=60, seed=5)
    ids = list(features.index)
    split = pd.DataFrame({"patient_id": ids + ["P999"], "split": ["train"] * 40 + ["test"] * 21})
    clinical = pd.DataFrame({"patient_id": ids + ["P999"], "os_months": [*time_, 10.0], "os_event": [*event, 1]})
    with pytest.raises(InputError, match="patient P999 has no radiomic features"):
        radiomics_signature(features, clinical, split, RadiomicsSettings())


def test_modality_features_keep_the_roi_shape_and_the_modalities_named():
    columns = [
        "shape_MeshVolume",
        "ct_firstorder_Mean",
        "pet_firstorder_Maximum",
        "pet_glcm_Contrast",
        "shape_Sphericity",
    ]
    features = pd.DataFrame(np.arange(10.0).reshape(2, 5), columns=columns, index=["P1", "P2"])
    pet = modality_features(features, ["pet"])
    assert list(pet.columns) == ["shape_MeshVolume", "pet_firstorder_Maximum", "pet_glcm_Contrast", "shape_Sphericity"]
    np.testing.assert_array_equal(pet.to_numpy(), features[pet.columns].to_numpy())
    assert list(modality_features(features, ["ct", "pet"]).columns) == columns
    assert list(modality_features(features, []).columns) == ["shape_MeshVolume", "shape_Sphericity"]
    with pytest.raises(InputError, match="no ct features"):
        modality_features(features.drop(columns="ct_firstorder_Mean"), ["ct"])
    with pytest.raises(InputError, match="unknown modality 'mri'"):
        modality_features(features, ["mri"])
