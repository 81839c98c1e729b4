"""Training: batches with events, a validation fold inside train, seeds, resume, errors."""

import numpy as np
import pytest
import torch

from conftest import member_signature_atol, network_score_atol

from survsig.errors import InputError
from survsig.preprocess import PatientSlices
from survsig.train import (
    SignatureTrainer,
    SliceData,
    TrainSettings,
    augment_batch,
    channel_indices,
    create_model,
    event_balanced_batches,
    validation_fold,
)

TINY = dict(
    epochs=2, batch_patients=6, slices_per_patient=2, min_events_per_batch=1, validation_fraction=0.25, seed=3, snapshots=2
)


@pytest.fixture(scope="module")
def tiny_cohort():
    """14 patients with 2-4 slices of 32 x 32; bright PET goes with early death."""
    rng = np.random.default_rng(0)
    patients, time_, event = [], {}, {}
    for i in range(14):
        level = rng.uniform(0.1, 0.9)
        slices = rng.uniform(0, 0.2, size=(2 + i % 3, 3, 32, 32)).astype(np.float16)
        slices[:, 1, 8:24, 8:24] += np.float16(level)
        slices[:, 2, 8:24, 8:24] = 1
        pid = f"P{i:02d}"
        patients.append(PatientSlices(pid, slices, np.arange(len(slices)) * 3.0))
        time_[pid] = float(60 * (1 - level) + rng.uniform(0, 5))
        event[pid] = int(i % 3 != 0)
    return patients, time_, event


def train_tiny(tiny_cohort, channels=("ct", "pet", "roi"), checkpoint=None, **changes):
    patients, time_, event = tiny_cohort
    torch.set_num_threads(1)
    settings = TrainSettings(**{**TINY, **changes})
    data = SliceData(patients, list(channels))
    trainer = SignatureTrainer(list(channels), settings, checkpoint=checkpoint)
    trainer.fit(data, [p.patient_id for p in patients], time_, event)
    return trainer, trainer.predict_patients(data, [p.patient_id for p in patients])


def test_every_batch_holds_events_and_every_patient_once():
    rng = np.random.default_rng(1)
    patients = np.array([f"P{i}" for i in range(50)])
    event = np.zeros(50, bool)
    event[rng.choice(50, size=9, replace=False)] = True
    batches = event_balanced_batches(patients, event, batch_patients=8, min_events=2, rng=rng)
    assert sorted(np.concatenate(batches)) == sorted(patients)
    is_event = dict(zip(patients, event))
    assert all(sum(is_event[p] for p in batch) >= 2 for batch in batches)
    with pytest.raises(InputError, match="no event"):
        event_balanced_batches(patients, np.zeros(50, bool), batch_patients=8, min_events=2, rng=rng)


def test_validation_fold_is_drawn_from_train_and_stratified():
    patients = np.array([f"P{i}" for i in range(40)])
    event = np.arange(40) % 4 == 0  # 10 events
    fit, val = validation_fold(patients, event, 0.2, seed=5)
    assert set(fit).isdisjoint(val) and set(fit) | set(val) == set(patients)
    assert len(val) == 8
    assert sum(event[np.isin(patients, val)]) == 2


def test_model_is_efficientnet_lite0_with_the_channels_as_input():
    model = create_model(in_chans=2)
    assert type(model).__name__ == "EfficientNet"
    assert model.conv_stem.in_channels == 2
    assert model.get_classifier().out_features == 1
    out = model.eval()(torch.zeros(3, 2, 64, 64))
    assert out.shape == (3, 1)


def test_unknown_channel_is_an_error():
    with pytest.raises(InputError, match="imaging.models.mri: unknown channel"):
        channel_indices(["ct", "mri"], model="mri")


def test_augmentation_keeps_the_roi_binary_and_shapes():
    images = torch.zeros(4, 3, 32, 32)
    images[:, 2, 10:20, 10:20] = 1.0
    images[:, 1] = 0.5
    out = augment_batch(images, torch.Generator().manual_seed(0), roi_channel=2)
    assert out.shape == images.shape
    # the ROI is moved but not rescaled: its area stays about 100 pixels
    assert out[:, 2].sum(dim=(1, 2)).numpy() == pytest.approx(100.0, abs=15.0)
    assert not torch.equal(out[:, 1], images[:, 1])  # intensity jitter on PET


def test_same_seed_gives_identical_signatures(tiny_cohort):
    trainer, first = train_tiny(tiny_cohort)
    _, second = train_tiny(tiny_cohort)
    np.testing.assert_array_equal(first, second)
    assert len(trainer.history_) == 2
    assert {"train_loss", "val_loss", "val_cindex", "seconds"} <= set(trainer.history_[0])
    _, other = train_tiny(tiny_cohort, seed=4)
    assert not np.array_equal(first, other)


def test_killed_training_resumes_from_its_checkpoint(tiny_cohort, tmp_path, monkeypatch):
    straight_trainer, straight = train_tiny(tiny_cohort, epochs=3)
    checkpoint = tmp_path / "checkpoint.pt"
    run_epoch = SignatureTrainer._epoch

    def killed_in_epoch_3(self, model, optimizer, data, patients, outcome, epoch):
        if epoch == 3:
            raise KeyboardInterrupt("killed")
        return run_epoch(self, model, optimizer, data, patients, outcome, epoch)

    with monkeypatch.context() as patch:
        patch.setattr(SignatureTrainer, "_epoch", killed_in_epoch_3)
        with pytest.raises(KeyboardInterrupt):
            train_tiny(tiny_cohort, checkpoint=checkpoint, epochs=3)
    assert checkpoint.is_file()
    trainer, resumed = train_tiny(tiny_cohort, checkpoint=checkpoint, epochs=3)
    assert [h["epoch"] for h in trainer.history_] == [1, 2, 3]
    np.testing.assert_array_equal(straight, resumed)
    assert [epoch for epoch, _ in trainer.snapshots_] == [epoch for epoch, _ in straight_trainer.snapshots_]


