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


# --------------------------------------------------------------------------- frozen signature
@pytest.fixture(scope="module")
def fitted_cohort():
    """A cohort of 200 patients (120 train), its split and outcomes."""
    features, time_, event, _ = cohort_of_features(n=200, seed=3)
    ids = features.index
    split = pd.DataFrame({"patient_id": ids, "split": np.where(np.arange(200) < 120, "train", "test")})
    clinical = pd.DataFrame({"patient_id": ids, "os_months": time_, "os_event": event})
    return features, clinical, split


@pytest.fixture(scope="module")
def frozen_data(fitted_cohort):
    """The frozen signature's data (rule ``radiomics_signature``) and the workflow's signature."""
    from survsig.imaging.radiomic_features import frozen_radiomics
    from survsig.imaging.signature import signature_table

    features, clinical, split = fitted_cohort
    risk, _ = radiomics_signature(features, clinical, split, RadiomicsSettings())
    workflow = signature_table(split["patient_id"], split["split"], risk)["signature"].to_numpy()
    return frozen_radiomics(features, clinical, split, RadiomicsSettings()), workflow


@pytest.mark.parametrize("modalities", [None, ["pet"]], ids=["all", "pet"])
def test_frozen_signature_is_the_workflows_to_the_bit(fitted_cohort, modalities):
    import json

    from survsig.imaging.radiomic_features import FROZEN_FORMAT, FrozenRadiomics, frozen_radiomics
    from survsig.imaging.signature import signature_table

    features, clinical, split = fitted_cohort
    fitted = features if modalities is None else modality_features(features, modalities)
    risk, model = radiomics_signature(fitted, clinical, split, RadiomicsSettings())
    workflow = signature_table(split["patient_id"], split["split"], risk)["signature"].to_numpy()
    data = frozen_radiomics(features, clinical, split, RadiomicsSettings(), modalities=modalities)
    assert data["format"] == FROZEN_FORMAT
    assert data["modalities"] == (["ct", "pet"] if modalities is None else modalities)
    assert data["features"] == model.features_
    assert len(data["quantile_transformer"]["quantiles"]) == data["quantile_transformer"]["n_quantiles"] == 120
    frozen = FrozenRadiomics.from_dict(json.loads(json.dumps(data, indent=1)))
    assert set(frozen.used) == set(model.coef_.index)
    train = (split["split"] == "train").to_numpy()
    # everyone, the training patients alone, the held-out patients alone, one patient at a
    # time, in another order: the run's bits (other columns are not read)
    assert np.array_equal(frozen.signature(features), workflow)
    assert np.array_equal(frozen.signature(features[train]), workflow[train])
    assert np.array_equal(frozen.signature(features[~train]), workflow[~train])
    for i in (0, 119, 120, 199):
        assert np.array_equal(frozen.signature(features.iloc[[i]]), workflow[[i]])
    reversed_rows = features.iloc[::-1][list(frozen.used)]
    assert np.array_equal(frozen.signature(reversed_rows), workflow[::-1])


def test_frozen_signature_round_trips_through_json_exactly(frozen_data, fitted_cohort, tmp_path):
    import json

    from survsig.imaging.radiomic_features import FrozenRadiomics

    data, workflow = frozen_data
    features, _, _ = fitted_cohort
    text = json.dumps(data, indent=1) + "\n"
    assert json.loads(text) == data  # every float comes back as the same bits
    path = tmp_path / "frozen.json"
    path.write_text(text)
    direct = FrozenRadiomics.from_dict(data).signature(features)
    loaded = FrozenRadiomics.load(path)
    assert np.array_equal(loaded.signature(features), direct)
    assert np.array_equal(direct, workflow)
    assert loaded.settings == data["settings"] and loaded.modalities == ("ct", "pet")


def _edited(data, path, value):
    """A deep copy of ``data`` with the key at ``path`` (keys and indices) set to
    ``value``, or removed when ``value`` is ``...``."""
    import copy

    data = copy.deepcopy(data)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("train_sd",), ..., "key 'train_sd' is missing"),
        (("quantile_transformer", "references"), ..., "key 'quantile_transformer.references' is missing"),
        (("coef_all",), "0.5", "key 'coef_all' must be an array, got a string"),
        (("coef_all", 1), None, r"key 'coef_all\[1\]' must be a number, got null"),
        (("train_mean",), float("nan"), "key 'train_mean' must be a finite number"),
        (("train_sd",), 0.0, "key 'train_sd' must be greater than 0"),
        (("features", 0), 3, r"key 'features\[0\]' must be a string, got a number"),
        (("quantile_transformer", "quantiles", 3, 1), "x", r"key 'quantile_transformer.quantiles\[3\]\[1\]'"),
        (("quantile_transformer", "quantiles", 3), [0.0], r"key 'quantile_transformer.quantiles\[3\]' must hold"),
        (("quantile_transformer", "n_quantiles"), 2.5, "key 'quantile_transformer.n_quantiles' must be a whole"),
        (("quantile_transformer", "output_distribution"), "cauchy", "output_distribution' must be one of"),
        (("modalities", 0), "mri", r"key 'modalities\[0\]' must be one of ct, pet"),
        (("settings",), [], "key 'settings' must be an object"),
        (("settings", "selection"), "best", "key 'settings' is not a valid radiomics block"),
        (("colour",), "red", "key 'colour' is not a key of this format"),
    ],
)
def test_frozen_file_with_a_bad_key_is_refused_naming_file_and_key(frozen_data, tmp_path, path, value, message):
    import json

    from survsig.imaging.radiomic_features import FrozenRadiomics

    file = tmp_path / "frozen.json"
    file.write_text(json.dumps(_edited(frozen_data[0], path, value)))
    with pytest.raises(InputError, match=message) as err:
        FrozenRadiomics.load(file)
    assert err.value.file == str(file)
    assert str(err.value).startswith(f"{file}: frozen radiomics key")


