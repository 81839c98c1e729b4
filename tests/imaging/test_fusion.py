"""Deep radiomics fusion: embeddings of a patient's own slices, components learnt on the
training patients alone, the fused features, and the settings' refusals."""

import numpy as np
import pandas as pd
import pytest
import torch

from survsig.core.errors import InputError
from survsig.core.settings import FusionSettings
from survsig.imaging.fusion import NETWORK_SIGNATURE, embedding_components, fusion_features
from survsig.imaging.slice_data import SliceData
from survsig.imaging.slices import PatientSlices
from survsig.imaging.train import SignatureTrainer
from survsig.imaging.train_settings import TrainSettings


@pytest.fixture(scope="module")
def trained():
    """A network trained for 1 epoch on 10 patients of 32 x 32 slices, and its data."""
    rng = np.random.default_rng(1)
    patients, time_, event = [], {}, {}
    for i in range(10):
        slices = rng.uniform(0, 1, size=(2 + i % 3, 3, 32, 32)).astype(np.float16)
        pid = f"P{i:02d}"
        patients.append(PatientSlices(pid, slices, np.arange(len(slices)) * 3.0))
        time_[pid], event[pid] = float(10 + 5 * i), int(i % 2 == 0)
    torch.set_num_threads(1)
    settings = TrainSettings(
        epochs=1, batch_patients=5, min_events_per_batch=1, validation_fraction=0.3, snapshots=1, seed=3
    )
    data = SliceData(patients, ["ct", "pet", "roi"])
    trainer = SignatureTrainer(["ct", "pet", "roi"], settings).fit(data, [p.patient_id for p in patients], time_, event)
    return trainer, data, [p.patient_id for p in patients]


def test_embedding_is_what_the_output_layer_reads(trained):
    """The output layer applied to a patient's mean embedding is its (mean-aggregated) score."""
    trainer, data, ids = trained
    embedding = trainer.embed_patient_by_patient(data, ids)
    assert embedding.shape == (len(ids), trainer.model_.num_features)
    head = trainer.model_.get_classifier()
    with torch.no_grad():
        from_embedding = head(torch.as_tensor(embedding, dtype=torch.float32)).reshape(-1).double().numpy()
    scores = trainer.score_patient_by_patient(data, ids)
    # float32 sums over 1280 features, in another order than the network's
    np.testing.assert_allclose(from_embedding, scores, rtol=0, atol=1e-5 * (1 + np.abs(scores).max()))


def test_a_patients_embedding_is_of_its_own_slices_alone(trained):
    trainer, data, ids = trained
    alone = trainer.embed_patient_by_patient(data, [ids[3]])
    beside = trainer.embed_patient_by_patient(data, ids)[3]
    np.testing.assert_array_equal(alone[0], beside)


def split_of(n_train, n_test):
    ids = [f"S{i:03d}" for i in range(n_train + n_test)]
    return pd.DataFrame({"patient_id": ids, "split": ["train"] * n_train + ["test"] * n_test})


def test_components_are_learnt_on_the_training_patients_alone():
    rng = np.random.default_rng(2)
    split = split_of(40, 20)
    embedding = rng.normal(size=(60, 30)) @ rng.normal(size=(30, 30))
    components = embedding_components([embedding], split, 4)
    assert list(components.columns) == [f"member0_pc{k}" for k in range(1, 5)]
    train = components.iloc[:40]
    # centred and uncorrelated on train, variance falling
    np.testing.assert_allclose(train.mean(), 0.0, atol=1e-9)
    corr = np.corrcoef(train.to_numpy().T)
    np.testing.assert_allclose(corr - np.diag(np.diag(corr)), 0.0, atol=1e-9)
    assert (np.diff(train.var().to_numpy()) < 0).all()
    # the test patients' embeddings move nothing learnt: train rows stay, test rows project
    changed = embedding.copy()
    changed[40:] = rng.normal(size=(20, 30)) * 100
    again = embedding_components([changed], split, 4)
    pd.testing.assert_frame_equal(again.iloc[:40], train)
    assert not np.allclose(again.iloc[40:].to_numpy(), components.iloc[40:].to_numpy())


def test_two_members_give_their_own_components():
    rng = np.random.default_rng(3)
    split = split_of(30, 10)
    components = embedding_components([rng.normal(size=(40, 12)), rng.normal(size=(40, 12))], split, 3)
    assert list(components.columns) == [f"member{m}_pc{k}" for m in (0, 1) for k in (1, 2, 3)]
    with pytest.raises(InputError, match="member 1's embedding holds 39 patients, the split 40"):
        embedding_components([rng.normal(size=(40, 12)), rng.normal(size=(39, 12))], split, 3)


def test_fused_features_hold_components_signature_and_radiomics():
    split = split_of(6, 2)
    ids = split["patient_id"].tolist()
    components = pd.DataFrame({"member0_pc1": np.arange(8.0)}, index=pd.Index(ids, name="patient_id"))
    signature = pd.DataFrame({"patient_id": ids[::-1], "split": "train", "signature": np.arange(8.0)[::-1] * 2})
    radiomics = pd.DataFrame({"shape_VoxelVolume": np.arange(8.0) + 0.5}, index=ids)
    fused = fusion_features(components, radiomics, signature)
    assert list(fused.columns) == ["member0_pc1", NETWORK_SIGNATURE, "shape_VoxelVolume"]
    np.testing.assert_array_equal(fused[NETWORK_SIGNATURE], np.arange(8.0) * 2)  # matched by id, not row
    # by default the network's signature, fit to the training patients' outcomes, stays out
    assert list(fusion_features(components, radiomics).columns) == ["member0_pc1", "shape_VoxelVolume"]
    with pytest.raises(InputError, match="S003"):
        fusion_features(components, radiomics.drop(index="S003"), signature)
    with pytest.raises(InputError, match="S005"):
        fusion_features(components, radiomics, signature[signature.patient_id != "S005"])
    with pytest.raises(InputError, match="'member0_pc1' has the name of a network feature"):
        fusion_features(components, radiomics.rename(columns={"shape_VoxelVolume": "member0_pc1"}))


@pytest.mark.parametrize(
    "block, message",
    [
        ({"enabled": "yes"}, "fusion.enabled"),
        ({"with_signature": 1}, "fusion.with_signature"),
        ({"components": 0}, "fusion.components"),
        ({"components": 2.5}, "fusion.components"),
        ({"enabled": True, "model": "mri"}, "fusion.model 'mri'"),
    ],
)
def test_bad_fusion_settings_are_named(block, message):
    with pytest.raises(InputError, match=message):
        FusionSettings.from_config(block, models=["ct", "pet", "petct"])
