"""Training: batches with events, a validation fold inside train, seeds, resume, errors,
and the model and checkpoint files (safe loading, checks, byte-stable, cleaned up)."""

import contextlib
import dataclasses
import os
import re
import shlex
import zipfile

import numpy as np
import pytest
import torch

from conftest import member_signature_atol, network_score_atol
from survsig.core.errors import InputError
from survsig.imaging.network import channel_indices, create_model
from survsig.imaging.patient_sampling import (
    event_balanced_batches,
    fit_and_validation_patients,
    validation_fold,
    validation_folds,
)
from survsig.imaging.slice_data import SliceData, augment_batch
from survsig.imaging.slices import PatientSlices
from survsig.imaging.train import SignatureTrainer
from survsig.imaging.train_settings import TrainSettings

TINY = dict(
    epochs=2,
    batch_patients=6,
    slices_per_patient=2,
    min_events_per_batch=1,
    validation_fraction=0.25,
    seed=3,
    snapshots=2,
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


def train_tiny(tiny_cohort, channels=("ct", "pet", "roi"), checkpoint=None, train_patients=None, **changes):
    """Train on ``train_patients`` (default: all of the cohort); risk of every patient."""
    patients, time_, event = tiny_cohort
    torch.set_num_threads(1)
    settings = TrainSettings(**{**TINY, **changes})
    data = SliceData(patients, list(channels))
    trainer = SignatureTrainer(list(channels), settings, checkpoint=checkpoint)
    trainer.fit(data, train_patients or [p.patient_id for p in patients], time_, event)
    return trainer, trainer.predict_patients(data, [p.patient_id for p in patients])


@contextlib.contextmanager
def epochs_run(monkeypatch):
    """Yield the list of the epochs the trainings inside actually run."""
    ran = []
    run_epoch = SignatureTrainer._epoch

    def recording(self, model, optimizer, data, patients, outcome, epoch):
        ran.append(epoch)
        return run_epoch(self, model, optimizer, data, patients, outcome, epoch)

    with monkeypatch.context() as patch:
        patch.setattr(SignatureTrainer, "_epoch", recording)
        yield ran


@contextlib.contextmanager
def killed_in_epoch(monkeypatch, killed):
    """Trainings inside are killed (KeyboardInterrupt) when epoch ``killed`` starts."""
    run_epoch = SignatureTrainer._epoch

    def killing(self, model, optimizer, data, patients, outcome, epoch):
        if epoch == killed:
            raise KeyboardInterrupt("killed")
        return run_epoch(self, model, optimizer, data, patients, outcome, epoch)

    with monkeypatch.context() as patch:
        patch.setattr(SignatureTrainer, "_epoch", killing)
        yield


def same_weights(first, second):
    """Whether two trained networks have exactly the same weights."""
    a, b = first.model_.state_dict(), second.model_.state_dict()
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


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


def test_validation_folds_partition_the_training_set_stratified_by_event():
    patients = np.array([f"P{i:02d}" for i in range(43)])
    event = np.arange(43) % 3 == 0  # 15 events, 28 censored
    fold = validation_folds(patients, event, 5, seed=3)
    assert sorted(np.bincount(fold).tolist()) == [8, 8, 9, 9, 9]
    assert sorted(np.bincount(fold[event], minlength=5).tolist()) == [3, 3, 3, 3, 3]
    assert np.array_equal(fold, validation_folds(patients, event, 5, seed=3))
    assert not np.array_equal(fold, validation_folds(patients, event, 5, seed=4))
    # members' validation folds: disjoint, and together every training patient
    seen = []
    for member in range(5):
        settings = TrainSettings(validation="folds", fold=member, folds=5, fold_seed=3, seed=3 + member)
        fit, val = fit_and_validation_patients(patients, event, settings)
        assert set(fit).isdisjoint(val) and set(fit) | set(val) == set(patients)
        seen += list(val)
    assert sorted(seen) == sorted(patients)


@pytest.mark.parametrize(
    "block, message",
    [
        ({"validation": "kfold"}, "imaging.train.validation"),
        ({"validation": "folds", "fold": 5, "folds": 5}, "fold 5 of 5"),
        ({"drop_rate": 1.0}, "imaging.train.drop_rate must be in \\[0, 1\\)"),
        ({"drop_path_rate": -0.1}, "imaging.train.drop_path_rate"),
        ({"intensity_jitter": 2.0}, "imaging.train.intensity_jitter"),
        ({"standardise": "yes"}, "imaging.train.standardise must be true or false"),
        ({"context_mm": 0}, "imaging.train.context_mm must be a positive number"),
        ({"context_mm": "5 mm"}, "imaging.train.context_mm"),
    ],
)
def test_bad_validation_settings_are_named(block, message):
    with pytest.raises(InputError, match=message):
        TrainSettings.from_config(block)


def test_model_is_efficientnet_lite0_with_the_channels_as_input():
    model = create_model(in_chans=2)
    assert type(model).__name__ == "EfficientNet"
    assert model.conv_stem.in_channels == 2
    assert model.get_classifier().out_features == 1
    out = model.eval()(torch.zeros(3, 2, 64, 64))
    assert out.shape == (3, 1)


def test_dropout_and_stochastic_depth_act_in_training_only():
    torch.manual_seed(0)
    model = create_model(in_chans=2, drop_rate=0.5, drop_path_rate=0.2)
    assert model.drop_rate == 0.5
    # timm makes a block of rate 0 an Identity
    depths = [getattr(block.drop_path, "drop_prob", 0.0) for stage in model.blocks for block in stage]
    assert max(depths) == pytest.approx(0.2, rel=0.1) and min(depths) < max(depths)  # rising with depth
    images = torch.rand(4, 2, 64, 64)
    model.train()
    assert not torch.equal(model(images), model(images))
    model.eval()
    assert torch.equal(model(images), model(images))


def test_no_intensity_jitter_keeps_the_intensities():
    images = torch.rand(4, 3, 32, 32)
    # the same seed draws the same flips and turns: only the jitter differs
    jittered = augment_batch(images, torch.Generator().manual_seed(1), fixed_channels=[2], jitter=0.1)
    plain = augment_batch(images, torch.Generator().manual_seed(1), fixed_channels=[2], jitter=0.0)
    assert not torch.equal(jittered[:, :2], plain[:, :2])
    assert torch.equal(jittered[:, 2], plain[:, 2])  # the ROI is never jittered
    # jitter 0: only the geometric part, which keeps the mean intensity of a flat image
    flat = torch.full((2, 3, 32, 32), 0.3)
    assert torch.allclose(augment_batch(flat, torch.Generator().manual_seed(2), jitter=0.0), flat, atol=1e-6)


def test_unknown_channel_is_an_error():
    with pytest.raises(InputError, match="imaging.models.mri: unknown channel"):
        channel_indices(["ct", "mri"], model="mri")


def test_augmentation_keeps_the_roi_binary_and_shapes():
    images = torch.zeros(4, 3, 32, 32)
    images[:, 2, 10:20, 10:20] = 1.0
    images[:, 1] = 0.5
    out = augment_batch(images, torch.Generator().manual_seed(0), fixed_channels=[2])
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
    with killed_in_epoch(monkeypatch, 3):
        with pytest.raises(KeyboardInterrupt):
            train_tiny(tiny_cohort, checkpoint=checkpoint, epochs=3)
    assert checkpoint.is_file()
    with epochs_run(monkeypatch) as ran:
        trainer, resumed = train_tiny(tiny_cohort, checkpoint=checkpoint, epochs=3)
    assert ran == [3]  # resumed after epoch 2, not retrained
    assert [h["epoch"] for h in trainer.history_] == [1, 2, 3]
    np.testing.assert_array_equal(straight, resumed)
    assert [epoch for epoch, _ in trainer.snapshots_] == [epoch for epoch, _ in straight_trainer.snapshots_]


def changed_inputs(tiny_cohort, change):
    """The cohort, training patients and settings of ``tiny_cohort`` with one input changed.

    The changed patient is one of the fit fold with an event (so the change reaches the
    network's first epoch): its slices, its follow-up (moved from the latest to the
    earliest of the fit fold's), its event, or its place in the training set.
    """
    patients, time_, event = tiny_cohort
    ids = sorted(p.patient_id for p in patients)
    fit, _ = validation_fold(ids, [event[p] for p in ids], TINY["validation_fraction"], TINY["seed"])
    target = max((p for p in fit if event[p]), key=time_.get)
    if change == "slices":
        patients = [dataclasses.replace(p, slices=p.slices.copy()) if p.patient_id == target else p for p in patients]
        changed = next(p for p in patients if p.patient_id == target)
        changed.slices[0, 0, :4, :4] += np.float16(0.5)  # a corner of one CT slice
        return (patients, time_, event), None, {}
    if change == "os_months":
        return (patients, {**time_, target: min(time_[p] for p in fit) - 1.0}, event), None, {}
    if change == "os_event":
        return (patients, time_, {**event, target: 0}), None, {}
    if change == "split":
        return tiny_cohort, [p for p in ids if p != target], {}
    if change == "setting":
        return tiny_cohort, None, {"weight_decay": 0.5}
    raise AssertionError(change)


@pytest.mark.parametrize("change", ["slices", "os_months", "os_event", "split", "setting"])
def test_checkpoint_of_other_inputs_is_not_resumed(tiny_cohort, tmp_path, monkeypatch, change):
    """A checkpoint of other slices, outcomes, split or settings is never resumed: the
    training starts at epoch 1 and ends where a training without checkpoint does."""
    checkpoint = tmp_path / "checkpoint.pt"
    first, _ = train_tiny(tiny_cohort, checkpoint=checkpoint, epochs=1)
    assert checkpoint.is_file()
    cohort, train_patients, settings = changed_inputs(tiny_cohort, change)
    fresh, _ = train_tiny(cohort, train_patients=train_patients, epochs=1, **settings)
    assert not same_weights(fresh, first)  # the change matters to the network
    with epochs_run(monkeypatch) as ran:
        second, _ = train_tiny(cohort, checkpoint=checkpoint, train_patients=train_patients, epochs=1, **settings)
    assert ran == [1]
    assert [h["epoch"] for h in second.history_] == [1]
    assert same_weights(second, fresh)
    assert second.history_[0]["train_loss"] == fresh.history_[0]["train_loss"]


def test_checkpoint_of_unchanged_inputs_is_resumed(tiny_cohort, tmp_path, monkeypatch):
    """Same inputs: nothing retrains; more epochs continue after the checkpoint's. Slices
    of a channel the model does not see are no input of it."""
    checkpoint = tmp_path / "checkpoint.pt"
    first, _ = train_tiny(tiny_cohort, channels=("pet",), checkpoint=checkpoint, epochs=1)
    patients, time_, event = tiny_cohort
    other_ct = [dataclasses.replace(p, slices=p.slices.copy()) for p in patients]
    for patient in other_ct:
        patient.slices[:, 0] = 0  # CT, unseen by a PET model
    with epochs_run(monkeypatch) as ran:
        again, _ = train_tiny((other_ct, time_, event), channels=("pet",), checkpoint=checkpoint, epochs=1)
    assert ran == []
    assert same_weights(again, first)
    with epochs_run(monkeypatch) as ran:
        longer, _ = train_tiny(tiny_cohort, channels=("pet",), checkpoint=checkpoint, epochs=2, patience=20)
    assert ran == [2]
    assert [h["epoch"] for h in longer.history_] == [1, 2]


def test_checkpoint_loads_as_plain_weights(tiny_cohort, tmp_path):
    """No numpy scalars or other objects: it loads with weights_only=True, and its zip
    root is torch's fixed "archive", not the random temporary file's name."""
    checkpoint = tmp_path / "checkpoint.pt"
    train_tiny(tiny_cohort, checkpoint=checkpoint, epochs=1)
    state = torch.load(checkpoint, weights_only=True)
    assert state["epoch"] == 1
    assert all(type(value) in (int, float) for value in state["history"][0].values())
    assert {name.split("/")[0] for name in zipfile.ZipFile(checkpoint).namelist()} == {"archive"}


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

    from survsig.imaging.signature import trained_signature
    from survsig.imaging.slices import save_patient_slices

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
    np.testing.assert_allclose(
        signature["signature"], expected, rtol=0, atol=member_signature_atol(scores, np.arange(14) < 9)
    )
    assert signature["signature"][:9].std(ddof=1) == pytest.approx(1.0)


def test_ensemble_members_of_other_channels_are_an_error(tiny_cohort, tmp_path):
    import pandas as pd

    from survsig.imaging.signature import trained_signature

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


class RunsCode:
    """Pickles as a call of ``open(marker, "w")``: unpickling it creates ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def saved_model(tiny_cohort, tmp_path_factory):
    """A real model file (PET, 1 epoch, 2 snapshots) and its loaded content."""
    trainer, _ = train_tiny(tiny_cohort, channels=("pet",), epochs=2)
    path = tmp_path_factory.mktemp("saved") / "model.pt"
    trainer.save(path)
    return path, torch.load(path, weights_only=True)


def test_crafted_model_file_is_refused_without_running_its_code(saved_model, tmp_path):
    import pandas as pd

    from survsig.imaging.signature import trained_signature

    _, content = saved_model
    marker = tmp_path / "code_ran"
    path = tmp_path / "model.pt"
    torch.save({**content, "channels": RunsCode(marker)}, path)
    with pytest.raises(InputError, match="refused: the model file holds Python objects") as refused:
        SignatureTrainer.load(path)
    assert refused.value.file == str(path)
    split = pd.DataFrame({"patient_id": ["P00", "P01"], "split": ["train", "test"]})
    with pytest.raises(InputError, match="refused") as refused:
        trained_signature(path, [], split)
    assert refused.value.file == str(path)
    assert not marker.exists()
    # the file is a working exploit: unrestricted unpickling runs its code
    torch.load(path, weights_only=False)
    assert marker.exists()


class RunsShell:
    """Pickles as a call of ``os.system("touch marker")``: a global of a module torch blocks."""

    def __init__(self, marker):
        self.command = f"touch {shlex.quote(str(marker))}"

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.mark.parametrize(
    ("payload", "global_name", "torch_wording"),
    [
        (RunsShell, os.system.__module__ + ".system", "unsupported GLOBAL posix.system whose module posix is blocked"),
        (RunsCode, "io.open", "Unsupported global: GLOBAL io.open was not an allowed global"),
    ],
    ids=["os.system", "builtins.open"],
)
def test_crafted_model_file_says_python_objects_refused_for_safety(tmp_path, payload, global_name, torch_wording):
    """Both of torch's wordings give the same message, which never advises weights_only=False."""
    import pickle

    from survsig.imaging.model_files import read_model_file

    marker = tmp_path / "code_ran"
    path = tmp_path / "model.pt"
    torch.save({"architecture": "efficientnet_lite0", "channels": payload(marker)}, path)
    with pytest.raises(pickle.UnpicklingError, match=re.escape(torch_wording)):  # what the message is read from
        torch.load(path, weights_only=True)
    with pytest.raises(InputError) as refused:
        read_model_file(path)
    message = str(refused.value)
    assert message == (
        f"{path}: refused: the model file holds Python objects other than weights and plain data (here "
        f"{global_name}); it is refused for safety, as loading it could run code, and was not written by this workflow"
    )
    assert "weights_only" not in message and "cut short" not in message
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the file is a working exploit: unrestricted unpickling runs it
    assert marker.exists()


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "folder"])
def test_a_model_file_that_is_no_regular_file_is_refused_unread(tmp_path, deadline, kind):
    from survsig.imaging.model_files import read_model_file

    path = {"fifo": tmp_path / "model.pt", "/dev/zero": "/dev/zero", "folder": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    expected = {"fifo": "a named pipe (FIFO)", "/dev/zero": "a character device", "folder": "a folder"}[kind]
    with pytest.raises(InputError) as refused:
        read_model_file(path)
    assert str(refused.value).startswith(f"{path}: cannot read the model file: it is {expected}, not a regular file")


def test_crafted_checkpoint_is_ignored_without_running_its_code(tiny_cohort, tmp_path, monkeypatch, caplog):
    marker = tmp_path / "code_ran"
    checkpoint = tmp_path / "checkpoint.pt"
    torch.save({"fingerprint": RunsCode(marker), "epoch": 1}, checkpoint)
    fresh, _ = train_tiny(tiny_cohort, epochs=1)
    with epochs_run(monkeypatch) as ran, caplog.at_level("WARNING", logger="survsig.imaging.train"):
        trainer, _ = train_tiny(tiny_cohort, checkpoint=checkpoint, epochs=1)
    assert not marker.exists()
    assert ran == [1]
    assert same_weights(trainer, fresh)
    assert f"ignoring checkpoint (training starts afresh): {checkpoint}: refused" in caplog.text
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 1  # replaced by this training's


def _drop(content, key):
    return {k: v for k, v in content.items() if k != key}


def _snapshot_state(content, edit):
    state = dict(content["snapshots"][0]["state_dict"])
    edit(state)
    return {**content, "snapshots": [{"epoch": content["snapshots"][0]["epoch"], "state_dict": state}]}


BROKEN_MODELS = {
    "missing key": (lambda c: _drop(c, "snapshots"), "model file lacks key\\(s\\) snapshots"),
    "architecture": (lambda c: {**c, "architecture": "resnet18"}, "model architecture is 'resnet18'"),
    "channels not a list": (lambda c: {**c, "channels": "pet"}, "model channels must be a list"),
    "unknown channel": (lambda c: {**c, "channels": ["mri"]}, "model channels must be a list .*'mri'"),
    "bad settings": (lambda c: {**c, "settings": {**c["settings"], "aggregate": "median"}}, "aggregate must be"),
    "no snapshots": (lambda c: {**c, "snapshots": []}, "holds no snapshot network"),
    "missing weight": (
        lambda c: _snapshot_state(c, lambda s: s.pop("conv_stem.weight")),
        "snapshot 0 does not fit efficientnet_lite0 with 1 input channel\\(s\\): "
        "1 weight\\(s\\) missing, first 'conv_stem.weight'",
    ),
    "wrong shape": (
        lambda c: _snapshot_state(c, lambda s: s.update({"conv_stem.weight": torch.zeros(32, 3, 3, 3)})),
        "'conv_stem.weight' has shape \\(32, 3, 3, 3\\), expected \\(32, 1, 3, 3\\)",
    ),
    "other channels": (lambda c: {**c, "channels": ["ct", "pet"]}, "with 2 input channel\\(s\\).*has shape"),
    "not a file": (None, "cannot read model file"),
    "no standardisation": (lambda c: _drop(c, "standardisation"), "lacks key\\(s\\) standardisation"),
    "zero sd": (
        lambda c: {**c, "standardisation": {"mean": [0.1], "sd": [0.0]}},
        "standardisation must hold a finite mean and a positive sd per channel",
    ),
}


@pytest.mark.parametrize("broken", list(BROKEN_MODELS))
def test_broken_model_file_is_one_input_error_naming_it(saved_model, tmp_path, broken):
    _, content = saved_model
    edit, message = BROKEN_MODELS[broken]
    path = tmp_path / "model.pt"
    if edit is None:
        path.write_bytes(b"not a zip archive")
    else:
        torch.save(edit(content), path)
    with pytest.raises(InputError, match=message) as error:
        SignatureTrainer.load(path)
    assert error.value.file == str(path)
    assert str(error.value).startswith(f"{path}: ")


def test_model_file_is_byte_identical_between_saves_and_runs(saved_model, tiny_cohort, tmp_path):
    path, _ = saved_model
    trainer, _ = train_tiny(tiny_cohort, channels=("pet",), epochs=2)  # a second run, same seed
    trainer.save(tmp_path / "a" / "model.pt")
    trainer.save(tmp_path / "b" / "model.pt")
    first = (tmp_path / "a" / "model.pt").read_bytes()
    assert (tmp_path / "b" / "model.pt").read_bytes() == first
    assert path.read_bytes() == first


def test_finished_training_leaves_only_its_outputs(tiny_cohort, tmp_path):
    """Stale temporary files of killed writes go when a training starts and saves; the
    checkpoint goes once the model is saved; other files stay."""
    checkpoint, model = tmp_path / "checkpoint.pt", tmp_path / "model.pt"
    for stale in (".checkpoint.pt.k1ll3d_9.pt", ".model.pt.abcdefgh.pt"):
        (tmp_path / stale).write_bytes(b"")
    (tmp_path / ".checkpoint.pt.notes").write_text("not a temporary file of checkpoint.pt")
    trainer, _ = train_tiny(tiny_cohort, checkpoint=checkpoint, epochs=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".checkpoint.pt.notes",
        ".model.pt.abcdefgh.pt",
        "checkpoint.pt",
    ]
    trainer.save(model)
    assert checkpoint.is_file()  # until the model is saved, a kill can still resume
    trainer.discard_checkpoint()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".checkpoint.pt.notes", "model.pt"]
    assert SignatureTrainer.load(model).best_epoch_ == trainer.best_epoch_
    trainer.discard_checkpoint()  # nothing left to remove is no error