def test_frozen_file_of_another_format_or_with_decreasing_quantiles_is_refused(frozen_data):
    from survsig.imaging.radiomic_features import FrozenRadiomics

    data = frozen_data[0]
    with pytest.raises(InputError, match="not a survsig frozen radiomics signature file"):
        FrozenRadiomics.from_dict(_edited(data, ("format",), "survsig-nomogram/1"), file="x.json")
    with pytest.raises(InputError, match="not a survsig frozen radiomics signature file: the JSON holds an array"):
        FrozenRadiomics.from_dict([data])
    quantiles = data["quantile_transformer"]["quantiles"]
    dip = _edited(data, ("quantile_transformer", "quantiles", 5, 2), quantiles[4][2] - 1.0)
    with pytest.raises(InputError, match=r"quantiles\[5\]\[2\]' .* must not decrease"):
        FrozenRadiomics.from_dict(dip)
    with pytest.raises(InputError, match="holds no nonzero coefficient"):
        FrozenRadiomics.from_dict(_edited(data, ("coef_all",), [0.0] * len(data["features"])))


def test_frozen_signature_refuses_a_missing_feature_column(frozen_data, fitted_cohort):
    from survsig.imaging.radiomic_features import FrozenRadiomics

    frozen = FrozenRadiomics.from_dict(frozen_data[0])
    features, _, _ = fitted_cohort
    used = frozen.used[-1]
    with pytest.raises(InputError, match="lack a feature of the frozen signature") as err:
        frozen.signature(features.drop(columns=used))
    assert err.value.column == used
    assert f"column '{used}'" in str(err.value)
    # a feature the model gives no weight need not be there
    unused = next(name for name in frozen.features if name not in frozen.used)
    assert np.array_equal(frozen.signature(features.drop(columns=unused)), frozen.signature(features))


@pytest.mark.parametrize("value", [np.nan, np.inf, "n/a"], ids=["missing", "infinite", "text"])
def test_frozen_signature_refuses_a_new_patients_gap_naming_patient_and_feature(frozen_data, fitted_cohort, value):
    from survsig.imaging.radiomic_features import FrozenRadiomics

    frozen = FrozenRadiomics.from_dict(frozen_data[0])
    features, _, _ = fitted_cohort
    new = features.iloc[:3].copy()
    new.index = ["NEW1", "NEW2", "NEW3"]
    used = frozen.used[0]
    new[used] = new[used].astype(object)
    new.loc["NEW2", used] = value
    with pytest.raises(InputError, match="missing or not finite") as err:
        frozen.signature(new)
    assert (err.value.patient, err.value.column) == ("NEW2", used)
    assert "patient NEW2" in str(err.value)


class _Params(dict):
    """Snakemake's params: keys as attributes, and ``get``."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def test_frozen_script_reproduces_the_runs_signature_file(fitted_cohort, tmp_path):
    """Rule ``radiomics_signature``'s script, then the frozen script on its outputs; a
    signature file the refit does not reproduce is refused naming the first patient."""
    import json
    import runpy
    from pathlib import Path
    from types import SimpleNamespace

    from survsig.imaging.radiomic_features import FrozenRadiomics

    scripts = Path(__file__).resolve().parents[2] / "workflow" / "scripts" / "imaging"
    features, clinical, split = fitted_cohort
    inputs = SimpleNamespace(
        features=[str(tmp_path / "features_a.tsv"), str(tmp_path / "features_b.tsv")],
        clinical=str(tmp_path / "clinical.tsv"),
        split=str(tmp_path / "split.tsv"),
        signature=str(tmp_path / "radiomics.tsv"),
    )
    table = features.rename_axis("patient_id").reset_index()
    table.iloc[:90].to_csv(inputs.features[0], sep="\t", index=False)
    table.iloc[90:].to_csv(inputs.features[1], sep="\t", index=False)
    clinical.to_csv(inputs.clinical, sep="\t", index=False)
    split.to_csv(inputs.split, sep="\t", index=False)
    params = _Params(radiomics={})

    def run(script, output):
        snakemake = SimpleNamespace(input=inputs, output=output, params=params, log=[str(tmp_path / "log.txt")])
        runpy.run_path(str(scripts / script), init_globals={"snakemake": snakemake})

    run(
        "radiomics_signature.py",
        SimpleNamespace(
            signature=inputs.signature,
            model=str(tmp_path / "signature.json"),
            coefficients=str(tmp_path / "coefficients.tsv"),
        ),
    )
    frozen_path = tmp_path / "frozen.json"
    run("radiomics_frozen.py", [str(frozen_path)])
    frozen = FrozenRadiomics.load(frozen_path)
    written = pd.read_csv(inputs.signature, sep="\t", dtype=str)
    ours = [f"{v:.6f}" for v in frozen.signature(features.loc[written["patient_id"]])]
    assert ours == written["signature"].tolist()
    assert json.loads(frozen_path.read_text())["features"] == list(frozen.features)

    # the run's signature file disagrees with the refit at one patient: refused, nothing written
    frozen_path.unlink()
    edited = written.copy()
    edited.loc[7, "signature"] = "9.999999"
    edited.to_csv(inputs.signature, sep="\t", index=False)
    with pytest.raises(SystemExit):
        run("radiomics_frozen.py", [str(frozen_path)])
    log = (tmp_path / "log.txt").read_text()
    assert f"{inputs.signature}, patient {written.loc[7, 'patient_id']}: signature 9.999999 in the file" in log
    assert "the refit does not reproduce the run's signature" in log
    assert not frozen_path.exists()
