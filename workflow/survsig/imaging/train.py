"""Training of the deep learning signatures: EfficientNet-lite0 with the DeepSurv loss.

One network per model of ``config: imaging.models``, each seeing its channels (CT, PET,
ROI) of the preprocessed ROI slices. A patient's risk is the aggregate (mean or max)
of its slice scores; the loss is the negative Cox partial log-likelihood over the
patients of a batch, and every batch holds events. Optionally the network sees each
channel standardised over the training patients' slices and CT and PET only near the
ROI. Dropout before the output and stochastic depth regularise the network in training.
A validation fold drawn from the training set (never the test set) picks the epoch to
keep (early stopping on its C-index) and the few best epochs whose networks the
signature averages (a snapshot ensemble). CUDA is used when present (with bfloat16
autocast), else the CPU with channels-last tensors. Randomness of an epoch derives from (seed, epoch) alone, so a
training resumed from its checkpoint ends exactly where an unbroken one would; a
checkpoint is resumed only when everything the network is a function of (slices,
outcomes, split, channels, settings) is unchanged.

Model and checkpoint files are read with ``torch.load(..., weights_only=True)``: they
hold tensors and plain Python data only, so loading a crafted file never runs its code.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from survsig.core.errors import InputError
from survsig.core.figures import new_figure, styled
from survsig.core.io import atomic_path, remove_stale_temp_files
from survsig.imaging.losses import cox_partial_nll
from survsig.imaging.pretrained import load_imagenet_weights
from survsig.imaging.slices import CHANNELS
from survsig.survival.concordance import concordance_index

log = logging.getLogger(__name__)

#: The timm network every signature model is.
ARCHITECTURE = "efficientnet_lite0"
#: Initialisations of the network's weights (``imaging.train.init``).
INITS = ("scratch", "imagenet")
#: Keys of a saved model file (``model.pt``).
MODEL_KEYS = ("architecture", "channels", "settings", "best_epoch", "snapshots", "standardisation")
#: Keys of a checkpoint file (``checkpoint.pt``).
CHECKPOINT_KEYS = ("fingerprint", "epoch", "model", "optimizer", "history", "snapshots")


@dataclass
class TrainSettings:
    """Settings of the training (``imaging.train`` in the config)."""

    epochs: int = 45
    patience: int = 15
    selection_window: int = 3
    batch_patients: int = 32
    slices_per_patient: int = 2
    learning_rate: float = 3e-4
    weight_decay: float = 0.05
    max_grad_norm: float = 1.0
    lr_schedule: str = "cosine"
    validation_fraction: float = 0.2
    validation: str = "holdout"
    fold: int = 0
    folds: int = 1
    fold_seed: int | None = None
    min_events_per_batch: int = 2
    ties: str = "efron"
    aggregate: str = "mean"
    augment: bool = True
    intensity_jitter: float = 0.1
    standardise: bool = False
    context_mm: float | None = None
    drop_rate: float = 0.5
    drop_path_rate: float = 0.2
    seed: int = 2022
    init: str = "imagenet"
    snapshots: int = 5
    device: str = "auto"

    @classmethod
    def from_config(cls, block) -> TrainSettings:
        known = {k: v for k, v in dict(block or {}).items() if k in cls.__dataclass_fields__}
        settings = cls(**known)
        if settings.aggregate not in ("mean", "max"):
            raise InputError(f"imaging.train.aggregate must be 'mean' or 'max', got {settings.aggregate!r}")
        if settings.lr_schedule not in ("cosine", "constant"):
            raise InputError(f"imaging.train.lr_schedule must be 'cosine' or 'constant', got {settings.lr_schedule!r}")
        if settings.ties not in ("efron", "breslow"):
            raise InputError(f"imaging.train.ties must be 'efron' or 'breslow', got {settings.ties!r}")
        if settings.init not in INITS:
            raise InputError(f"imaging.train.init must be 'imagenet' or 'scratch', got {settings.init!r}")
        for key in ("drop_rate", "drop_path_rate"):
            if not 0.0 <= float(getattr(settings, key)) < 1.0:
                raise InputError(f"imaging.train.{key} must be in [0, 1), got {getattr(settings, key)!r}")
        if not 0.0 <= float(settings.intensity_jitter) <= 1.0:
            raise InputError(f"imaging.train.intensity_jitter must be in [0, 1], got {settings.intensity_jitter!r}")
        if not isinstance(settings.standardise, bool):
            raise InputError(f"imaging.train.standardise must be true or false, got {settings.standardise!r}")
        context = settings.context_mm
        if context is not None and (
            isinstance(context, bool) or not isinstance(context, (int, float)) or not 0 < context < math.inf
        ):
            raise InputError(f"imaging.train.context_mm must be a positive number of mm or null, got {context!r}")
        if int(settings.snapshots) < 1:
            raise InputError(f"imaging.train.snapshots must be at least 1, got {settings.snapshots!r}")
        if settings.validation not in ("holdout", "folds"):
            raise InputError(f"imaging.train.validation must be 'holdout' or 'folds', got {settings.validation!r}")
        if settings.validation == "folds" and not 0 <= int(settings.fold) < int(settings.folds):
            raise InputError(
                f"imaging.train.validation 'folds': fold {settings.fold} of {settings.folds} does not exist "
                "(one fold per ensemble member, imaging.train.members)"
            )
        return settings


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


def event_balanced_batches(patients, event, *, batch_patients, min_events, rng):
    """Shuffle ``patients`` into batches of about ``batch_patients`` holding events each.

    Events are dealt round-robin over the batches first, so every batch gets at least
    ``min_events`` of them (fewer batches are made when events are scarce); censored
    patients fill the rest.
    """
    patients = np.asarray(patients)
    event = np.asarray(event, bool)
    events = rng.permutation(patients[event])
    censored = rng.permutation(patients[~event])
    if len(events) == 0:
        raise InputError("the training set holds no event: a Cox loss cannot be trained")
    n_batches = max(1, math.ceil(len(patients) / batch_patients))
    n_batches = max(1, min(n_batches, len(events) // max(1, min_events)))
    batches = [[] for _ in range(n_batches)]
    for i, patient in enumerate(events):
        batches[i % n_batches].append(patient)
    for i, patient in enumerate(censored):
        batches[(i + len(events)) % n_batches].append(patient)
    return [np.asarray(batches[i]) for i in rng.permutation(n_batches)]


def validation_fold(patients, event, fraction, seed):
    """Split training patients into fit and validation folds, stratified by event."""
    rng = np.random.default_rng([seed, 7])
    patients = np.asarray(patients)
    event = np.asarray(event, bool)
    fold = np.zeros(len(patients), bool)
    for stratum in (event, ~event):
        members = np.flatnonzero(stratum)
        n_val = int(round(fraction * len(members)))
        fold[rng.choice(members, size=n_val, replace=False)] = True
    return patients[~fold], patients[fold]


def validation_folds(patients, event, folds, seed):
    """Assign training patients to ``folds`` folds of (nearly) equal size, stratified by event.

    Fold ``k`` is member ``k``'s validation fold when ``imaging.train.validation`` is
    ``folds``: the members' validation folds partition the training set, so every
    training patient is validated on by one member (a cross-validated fold ensemble).

    Returns
    -------
    ndarray of int
        The fold of each patient, in the order of ``patients``.
    """
    rng = np.random.default_rng([seed, 11])
    event = np.asarray(event, bool)
    fold = np.zeros(len(event), int)
    dealt = 0
    # events first, then censored patients, dealt round-robin in a random order: every
    # fold holds a share of each within one patient
    for stratum in (event, ~event):
        members = rng.permutation(np.flatnonzero(stratum))
        fold[members] = (dealt + np.arange(len(members))) % folds
        dealt += len(members)
    return fold


def fit_and_validation_patients(patients, event, settings: TrainSettings):
    """The fit and validation patients of one network, as ``settings.validation`` says."""
    patients = np.asarray(patients)
    if settings.validation == "folds":
        seed = settings.seed if settings.fold_seed is None else settings.fold_seed
        held = validation_folds(patients, event, settings.folds, seed) == settings.fold
        return patients[~held], patients[held]
    return validation_fold(patients, event, settings.validation_fraction, settings.seed)


def augment_batch(images: torch.Tensor, generator: torch.Generator, *, fixed_channels=(), jitter=0.1):
    """Random horizontal flips, rotations up to 10 degrees and intensity jitter.

    Each image's channels are scaled by 1 + u and shifted by v, u uniform in
    [-jitter, jitter] and v in [-jitter/2, jitter/2] (on the [0, 1] scale). The
    ``fixed_channels`` (the ROI, the context plane) are flipped and rotated but not jittered.
    """
    n = images.shape[0]
    flip = torch.rand(n, generator=generator) < 0.5
    images = torch.where(flip[:, None, None, None], images.flip(-1), images)
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(10.0)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = cos, -sin, sin, cos
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    scale = 1.0 + (torch.rand(n, images.shape[1], 1, 1, generator=generator) * 2 - 1) * jitter
    shift = (torch.rand(n, images.shape[1], 1, 1, generator=generator) * 2 - 1) * (jitter / 2)
    fixed = list(fixed_channels)
    scale[:, fixed] = 1.0
    shift[:, fixed] = 0.0
    return (images * scale + shift).clamp_(0.0, 1.0)


def context_plane(patient, context_mm) -> np.ndarray:
    """1 within ``context_mm`` of the ROI (a square neighbourhood on each slice's pixel
    grid, whose spacing is the slice's box side over the crop size), else 0: (n, S, S)."""
    roi = patient.slices[:, CHANNELS.index("roi")] > 0.5
    boxes = np.asarray(patient.boxes_mm, float)
    if len(boxes) != len(roi) or not (boxes[:, 2] > 0).all():
        raise InputError(
            "slices carry no box sizes to measure imaging.train.context_mm in: preprocess them again",
            patient=patient.patient_id,
        )
    plane = np.empty(roi.shape, np.float16)
    for i, (mask, side_mm) in enumerate(zip(roi, boxes[:, 2], strict=True)):
        radius = int(round(context_mm / (side_mm / mask.shape[-1])))
        plane[i] = ndimage.maximum_filter(mask, size=2 * radius + 1, mode="constant")
    return plane


class SliceData:
    """Every patient's slices of a model's channels, kept on disk and read when needed.

    The slices (float16) are copied once into one uncompressed temporary file (in
    ``directory``, else the system's temporary folder, ``$TMPDIR``); training and
    prediction read a patient's slices back when a batch needs them. Memory holds a
    batch, not the cohort, whatever the cohort's size.

    Parameters
    ----------
    patient_slices : iterable of PatientSlices
        Read one at a time (a generator keeps only one patient in memory).
    channels : sequence of str
    directory : path, optional
    context_mm : float, optional
        When given, each slice also carries a last plane, the context: 1 within
        ``context_mm`` of the ROI, else 0 (:func:`context_plane`). The network does not see
        it; it blanks CT and PET beyond it (``imaging.train.context_mm``).
    """

    def __init__(self, patient_slices, channels, *, directory=None, context_mm=None):
        self.index = channel_indices(channels)
        self.roi_channel = self.index.index(CHANNELS.index("roi")) if "roi" in channels else None
        self.network_channels = len(self.index)
        self.context_mm = context_mm
        self.context_channel = self.network_channels if context_mm is not None else None
        self._store = tempfile.TemporaryFile(dir=directory)  # deleted when closed or collected
        self._where = {}  # patient -> (byte offset, number of slices)
        self._slice_shape, self._dtype = None, None
        offset = 0
        for patient in patient_slices:
            array = patient.slices[:, self.index]
            if context_mm is not None:
                array = np.concatenate([array, context_plane(patient, context_mm)[:, None].astype(array.dtype)], axis=1)
            array = np.ascontiguousarray(array)
            if self._dtype is None:
                self._slice_shape, self._dtype = array.shape[1:], array.dtype
            if array.shape[1:] != self._slice_shape or array.dtype != self._dtype:
                raise InputError(
                    f"slices of {array.shape[1:]} {array.dtype}, other patients' {self._slice_shape} "
                    f"{self._dtype}: preprocess every patient with the same settings",
                    patient=patient.patient_id,
                )
            self._store.write(array.tobytes())
            self._where[patient.patient_id] = (offset, len(array))
            offset += array.nbytes
        self._store.flush()

    @property
    def patients(self) -> list[str]:
        return list(self._where)

    def __contains__(self, patient) -> bool:
        return patient in self._where

    def count(self, patient) -> int:
        """Number of slices of ``patient``."""
        return self._where[patient][1]

    @property
    def fixed_channels(self) -> list[int]:
        """Stored planes that are masks, not intensities: the ROI and the context."""
        return [c for c in (self.roi_channel, self.context_channel) if c is not None]

    def read(self, patient) -> torch.Tensor:
        """All slices of ``patient``, (n_slices, C, S, S), as stored (the context plane last)."""
        offset, count = self._where[patient]
        array = np.empty((count, *self._slice_shape), self._dtype)
        if os.preadv(self._store.fileno(), [memoryview(array).cast("B")], offset) != array.nbytes:
            raise OSError(f"short read of patient {patient}'s slices from {self._store.name}")
        return torch.from_numpy(array)

    def chunks(self, patients, size):
        """The slices of ``patients`` in their order, ``size`` at a time (the last fewer)."""
        pending, held = [], 0
        for patient in patients:
            block = self.read(patient)
            pending.append(block)
            held += len(block)
            while held >= size:
                stacked = torch.cat(pending)
                yield stacked[:size]
                pending, held = [stacked[size:]], len(stacked) - size
        if held:
            yield torch.cat(pending)

    def sample(self, patients, k, rng):
        """k slices per patient (with replacement when a patient has fewer), (P*k, C, S, S)."""
        stacks = []
        for patient in patients:
            count = self.count(patient)
            pick = rng.choice(count, size=k, replace=count < k)
            stacks.append(self.read(patient)[np.sort(pick)])
        return torch.cat(stacks).float()


def aggregate(scores: torch.Tensor, how: str) -> torch.Tensor:
    return scores.mean(dim=-1) if how == "mean" else scores.amax(dim=-1)


def training_fingerprint(settings: TrainSettings, channels, data: SliceData, patients, time_, event) -> str:
    """SHA-256 of everything a network is a function of: what a checkpoint must share to be resumed.

    Covers the settings (all but ``epochs`` and ``patience``, which may grow), the
    channels, the training patients (the split), their outcomes and the slice arrays
    fed to the network, in the order of ``patients``.

    Parameters
    ----------
    settings : TrainSettings
    channels : list of str
    data : SliceData
        Slices of (at least) ``patients``, restricted to ``channels``.
    patients : sequence of str
        Training patients, in a fixed (sorted) order.
    time_, event : mapping patient -> float / int
        Follow-up (months) and event of each training patient.
    """
    fixed = {k: v for k, v in asdict(settings).items() if k not in ("epochs", "patience")}
    patients = [str(patient) for patient in patients]
    header = {
        "architecture": ARCHITECTURE,
        "settings": fixed,
        "channels": list(channels),
        "patients": patients,
        "os_months": [float(time_[patient]) for patient in patients],
        "os_event": [int(event[patient]) for patient in patients],
    }
    digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
    for patient in patients:
        slices = np.ascontiguousarray(data.read(patient).numpy())
        # id, shape and dtype first: equal bytes of another shape are other slices
        digest.update(json.dumps([patient, list(slices.shape), str(slices.dtype)]).encode())
        digest.update(slices)
    return digest.hexdigest()


def save_torch_file(payload, path) -> None:
    """``torch.save`` ``payload`` to ``path`` atomically and byte-reproducibly.

    ``torch.save`` to a path names the archive's root folder after the file, and
    :func:`~survsig.core.io.atomic_path` writes a randomly named temporary file; through a file
    object the root is always ``archive``, so equal payloads give equal bytes.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        torch.save(payload, handle)


class SignatureTrainer:
    """Train one signature network.

    Parameters
    ----------
    channels : list of str
        Channels the model sees, from ``ct``, ``pet``, ``roi``.
    settings : TrainSettings
    checkpoint : path, optional
        Written after every epoch; when it exists and was written for the same slices,
        outcomes, training patients, channels and settings (see
        :func:`training_fingerprint`), training resumes from it. :meth:`discard_checkpoint`
        deletes it once the trained model is saved.

    Attributes
    ----------
    model_ : torch.nn.Module
        The network with the weights of the best validation epoch.
    snapshots_ : list of (int, dict)
        (epoch, state dict) of the ``settings.snapshots`` best validation epochs, best
        first; the first is ``model_``'s.
    history_ : list of dict
        Per epoch: epoch, train_loss, val_loss, val_cindex, seconds, val_cindex_smoothed
        (running mean over ``selection_window`` epochs, what ranks the epochs), kept
        (1 for the best epoch) and snapshot (1 for the epochs of ``snapshots_``).
    best_epoch_ : int
    channel_mean_, channel_sd_ : list of float
        Per channel the network sees, the mean and SD over all slices of the training
        patients (0 and 1 with ``standardise`` off); inputs are standardised by them.
    device_ : torch.device
    """

    def __init__(self, channels, settings: TrainSettings | None = None, *, checkpoint=None, threads=None):
        self.channels = list(channels)
        self.settings = settings or TrainSettings()
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.threads = threads

    # -- evaluation -------------------------------------------------------------------
    def predict_patients(self, data: SliceData, patients, model=None, batch_images=256):
        """Patient-level risk (aggregate of all slice scores) for ``patients``."""
        model = model or self.model_
        model.eval()
        # all slices in fixed-size chunks: few distinct shapes keep the CPU kernels cached
        counts = [data.count(patient) for patient in patients]
        outputs = []
        with torch.no_grad(), self._autocast():
            for chunk in data.chunks(patients, batch_images):
                batch = self._network_input(chunk.float(), data)
                outputs.append(model(batch).float().reshape(-1).cpu())
        slice_scores = torch.cat(outputs).split(counts)
        return np.asarray([aggregate(s, self.settings.aggregate).item() for s in slice_scores])

    def snapshot_scores(self, data: SliceData, patients):
        """Patient-level risk under each snapshot network, shape (snapshots, patients)."""
        network = copy.deepcopy(self.model_)
        scores = []
        for _, state in self.snapshots_:
            network.load_state_dict(state)
            scores.append(self.predict_patients(data, patients, network))
        return np.asarray(scores)

    def _evaluate(self, model, data, patients, outcome):
        risk = self.predict_patients(data, patients, model)
        time_, event = outcome[0][patients], outcome[1][patients]
        loss = cox_partial_nll(
            torch.tensor(risk), torch.tensor(event), torch.tensor(time_), ties=self.settings.ties
        ).item()
        cindex = concordance_index(time_, event, risk)
        return loss, cindex

    # -- training ---------------------------------------------------------------------
    def _autocast(self):
        if self.device_.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)

    def _network_input(self, images, data: SliceData):
        """Stored planes to the network's input: its channels standardised and, with a
        context plane, CT and PET beyond it set to 0 (their training mean); on the device."""
        self._check_context(data)
        channels = data.network_channels
        mean = torch.tensor(self.channel_mean_, dtype=images.dtype)[None, :, None, None]
        sd = torch.tensor(self.channel_sd_, dtype=images.dtype)[None, :, None, None]
        network = (images[:, :channels] - mean) / sd
        if data.context_channel is not None:
            intensities = [c for c in range(channels) if c != data.roi_channel]
            network[:, intensities] *= images[:, data.context_channel, None]
        network = network.to(self.device_, non_blocking=True)
        if self.device_.type == "cpu":
            network = network.contiguous(memory_format=torch.channels_last)
        return network

    def _check_context(self, data: SliceData):
        if data.context_mm != self.settings.context_mm:
            raise InputError(
                f"slices were read with context_mm {data.context_mm!r}, the network was trained with "
                f"imaging.train.context_mm {self.settings.context_mm!r}"
            )

    def _standardisation(self, data: SliceData, patients):
        """Mean and SD of each network channel over all slices of ``patients`` (identity
        when ``standardise`` is off), as lists of floats."""
        channels = data.network_channels
        if not self.settings.standardise:
            return [0.0] * channels, [1.0] * channels
        total, squares, count = np.zeros(channels), np.zeros(channels), 0
        for patient in patients:
            planes = data.read(patient)[:, :channels].double()
            total += planes.sum(dim=(0, 2, 3)).numpy()
            squares += (planes * planes).sum(dim=(0, 2, 3)).numpy()
            count += planes.shape[0] * planes.shape[2] * planes.shape[3]
        mean = total / count
        sd = np.sqrt(np.maximum(squares / count - mean * mean, 0.0))
        # a constant channel carries nothing to scale up: leave its spread as it is
        sd = np.where(sd > 1e-6, sd, 1.0)
        return [float(v) for v in mean], [float(v) for v in sd]

    def _epoch(self, model, optimizer, data, patients, outcome, epoch):
        s = self.settings
        rng = np.random.default_rng([s.seed, 1, epoch])
        generator = torch.Generator().manual_seed(s.seed * 1000 + epoch)
        torch.manual_seed(s.seed * 1000 + epoch)  # dropout and drop-path inside the network
        time_, event = outcome
        batches = event_balanced_batches(
            patients, event[patients], batch_patients=s.batch_patients, min_events=s.min_events_per_batch, rng=rng
        )
        model.train()
        losses = []
        for batch in batches:
            images = data.sample(batch, s.slices_per_patient, rng)
            if s.augment:
                images = augment_batch(images, generator, fixed_channels=data.fixed_channels, jitter=s.intensity_jitter)
            images = self._network_input(images, data)
            with self._autocast():
                scores = model(images).float().reshape(len(batch), s.slices_per_patient)
            risk = aggregate(scores, s.aggregate)
            loss = cox_partial_nll(
                risk,
                torch.as_tensor(event[batch], device=risk.device),
                torch.as_tensor(time_[batch], device=risk.device, dtype=risk.dtype),
                ties=s.ties,
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            # from-scratch networks give large early gradients; clipping keeps steps sane
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=s.max_grad_norm)
            optimizer.step()
            losses.append(loss.item())
        return float(np.mean(losses))

    def fit(self, data: SliceData, train_patients, time_, event):
        """Train on ``train_patients`` (validation fold drawn from them).

        Parameters
        ----------
        data : SliceData
        train_patients : sequence of str
        time_, event : mapping patient -> float / int
            Follow-up (months) and event (1 = death) per patient.
        """
        s = self.settings
        if self.threads:
            torch.set_num_threads(int(self.threads))
        self.device_ = select_device(s.device)
        train_patients = np.asarray(sorted(train_patients))
        outcome = (
            {p: float(time_[p]) for p in train_patients},
            {p: int(event[p]) for p in train_patients},
        )
        outcome = (_Lookup(outcome[0]), _Lookup(outcome[1]))
        fit_patients, val_patients = fit_and_validation_patients(train_patients, outcome[1][train_patients], s)
        if not outcome[1][fit_patients].any():
            raise InputError("the training fold holds no event: a Cox loss cannot be trained")

        self._check_context(data)
        # over the whole training set (validation fold included): no outcome enters them
        self.channel_mean_, self.channel_sd_ = self._standardisation(data, train_patients)
        torch.manual_seed(s.seed)
        model = create_model(len(self.channels), s.init, drop_rate=s.drop_rate, drop_path_rate=s.drop_path_rate).to(
            self.device_
        )
        if self.device_.type == "cpu":
            model = model.to(memory_format=torch.channels_last)
        optimizer = torch.optim.AdamW(model.parameters(), lr=s.learning_rate, weight_decay=s.weight_decay)
        fingerprint = training_fingerprint(s, self.channels, data, train_patients.tolist(), *outcome)
        # the best epochs so far, best first: {"epoch", "score", "state"}
        start_epoch, history, snapshots = 1, [], []
        if self.checkpoint is not None:
            remove_stale_temp_files(self.checkpoint)  # left by a training killed mid-write
        state = self._load_checkpoint(fingerprint)
        if state is not None:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            history, snapshots = state["history"], state["snapshots"]
            start_epoch = state["epoch"] + 1
            log.info("resuming from %s after epoch %d", self.checkpoint, state["epoch"])

        log.info(
            "training %s on %s: %d fit / %d validation patients, %d events in fit",
            "+".join(self.channels),
            self.device_,
            len(fit_patients),
            len(val_patients),
            int(outcome[1][fit_patients].sum()),
        )
        for epoch in range(start_epoch, s.epochs + 1):
            if snapshots and epoch - snapshots[0]["epoch"] > s.patience:
                break
            started = time.perf_counter()
            for group in optimizer.param_groups:
                group["lr"] = self.learning_rate(epoch)
            train_loss = self._epoch(model, optimizer, data, fit_patients, outcome, epoch)
            val_loss, val_cindex = (
                self._evaluate(model, data, val_patients, outcome) if len(val_patients) else (np.nan, np.nan)
            )
            seconds = time.perf_counter() - started
            # plain Python numbers: numpy scalars would keep the checkpoint from loading
            # with weights_only=True
            history.append(
                {
                    "epoch": int(epoch),
                    "train_loss": float(train_loss),
                    "val_loss": float(val_loss),
                    "val_cindex": float(val_cindex),
                    "seconds": float(seconds),
                }
            )
            # rank epochs by validation C-index averaged over the last few epochs (a
            # 50-patient C-index is noisy); validation loss breaks ties, then the earlier epoch
            recent = [h["val_cindex"] for h in history[-s.selection_window :]]
            smoothed = float(np.mean(recent)) if np.all(np.isfinite(recent)) else np.nan
            score = (float(smoothed if np.isfinite(smoothed) else -val_loss), float(-val_loss))
            if len(snapshots) < s.snapshots or score > snapshots[-1]["score"]:
                snapshots.append({"epoch": epoch, "score": score, "state": copy.deepcopy(model.state_dict())})
                snapshots.sort(key=lambda snapshot: snapshot["score"], reverse=True)  # stable
                del snapshots[s.snapshots :]
            history[-1]["val_cindex_smoothed"] = smoothed
            log.info(
                "epoch %3d/%d  loss %.4f  val loss %.4f  val C-index %.3f (mean of last %d: %.3f)  %.1f s%s",
                epoch,
                s.epochs,
                train_loss,
                val_loss,
                val_cindex,
                len(recent),
                smoothed,
                seconds,
                "  *" if snapshots[0]["epoch"] == epoch else "",
            )
            self._save_checkpoint(fingerprint, epoch, model, optimizer, history, snapshots)
        model.load_state_dict(snapshots[0]["state"])
        snapshot_epochs = {snapshot["epoch"] for snapshot in snapshots}
        for entry in history:
            entry["kept"] = int(entry["epoch"] == snapshots[0]["epoch"])
            entry["snapshot"] = int(entry["epoch"] in snapshot_epochs)
        log.info("kept epoch %d; snapshots of epochs %s", snapshots[0]["epoch"], sorted(snapshot_epochs))
        self.model_ = model
        self.snapshots_ = [(snapshot["epoch"], snapshot["state"]) for snapshot in snapshots]
        self.history_ = history
        self.best_epoch_ = snapshots[0]["epoch"]
        return self

    def learning_rate(self, epoch):
        """Learning rate of an epoch: constant, or cosine decay from the set rate to 1% of it.

        A function of the epoch alone, so a resumed training follows the same schedule.
        """
        s = self.settings
        if s.lr_schedule == "constant":
            return s.learning_rate
        progress = (epoch - 1) / max(1, s.epochs - 1)
        return s.learning_rate * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress)))

    # -- checkpoints ------------------------------------------------------------------
    def _save_checkpoint(self, fingerprint, epoch, model, optimizer, history, snapshots):
        if self.checkpoint is None:
            return
        save_torch_file(
            {
                "fingerprint": fingerprint,
                "epoch": epoch,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "history": history,
                "snapshots": snapshots,
            },
            self.checkpoint,
        )

    def _load_checkpoint(self, fingerprint):
        """The checkpoint's state if it is of this training, else None (start afresh)."""
        if self.checkpoint is None or not self.checkpoint.is_file():
            return None
        try:
            state = load_weights_file(self.checkpoint, map_location=self.device_, what="checkpoint")
        except InputError as err:  # cut off mid-write, or crafted: its code never ran
            log.warning("ignoring checkpoint (training starts afresh): %s", err)
            return None
        if not isinstance(state, dict) or any(key not in state for key in CHECKPOINT_KEYS):
            log.warning("ignoring checkpoint %s of another format (training starts afresh)", self.checkpoint)
            return None
        if state["fingerprint"] != fingerprint:
            log.info(
                "checkpoint %s is of other slices, outcomes, split, channels or settings: starting afresh",
                self.checkpoint,
            )
            return None
        return state

    def discard_checkpoint(self):
        """Delete the checkpoint (and temporary files a killed write left beside it).

        Call it once the trained model is saved: until then a killed run can resume.
        """
        if self.checkpoint is None:
            return
        remove_stale_temp_files(self.checkpoint)
        if self.checkpoint.is_file():
            self.checkpoint.unlink()
            log.info("removed checkpoint %s", self.checkpoint)

    # -- model files ------------------------------------------------------------------
    def save(self, path):
        """Save the trained weights with what is needed to use them.

        The file holds tensors and plain Python data only (it loads with
        ``weights_only=True``) and equal trainings give byte-identical files.
        """
        remove_stale_temp_files(path)  # left by a save killed mid-write
        save_torch_file(
            {
                "architecture": ARCHITECTURE,
                "channels": list(self.channels),
                "settings": asdict(self.settings),
                "best_epoch": int(self.best_epoch_),
                "standardisation": {"mean": list(self.channel_mean_), "sd": list(self.channel_sd_)},
                # best first: the kept network, then the other snapshots
                "snapshots": [
                    {"epoch": int(epoch), "state_dict": {k: v.cpu() for k, v in state.items()}}
                    for epoch, state in self.snapshots_
                ],
            },
            path,
        )

    @classmethod
    def load(cls, path, *, device="auto"):
        """Read a model file written by :meth:`save`.

        Raises
        ------
        InputError
            When the file cannot be read, holds anything but tensors and plain data (it
            is refused unread, so none of its code runs), or is not a model of
            :meth:`save`: keys, architecture, channels, settings or snapshot weights.
        """
        saved = read_model_file(path)
        trainer = cls(saved["channels"], saved["settings"])
        trainer.device_ = select_device(device if device != "auto" else trainer.settings.device)
        # scratch whatever the saved init: the saved state dict overwrites every weight,
        # so the ImageNet file is neither read nor needed to use a trained model
        model = create_model(len(trainer.channels))
        model.load_state_dict(saved["snapshots"][0]["state_dict"])
        model = model.to(trainer.device_)
        if trainer.device_.type == "cpu":
            model = model.to(memory_format=torch.channels_last)
        trainer.model_ = model
        trainer.snapshots_ = [(snapshot["epoch"], snapshot["state_dict"]) for snapshot in saved["snapshots"]]
        trainer.best_epoch_ = saved["best_epoch"]
        trainer.channel_mean_ = saved["standardisation"]["mean"]
        trainer.channel_sd_ = saved["standardisation"]["sd"]
        return trainer


def load_weights_file(path, *, map_location, what):
    """``torch.load`` with ``weights_only=True``: tensors and plain data, never code.

    Parameters
    ----------
    path : path
    map_location : str or torch.device
    what : str
        What the file is, for the message (``"model file"``, ``"checkpoint"``).

    Raises
    ------
    InputError
        Naming the file, when it is unreadable or holds other Python objects (refused
        before any of them is built).
    """
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises RuntimeError, OSError, EOFError, ...
        text = str(err)
        # torch names the first function or class the restricted unpickler would not build
        forbidden = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        if forbidden:
            raise InputError(
                f"refused: the {what} holds Python objects other than weights and plain data "
                f"(here {forbidden.group(1)}; loading it could run code); it was not written by this workflow",
                file=path,
            ) from None
        detail = re.search(r"WeightsUnpickler error:\s*(.+)", text)
        reason = detail.group(1) if detail else (text.splitlines()[0] if text else type(err).__name__)
        raise InputError(f"cannot read {what} (cut short, or not a PyTorch file): {reason}", file=path) from None


def read_model_file(path) -> dict:
    """Load and check a model file of :meth:`SignatureTrainer.save`.

    Returns
    -------
    dict
        The file's content, with ``settings`` as :class:`TrainSettings`.

    Raises
    ------
    InputError
        One per problem, naming the file: unreadable, not plain weights (refused
        without running its code), missing keys, another architecture, channels that
        are not a list of known channel names, invalid settings, no snapshots, or
        snapshot weights that do not fit the network.
    """
    saved = load_weights_file(path, map_location="cpu", what="model file")
    if not isinstance(saved, dict):
        raise InputError(f"not a model file: it holds a {type(saved).__name__}, not a dict", file=path)
    missing = [key for key in MODEL_KEYS if key not in saved]
    if missing:
        raise InputError(f"model file lacks key(s) {', '.join(missing)}", file=path)
    if saved["architecture"] != ARCHITECTURE:
        raise InputError(f"model architecture is {saved['architecture']!r}, expected {ARCHITECTURE!r}", file=path)
    channels = saved["channels"]
    if (
        not isinstance(channels, list)
        or not channels
        or not all(isinstance(c, str) and c in CHANNELS for c in channels)
        or len(set(channels)) != len(channels)
    ):
        raise InputError(
            f"model channels must be a list of distinct channel names from {', '.join(CHANNELS)}, got {channels!r}",
            file=path,
        )
    try:
        if not isinstance(saved["settings"], dict):
            raise TypeError(f"a {type(saved['settings']).__name__}, not a dict")
        settings = TrainSettings.from_config(saved["settings"])
    except (InputError, TypeError, ValueError) as err:
        reason = err.reason if isinstance(err, InputError) else str(err)
        raise InputError(f"model settings are not valid: {reason}", file=path) from None
    if not isinstance(saved["best_epoch"], int) or isinstance(saved["best_epoch"], bool):
        raise InputError(f"model best_epoch must be an integer, got {saved['best_epoch']!r}", file=path)
    snapshots = saved["snapshots"]
    if not isinstance(snapshots, list) or not snapshots:
        raise InputError("model file holds no snapshot network", file=path)
    expected = create_model(len(channels)).state_dict()
    for number, snapshot in enumerate(snapshots):
        problem = _snapshot_problem(snapshot, expected)
        if problem:
            raise InputError(
                f"snapshot {number} does not fit {ARCHITECTURE} with {len(channels)} input channel(s): {problem}",
                file=path,
            )
    standardisation = saved["standardisation"]
    if not (
        isinstance(standardisation, dict)
        and all(
            isinstance(standardisation.get(key), list)
            and len(standardisation[key]) == len(channels)
            and all(isinstance(v, float) and math.isfinite(v) for v in standardisation[key])
            for key in ("mean", "sd")
        )
        and all(v > 0 for v in standardisation["sd"])
    ):
        raise InputError(
            f"model standardisation must hold a finite mean and a positive sd per channel, got {standardisation!r}",
            file=path,
        )
    return {**saved, "settings": settings}


def _snapshot_problem(snapshot, expected) -> str | None:
    """What keeps ``snapshot`` (``{"epoch", "state_dict"}``) from loading into a network
    whose state dict is ``expected``; None when it fits."""
    if not isinstance(snapshot, dict) or not isinstance(snapshot.get("state_dict"), dict):
        return "it has no state_dict"
    if not isinstance(snapshot.get("epoch"), int) or isinstance(snapshot.get("epoch"), bool):
        return f"its epoch is {snapshot.get('epoch')!r}, not an integer"
    state = snapshot["state_dict"]
    missing = [key for key in expected if key not in state]
    if missing:
        return f"{len(missing)} weight(s) missing, first {missing[0]!r}"
    unexpected = [key for key in state if key not in expected]
    if unexpected:
        return f"{len(unexpected)} unexpected weight(s), first {unexpected[0]!r}"
    for key, reference in expected.items():
        value = state[key]
        if not isinstance(value, torch.Tensor):
            return f"{key!r} is a {type(value).__name__}, not a tensor"
        if value.shape != reference.shape:
            return f"{key!r} has shape {tuple(value.shape)}, expected {tuple(reference.shape)}"
    return None


class _Lookup:
    """A patient -> value mapping indexable by arrays of patient ids."""

    def __init__(self, mapping):
        self.mapping = mapping

    def __getitem__(self, patients):
        if isinstance(patients, str):
            return self.mapping[patients]
        return np.asarray([self.mapping[p] for p in patients])


def kept_epoch(history):
    """The epoch whose weights were kept (``kept`` = 1 in the history), or None."""
    kept = [h["epoch"] for h in history if h.get("kept") == 1]
    return kept[0] if kept else None


@styled()
def plot_training_curves(history, *, title, best_epoch=None, ax=None, legend=True, kept_label=None):
    """Training and validation loss and validation C-index per epoch (two axes).

    ``best_epoch`` (the epoch whose weights were kept) is marked with a dotted line,
    labelled ``kept_label`` (default: "kept epoch (N)"); the snapshot epochs (``snapshot``
    = 1 in the history) are circled on the validation C-index.
    """
    if ax is None:
        ax = new_figure(7.0, 4.5).add_subplot()
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [h["train_loss"] for h in history], "-o", ms=3, label="training loss")
    # the validation loss ranks the whole fold at once, so it sits higher than batch losses
    ax.plot(epochs, [h["val_loss"] for h in history], "-o", ms=3, label="validation loss (whole fold)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("negative Cox partial log-likelihood per event")
    right = ax.twinx()
    right.plot(epochs, [h["val_cindex"] for h in history], "-s", ms=3, color="tab:green", label="validation C-index")
    smoothed = [h.get("val_cindex_smoothed", np.nan) for h in history]
    right.plot(epochs, smoothed, "--", color="darkgreen", lw=1.2, label="validation C-index, running mean")
    snapshots = [h for h in history if h.get("snapshot") == 1]
    if len(snapshots) > 1:
        right.plot(
            [h["epoch"] for h in snapshots],
            [h["val_cindex"] for h in snapshots],
            "o",
            ms=8,
            mfc="none",
            mec="black",
            label="snapshot epochs (averaged)",
        )
    right.set_ylabel("validation C-index")
    right.set_ylim(0.3, 1.0)
    if best_epoch is not None:
        right.axvline(best_epoch, color="grey", ls=":", lw=1, label=kept_label or f"kept epoch ({best_epoch})")
    lines = ax.get_lines() + right.get_lines()
    if legend:
        ax.legend(
            lines,
            [line.get_label() for line in lines],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.14),
            ncol=3,
            fontsize=8,
            frameon=False,
        )
        ax.figure.subplots_adjust(bottom=0.25, right=0.88)
    ax.set_title(title)
    return ax