def test_slice_data_reads_back_each_patients_channels_from_disk(tiny_cohort, tmp_path):
    """The slices go to one temporary file (nothing of them stays in memory) and come back
    bit for bit: per patient, in chunks across patients, and as training samples them."""
    patients, _, _ = tiny_cohort
    data = SliceData(iter(patients), ["pet", "roi"], directory=tmp_path)
    ids = [p.patient_id for p in patients]
    assert data.patients == ids and "P03" in data and "P99" not in data
    expected = {p.patient_id: p.slices[:, [1, 2]] for p in patients}
    for patient in ids:
        assert data.count(patient) == len(expected[patient])
        np.testing.assert_array_equal(data.read(patient).numpy(), expected[patient])
    stacked = np.concatenate([expected[p] for p in ids[::-1]])
    chunks = [chunk.numpy() for chunk in data.chunks(ids[::-1], 5)]
    assert [len(chunk) for chunk in chunks] == [5] * (len(stacked) // 5) + [len(stacked) % 5]
    np.testing.assert_array_equal(np.concatenate(chunks), stacked)
    picks = np.random.default_rng(4)
    sample = data.sample(ids[:3], 3, np.random.default_rng(4)).numpy()
    reference = []
    for patient in ids[:3]:
        count = len(expected[patient])
        reference.append(expected[patient][np.sort(picks.choice(count, size=3, replace=count < 3))])
    np.testing.assert_array_equal(sample, np.concatenate(reference).astype(np.float32))


def test_slice_data_of_another_crop_size_names_the_patient(tiny_cohort):
    patients, _, _ = tiny_cohort
    odd = dataclasses.replace(patients[5], slices=patients[5].slices[:, :, :16, :16])
    with pytest.raises(InputError, match="same settings") as err:
        SliceData([*patients[:5], odd], ["ct"])
    assert err.value.patient == odd.patient_id


def with_boxes(patient, side_mm):
    """``patient`` with every slice's box ``side_mm`` wide (as preprocessing records it)."""
    boxes = np.zeros((len(patient.slices), 4))
    boxes[:, 2] = side_mm
    return dataclasses.replace(patient, boxes_mm=boxes)


def test_context_plane_is_the_roi_grown_by_the_distance_in_mm():
    from survsig.imaging.slice_data import context_plane

    slices = np.zeros((2, 3, 32, 32), np.float16)
    slices[0, 2, 10, 20] = 1
    slices[1, 2, 5:8, 5:8] = 1
    # 64 mm over 32 pixels: 2 mm pixels, so 5 mm is 2 pixels (rounded from 2.5)
    patient = with_boxes(PatientSlices("P1", slices, np.zeros(2)), 64.0)
    plane = context_plane(patient, 5.0)
    expected = np.zeros((2, 32, 32))
    expected[0, 8:13, 18:23] = 1
    expected[1, 3:10, 3:10] = 1
    np.testing.assert_array_equal(plane, expected)
    # the same 5 mm on 1 mm pixels is 5 pixels
    assert context_plane(with_boxes(patient, 32.0), 5.0)[0].sum() == 11 * 11


def test_context_needs_the_box_sizes_and_names_the_patient(tiny_cohort):
    patients, _, _ = tiny_cohort
    with pytest.raises(InputError, match="P00: slices carry no box sizes"):
        SliceData(patients, ["ct", "pet", "roi"], context_mm=5.0)


def test_network_sees_standardised_channels_blanked_beyond_the_context(tiny_cohort):
    patients, time_, event = tiny_cohort
    boxed = [with_boxes(p, 32.0) for p in patients]  # 1 mm pixels; ROI rows and columns 8-23
    data = SliceData(boxed, ["ct", "pet", "roi"], context_mm=3.0)
    assert data.fixed_channels == [2, 3] and data.read("P00").shape[1] == 4
    settings = TrainSettings(**{**TINY, "epochs": 1}, standardise=True, context_mm=3.0)
    trainer = SignatureTrainer(["ct", "pet", "roi"], settings)
    trainer.fit(data, [p.patient_id for p in boxed], time_, event)
    stacked = np.concatenate([p.slices.astype(np.float64) for p in boxed])
    np.testing.assert_allclose(trainer.channel_mean_, stacked.mean(axis=(0, 2, 3)), rtol=1e-9)
    np.testing.assert_allclose(trainer.channel_sd_, stacked.std(axis=(0, 2, 3)), rtol=1e-9)
    raw = data.read("P01").float()
    seen = trainer._network_input(raw, data)
    assert seen.shape[1] == 3
    near = torch.zeros(32, 32, dtype=torch.bool)
    near[5:27, 5:27] = True
    for c in range(3):
        inside = (raw[:, c, near] - trainer.channel_mean_[c]) / trainer.channel_sd_[c]
        torch.testing.assert_close(seen[:, c, near], inside)
    # CT and PET are 0 (the training mean) beyond 3 mm of the ROI; the ROI itself is not blanked
    assert seen[:, :2, ~near].abs().max() == 0
    assert seen[:, 2, ~near].min() < 0


def test_model_keeps_its_standardisation_and_context(tiny_cohort, tmp_path):
    import pandas as pd

    from survsig.imaging.signature import trained_signature
    from survsig.imaging.slices import save_patient_slices

    patients, time_, event = tiny_cohort
    boxed = [with_boxes(p, 32.0) for p in patients]
    data = SliceData(boxed, ["pet", "roi"], context_mm=4.0)
    settings = TrainSettings(**{**TINY, "epochs": 2}, standardise=True, context_mm=4.0)
    trainer = SignatureTrainer(["pet", "roi"], settings)
    trainer.fit(data, [p.patient_id for p in boxed], time_, event)
    trainer.save(tmp_path / "model.pt")
    loaded = SignatureTrainer.load(tmp_path / "model.pt")
    assert (loaded.channel_mean_, loaded.channel_sd_) == (trainer.channel_mean_, trainer.channel_sd_)
    ids = [p.patient_id for p in boxed]
    risk = trainer.predict_patients(data, ids)
    np.testing.assert_allclose(loaded.predict_patients(data, ids), risk, rtol=0, atol=network_score_atol(risk))
    with pytest.raises(InputError, match="slices were read with context_mm None.*trained with.*4.0"):
        loaded.predict_patients(SliceData(boxed, ["pet", "roi"]), ids)
    # the signature stage reads the slices with the context the model was trained with
    files = []
    for patient in boxed:
        files.append(tmp_path / f"{patient.patient_id}.npz")
        save_patient_slices(patient, files[-1])
    split = pd.DataFrame({"patient_id": ids, "split": ["train"] * 9 + ["test"] * 5})
    signature = trained_signature(tmp_path / "model.pt", files, split)
    assert np.isfinite(signature["signature"]).all() and signature["signature"][:9].std(ddof=1) == pytest.approx(1.0)


def test_standardise_off_feeds_the_stored_intensities(tiny_cohort):
    patients, time_, event = tiny_cohort
    data = SliceData(patients, ["ct", "pet"])
    trainer = SignatureTrainer(["ct", "pet"], TrainSettings(**{**TINY, "epochs": 1}, standardise=False))
    trainer.fit(data, [p.patient_id for p in patients], time_, event)
    assert (trainer.channel_mean_, trainer.channel_sd_) == ([0.0, 0.0], [1.0, 1.0])
    raw = data.read("P03").float()
    torch.testing.assert_close(trainer._network_input(raw, data), raw, rtol=0, atol=0)


# -- radiomic features as auxiliary targets -----------------------------------------------
def tiny_targets(tiny_cohort, columns=3, seed=0):
    """Auxiliary targets of every patient of ``tiny_cohort``: the PET level and noise."""
    import pandas as pd

    patients, _, _ = tiny_cohort
    rng = np.random.default_rng(seed)
    ids = [p.patient_id for p in patients]
    level = [float(p.slices[:, 1, 8:24, 8:24].astype(float).mean()) for p in patients]
    values = np.column_stack([level, *rng.normal(size=(columns - 1, len(ids)))])
    return pd.DataFrame(values, index=ids, columns=[f"f{j}" for j in range(columns)])


def train_with_targets(tiny_cohort, targets, checkpoint=None, **changes):
    patients, time_, event = tiny_cohort
    torch.set_num_threads(1)
    settings = TrainSettings(**{**TINY, **changes})
    data = SliceData(patients, ["ct", "pet", "roi"])
    trainer = SignatureTrainer(["ct", "pet", "roi"], settings, checkpoint=checkpoint)
    trainer.fit(data, [p.patient_id for p in patients], time_, event, targets=targets)
    return trainer, trainer.predict_patients(data, [p.patient_id for p in patients])


def test_auxiliary_targets_change_the_network_reproducibly(tiny_cohort):
    targets = tiny_targets(tiny_cohort)
    _, plain = train_tiny(tiny_cohort)
    _, ignored = train_with_targets(tiny_cohort, targets)  # weight 0: the targets are not used
    np.testing.assert_array_equal(ignored, plain)
    trainer, guided = train_with_targets(tiny_cohort, targets, radiomics_weight=1.0)
    _, again = train_with_targets(tiny_cohort, targets, radiomics_weight=1.0)
    np.testing.assert_array_equal(guided, again)
    assert not np.array_equal(guided, plain)
    # the head is a device of the training: the saved network is the plain architecture
    assert set(trainer.model_.state_dict()) == set(create_model(3).state_dict())


def test_auxiliary_targets_of_patients_outside_training_are_never_used(tiny_cohort):
    """Targets are read for the training patients only: other rows may hold anything."""
    patients, _, _ = tiny_cohort
    ids = [p.patient_id for p in patients]
    targets = tiny_targets(tiny_cohort)
    outside = targets.copy()
    outside.loc["ZZ_test"] = [np.nan, 1e9, -1e9]
    _, guided = train_with_targets(tiny_cohort, targets, radiomics_weight=1.0)
    _, with_outside = train_with_targets(tiny_cohort, outside, radiomics_weight=1.0)
    np.testing.assert_array_equal(guided, with_outside)
    with pytest.raises(InputError, match=f"{ids[0]}.*auxiliary|auxiliary.*{ids[0]}"):
        train_with_targets(tiny_cohort, targets.drop(index=ids[0]), radiomics_weight=1.0)
    with pytest.raises(InputError, match="radiomics_weight"):
        train_with_targets(tiny_cohort, None, radiomics_weight=1.0)


def test_guided_training_resumes_from_its_checkpoint_with_its_head(tiny_cohort, tmp_path, monkeypatch):
    targets = tiny_targets(tiny_cohort)
    _, straight = train_with_targets(tiny_cohort, targets, radiomics_weight=1.0, epochs=3)
    checkpoint = tmp_path / "checkpoint.pt"
    with killed_in_epoch(monkeypatch, 3):
        with pytest.raises(KeyboardInterrupt):
            train_with_targets(tiny_cohort, targets, checkpoint=checkpoint, radiomics_weight=1.0, epochs=3)
    with epochs_run(monkeypatch) as ran:
        _, resumed = train_with_targets(tiny_cohort, targets, checkpoint=checkpoint, radiomics_weight=1.0, epochs=3)
    assert ran == [3]
    np.testing.assert_array_equal(straight, resumed)
    # other targets are another training: the checkpoint is not resumed
    with epochs_run(monkeypatch) as ran:
        train_with_targets(tiny_cohort, tiny_targets(tiny_cohort, seed=1), checkpoint=checkpoint, radiomics_weight=1.0)
    assert ran == [1, 2]


@pytest.mark.parametrize("weight", [-0.5, "heavy", True, float("inf")])
def test_bad_radiomics_weight_is_named(weight):
    with pytest.raises(InputError, match="imaging.train.radiomics_weight"):
        TrainSettings.from_config({"radiomics_weight": weight})


@pytest.mark.parametrize("components", [-1, 2.5, "ten", True])
def test_bad_radiomics_components_is_named(components):
    with pytest.raises(InputError, match="imaging.train.radiomics_components"):
        TrainSettings.from_config({"radiomics_components": components})
