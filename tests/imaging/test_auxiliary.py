"""Radiomic features as auxiliary targets: the training patients' normal scores alone."""

import numpy as np
import pandas as pd
import pytest

from survsig.core.errors import InputError
from survsig.imaging.auxiliary import auxiliary_targets


@pytest.fixture
def features_and_split():
    rng = np.random.default_rng(5)
    ids = [f"P{i:03d}" for i in range(60)]
    features = pd.DataFrame(
        {
            "shape_VoxelVolume": rng.lognormal(2.0, 0.8, 60),
            "pet_glcm_Contrast": rng.gamma(2.0, 3.0, 60),
            "ct_firstorder_Mean": rng.normal(30.0, 10.0, 60),
            "ct_constant": np.ones(60),
        },
        index=pd.Index(ids, name="patient_id"),
    )
    split = pd.DataFrame({"patient_id": ids, "split": ["train"] * 40 + ["test"] * 20})
    return features, split


def test_targets_are_the_training_patients_normal_scores(features_and_split):
    features, split = features_and_split
    targets = auxiliary_targets(features, split)
    train = sorted(split.loc[split.split == "train", "patient_id"])
    assert list(targets.index) == train
    assert list(targets.columns) == ["shape_VoxelVolume", "pet_glcm_Contrast", "ct_firstorder_Mean"]  # constant out
    assert targets.dtypes.eq(np.float32).all()
    # normal scores: centred, unit spread, and the order of each feature kept
    np.testing.assert_allclose(targets.mean(), 0.0, atol=0.05)
    np.testing.assert_allclose(targets.std(), 1.0, atol=0.15)
    for name in targets.columns:
        assert (np.argsort(targets[name].to_numpy()) == np.argsort(features.loc[train, name].to_numpy())).all()


def test_test_patients_features_are_never_read(features_and_split):
    features, split = features_and_split
    test = split.loc[split.split == "test", "patient_id"]
    changed = features.copy()
    changed.loc[test] = np.nan  # would drop every column, or move every quantile, if read
    changed.loc[test[:5], "shape_VoxelVolume"] = 1e12
    expected = auxiliary_targets(features, split)
    pd.testing.assert_frame_equal(auxiliary_targets(changed, split), expected)
    pd.testing.assert_frame_equal(auxiliary_targets(features.drop(index=test), split), expected)


def test_training_patient_without_features_is_named(features_and_split):
    features, split = features_and_split
    with pytest.raises(InputError, match="P003"):
        auxiliary_targets(features.drop(index="P003"), split)
    with pytest.raises(InputError, match="no radiomic feature"):
        auxiliary_targets(features[["ct_constant"]], split)


def test_components_are_whitened_and_span_the_scores(features_and_split):
    features, split = features_and_split
    scores = auxiliary_targets(features, split).to_numpy(float)
    components = auxiliary_targets(features, split, components=2)
    assert list(components.columns) == ["component_1", "component_2"]
    assert list(components.index) == sorted(split.loc[split.split == "train", "patient_id"])
    values = components.to_numpy(float)
    # mean 0, SD 1 and uncorrelated on the training patients (float32: 1e-5 of a unit)
    np.testing.assert_allclose(values.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.cov(values.T, bias=True), np.eye(2), atol=1e-5)
    # the first component is the scores' direction of largest variance
    centred = scores - scores.mean(axis=0)
    first = np.linalg.eigh(np.cov(centred.T))[1][:, -1]
    assert abs(np.corrcoef(values[:, 0], centred @ first)[0, 1]) == pytest.approx(1.0, abs=1e-5)
    # all three: the components are the scores turned, nothing lost
    full = auxiliary_targets(features, split, components=10).to_numpy(float)
    assert full.shape[1] == 3
    residual = centred - full @ np.linalg.lstsq(full, centred, rcond=None)[0]
    np.testing.assert_allclose(residual, 0.0, atol=1e-4)
    # a feature repeating another adds no direction, so no component
    repeated = features.assign(shape_VoxelVolume_again=features["shape_VoxelVolume"])
    assert auxiliary_targets(repeated, split, components=10).shape[1] == 3


def test_components_ignore_the_test_patients(features_and_split):
    features, split = features_and_split
    test = split.loc[split.split == "test", "patient_id"]
    changed = features.copy()
    changed.loc[test] = 1e9
    pd.testing.assert_frame_equal(
        auxiliary_targets(changed, split, components=2), auxiliary_targets(features, split, components=2)
    )