@styled()
def plot_member_training_curves(histories, *, title):
    """Training curves of every member of a model, one panel each (legend below the last).

    Parameters
    ----------
    histories : list of list of dict
        Per member, its history rows (``kept`` = 1 marks the kept epoch).
    """
    if len(histories) == 1:
        return plot_training_curves(histories[0], title=title, best_epoch=kept_epoch(histories[0])).figure
    height = 3.0 * len(histories) + 1.2
    fig = new_figure(7.0, height)
    axes = fig.subplots(len(histories), 1, sharex=True)
    for member, (history, ax) in enumerate(zip(histories, axes)):
        kept = kept_epoch(history)
        plot_training_curves(
            history,
            title=f"member {member}" + (f", kept epoch {kept}" if kept else ""),
            best_epoch=kept,
            ax=ax,
            legend=member == len(histories) - 1,
            kept_label="kept epoch (in each title)",
        )
        ax.set_ylabel("")
        if member < len(histories) - 1:
            ax.set_xlabel("")
    # one label for the shared quantity: the full text does not fit beside a short panel
    fig.supylabel("negative Cox partial log-likelihood per event", fontsize=10)
    fig.suptitle(title)
    fig.subplots_adjust(bottom=1.2 / height, top=1 - 0.85 / height, left=0.12, right=0.88, hspace=0.35)
    return fig