def test_checkpoint_of_other_settings_is_not_resumed(tiny_cohort, tmp_path):
    checkpoint = tmp_path / "checkpoint.pt"
    train_tiny(tiny_cohort, checkpoint=checkpoint, epochs=1)
    trainer, _ = train_tiny(tiny_cohort, checkpoint=checkpoint, epochs=1, learning_rate=1e-4)
    assert [h["epoch"] for h in trainer.history_] == [1]


def test_snapshots_are_the_best_epochs_by_smoothed_validation_cindex(tiny_cohort):
    patients, _, _ = tiny_cohort
    trainer, risk = train_tiny(tiny_cohort, epochs=6, snapshots=3, selection_window=2)
    history = trainer.history_
    # rank as documented: smoothed validation C-index, then validation loss, then the earlier epoch
    ranked = sorted(history, key=lambda h: (-h["val_cindex_smoothed"], h["val_loss"], h["epoch"]))
    expected = [h["epoch"] for h in ranked[:3]]
    assert [epoch for epoch, _ in trainer.snapshots_] == expected
    assert [h["epoch"] for h in history if h["snapshot"]] == sorted(expected)
    assert [h["epoch"] for h in history if h["kept"]] == [expected[0]] == [trainer.best_epoch_]
    data = SliceData(patients, ["ct", "pet", "roi"])
    ids = [p.patient_id for p in patients]
    scores = trainer.snapshot_scores(data, ids)
    assert scores.shape == (3, len(patients))
    np.testing.assert_array_equal(scores[0], risk)  # the first snapshot is the kept network
    assert not np.allclose(scores[1], risk)


def test_saved_model_predicts_what_it_was_trained_to(tiny_cohort, tmp_path):
    patients, _, _ = tiny_cohort
    trainer, risk = train_tiny(tiny_cohort, channels=("pet",))
    trainer.save(tmp_path / "model.pt")
    loaded = SignatureTrainer.load(tmp_path / "model.pt")
    data = SliceData(patients, ["pet"])
    ids = [p.patient_id for p in patients]
    np.testing.assert_allclose(loaded.predict_patients(data, ids), risk, rtol=0, atol=network_score_atol(risk))
    assert [epoch for epoch, _ in loaded.snapshots_] == [epoch for epoch, _ in trainer.snapshots_]
    scores = trainer.snapshot_scores(data, ids)
    np.testing.assert_allclose(loaded.snapshot_scores(data, ids), scores, rtol=0, atol=network_score_atol(scores))


def test_signature_averages_the_train_standardised_snapshot_scores(tiny_cohort, tmp_path):
    import pandas as pd

    from survsig.preprocess import save_patient_slices
    from survsig.signature import trained_signature

    patients, _, _ = tiny_cohort
    trainer, _ = train_tiny(tiny_cohort, epochs=3, snapshots=3)
    trainer.save(tmp_path / "model.pt")
    files = []
    for patient in patients:
        files.append(tmp_path / f"{patient.patient_id}.npz")
        save_patient_slices(patient, files[-1])
    ids = [p.patient_id for p in patients]
    split = pd.DataFrame({"patient_id": ids, "split": ["train"] * 9 + ["test"] * 5})
    signature = trained_signature(tmp_path / "model.pt", files, split)
    scores = trainer.snapshot_scores(SliceData(patients, ["ct", "pet", "roi"]), ids)
    train = scores[:, :9]
    mean = ((scores - train.mean(1, keepdims=True)) / train.std(1, ddof=1, keepdims=True)).mean(0)
    expected = (mean - mean[:9].mean()) / mean[:9].std(ddof=1)
    np.testing.assert_allclose(signature["signature"], expected, rtol=0,
                               atol=member_signature_atol(scores, np.arange(14) < 9))
    assert signature["signature"][:9].std(ddof=1) == pytest.approx(1.0)


def test_ensemble_members_of_other_channels_are_an_error(tiny_cohort, tmp_path):
    import pandas as pd

    from survsig.signature import trained_signature

    for name, channels in (("a.pt", ("ct", "pet", "roi")), ("b.pt", ("pet",))):
        trainer, _ = train_tiny(tiny_cohort, channels=channels, epochs=1)
        trainer.save(tmp_path / name)
    split = pd.DataFrame({"patient_id": ["P00", "P01"], "split": ["train", "test"]})
    with pytest.raises(InputError, match=r"b\.pt.*channels \['pet'\], the first member \['ct', 'pet', 'roi'\]"):
        trained_signature([tmp_path / "a.pt", tmp_path / "b.pt"], [], split)


def test_training_set_without_events_is_an_error(tiny_cohort):
    patients, time_, _ = tiny_cohort
    no_event = {p.patient_id: 0 for p in patients}
    with pytest.raises(InputError, match="no event"):
        train_tiny((patients, time_, no_event))
