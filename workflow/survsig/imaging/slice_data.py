"""The slices the signature networks see, and their augmentation in training.

Every patient's preprocessed ROI slices of a model's channels are kept in one temporary
file and read a batch at a time (:class:`SliceData`), optionally with a last plane, the
context: 1 near the ROI, else 0, so that the network sees CT and PET only near the ROI
(``imaging.train.context_mm``). In training, batches are flipped, rotated and their
intensities jittered (:func:`augment_batch`); :func:`network_input` turns stored planes
into what the network sees.
"""

from __future__ import annotations

import math
import os
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from survsig.core.errors import InputError
from survsig.imaging.network import channel_indices
from survsig.imaging.slices import CHANNELS


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


def network_input(images, data: SliceData, mean, sd, device):
    """Stored planes to the network's input: its channels standardised by ``mean`` and
    ``sd`` (one float per network channel) and, with a context plane, CT and PET beyond it
    set to 0 (their training mean); on ``device``, channels-last on the CPU."""
    channels = data.network_channels
    mean = torch.tensor(mean, dtype=images.dtype)[None, :, None, None]
    sd = torch.tensor(sd, dtype=images.dtype)[None, :, None, None]
    network = (images[:, :channels] - mean) / sd
    if data.context_channel is not None:
        intensities = [c for c in range(channels) if c != data.roi_channel]
        network[:, intensities] *= images[:, data.context_channel, None]
    network = network.to(device, non_blocking=True)
    if device.type == "cpu":
        network = network.contiguous(memory_format=torch.channels_last)
    return network


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


def load_slice_data(slice_files, channels, *, context_mm=None) -> SliceData:
    """The preprocessed ``.npz`` files of a cohort, for a model's channels (and the context
    plane of ``context_mm``), one file at a time."""
    from survsig.imaging.slices import load_patient_slices

    return SliceData((load_patient_slices(path) for path in slice_files), channels, context_mm=context_mm)