def load_slice_data(slice_files, channels, *, context_mm=None) -> SliceData:
    """The preprocessed ``.npz`` files of a cohort, for a model's channels (and the context
    plane of ``context_mm``), one file at a time."""
    from survsig.imaging.slices import load_patient_slices

    return SliceData((load_patient_slices(path) for path in slice_files), channels, context_mm=context_mm)


def train_signature_model(
    slice_files, clinical, split, channels, settings: TrainSettings, *, checkpoint=None, threads=None, model_name=None
):
    """Train one model on the training patients of ``split``.

    Parameters
    ----------
    slice_files : sequence of path
        Preprocessed slices, one file per patient.
    clinical : pandas.DataFrame
        Validated clinical sheet (``patient_id``, ``os_months``, ``os_event``).
    split : pandas.DataFrame
        ``patient_id``, ``split``; only ``train`` patients are used.
    """
    channel_indices(channels, model=model_name)
    data = load_slice_data(slice_files, channels, context_mm=settings.context_mm)
    train_patients = split.loc[split["split"] == "train", "patient_id"].astype(str)
    missing = sorted(set(train_patients) - set(data.patients))
    if missing:
        raise InputError("training patient has no preprocessed slices", patient=missing[0])
    outcome = clinical.set_index(clinical["patient_id"].astype(str))
    trainer = SignatureTrainer(channels, settings, checkpoint=checkpoint, threads=threads)
    return trainer.fit(data, train_patients.tolist(), outcome["os_months"], outcome["os_event"])
