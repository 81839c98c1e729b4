"""The network of the deep learning signatures: EfficientNet-lite0 from timm, one output.

The network sees a model's channels (CT, PET, ROI) of the preprocessed ROI slices and
gives each slice a score, the log hazard; a patient's risk is the aggregate (mean or
max) of its slice scores. Its weights start from timm's random initialisation or from
the ImageNet weights of :mod:`survsig.imaging.pretrained` (``imaging.train.init``), its
head near zero either way; dropout before the output and stochastic depth regularise it
in training. CUDA is used when present, else the CPU.
"""

from __future__ import annotations

import torch

from survsig.core.errors import InputError
from survsig.imaging.pretrained import load_imagenet_weights
from survsig.imaging.slices import CHANNELS

#: The timm network every signature model is.
ARCHITECTURE = "efficientnet_lite0"
#: Initialisations of the network's weights (``imaging.train.init``).
INITS = ("scratch", "imagenet")


def channel_indices(channels, *, model=None):
    """Indices of ``channels`` in the preprocessed arrays; an unknown name is an error."""
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown or not channels:
        where = f"imaging.models.{model}" if model else "imaging.models"
        raise InputError(f"{where}: unknown channel(s) {unknown or channels}; channels are {', '.join(CHANNELS)}")
    return [CHANNELS.index(c) for c in channels]


def select_device(name="auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def create_model(in_chans: int, init: str = "scratch", *, drop_rate=0.0, drop_path_rate=0.0) -> torch.nn.Module:
    """EfficientNet-lite0 from timm, one output (the log hazard).

    Parameters
    ----------
    in_chans : int
        Input channels (the model's channels of ct, pet, roi).
    init : {"scratch", "imagenet"}
        ``scratch``: timm's random initialisation; ``imagenet``: every weight but the
        head from the ImageNet weights of :mod:`survsig.imaging.pretrained` (the stem adapted
        to ``in_chans``). The head is drawn the same way in both.
    drop_rate, drop_path_rate : float
        Dropout before the output layer and stochastic depth (timm's arguments): active
        in training only.
    """
    import timm

    if init not in INITS:
        raise InputError(f"imaging.train.init must be 'imagenet' or 'scratch', got {init!r}")
    model = timm.create_model(
        ARCHITECTURE,
        pretrained=False,
        num_classes=1,
        in_chans=in_chans,
        drop_rate=drop_rate,
        drop_path_rate=drop_path_rate,
    )
    if init == "imagenet":
        # loaded after timm's random initialisation, which draws the same numbers either
        # way: the seeded head below is the same for both inits
        load_imagenet_weights(model)
        # the running statistics describe RGB photographs: a network evaluated after a
        # few steps would normalise CT and PET by them (on a small cohort every feature
        # can end below zero and the risk constant); start them afresh, as from scratch
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.reset_running_stats()
    # timm draws the head from U(-1/sqrt(fan_out), ...) = U(-1, 1) for one output, which
    # starts risks in the tens and the Cox loss far from its optimum; start near zero instead
    head = model.get_classifier()
    torch.nn.init.normal_(head.weight, std=0.01)
    torch.nn.init.zeros_(head.bias)
    return model


def aggregate(scores: torch.Tensor, how: str) -> torch.Tensor:
    return scores.mean(dim=-1) if how == "mean" else scores.amax(dim=-1)
