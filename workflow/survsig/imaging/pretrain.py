"""Self-supervised pretraining of the signature network on a cohort's own ROI slices.

Before the Cox fine-tuning (:mod:`survsig.imaging.train`) the network can learn, from
the slices alone and without any outcome, what tells one tumour from another
(``imaging.pretrain``). The method ``contrastive`` is SimCLR with patient-level
positives: two different slices of the same patient, each augmented, are a positive
pair and the other patients' slices of the batch the negatives, under the NT-Xent loss
on a projection of the network's pooled features. The pair shares the tumour (its size,
texture and uptake) but not the slice's position in it, so the features learn what is
constant across a tumour rather than where a slice lies. The projection head is
discarded; the network's weights without its one-output head are saved
(:func:`save_pretrained`) and loaded into the network the fine-tuning starts from
(:func:`load_pretrained`, :func:`apply_pretrained`). No outcome can enter: the
pretraining takes none. Randomness of an epoch derives from (seed, epoch) alone, so
equal inputs give byte-identical weights.
"""

from __future__ import annotations

import logging
import math
import numbers
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from survsig.core import columns as col
from survsig.core.errors import InputError
from survsig.core.io import remove_stale_temp_files
from survsig.imaging.model_files import read_network_file, save_torch_file, state_problem
from survsig.imaging.network import ARCHITECTURE, channel_indices, create_model, select_device
from survsig.imaging.slice_data import SliceData, augment_batch, network_input

log = logging.getLogger(__name__)

#: Pretraining methods (``imaging.pretrain.method``).
PRETRAIN_METHODS = ("none", "contrastive")
#: Which patients' slices the pretraining sees (``imaging.pretrain.patients``).
PRETRAIN_PATIENTS = ("all", "train")
#: Keys of a pretrained network file.
PRETRAINED_KEYS = ("architecture", "channels", "settings", "history", "state_dict")
#: Intensity jitter of the views (as ``imaging.train.intensity_jitter``'s default).
VIEW_JITTER = 0.1
#: Largest gradient norm of a step: from-scratch networks give large early gradients.
MAX_GRAD_NORM = 1.0


@dataclass
class PretrainSettings:
    """Settings of the self-supervised pretraining (``imaging.pretrain`` in the config).

    Attributes
    ----------
    method : {"none", "contrastive"}
        ``none``: no pretraining; ``contrastive``: SimCLR with two slices of a patient as
        the positive pair.
    epochs : int
    batch_patients : int
        Patients per batch, each giving two views.
    learning_rate, weight_decay : float
        Of AdamW; the rate decays along a cosine over the epochs.
    temperature : float
        Of the NT-Xent loss.
    projection_dim : int
        Output size of the projection head (discarded after pretraining).
    patients : {"all", "train"}
        Whose slices the caller passes: every patient's (no outcome is used) or the
        training patients' only.
    seed : int
    """

    method: str = "none"
    epochs: int = 30
    batch_patients: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    temperature: float = 0.2
    projection_dim: int = 64
    patients: str = "all"
    seed: int = 2022

    @classmethod
    def from_config(cls, block) -> PretrainSettings:
        """Settings from the config block (unknown keys are ignored), each checked.

        Raises
        ------
        InputError
            Naming ``imaging.pretrain.<key>`` of the first invalid value.
        """
        known = {k: v for k, v in dict(block or {}).items() if k in cls.__dataclass_fields__}
        settings = cls(**known)
        if settings.method not in PRETRAIN_METHODS:
            raise InputError(
                f"imaging.pretrain.method must be one of {', '.join(PRETRAIN_METHODS)}, got {settings.method!r}"
            )
        if settings.patients not in PRETRAIN_PATIENTS:
            raise InputError(
                f"imaging.pretrain.patients must be 'all' or 'train', got {settings.patients!r}"
                " (no outcome is used, so 'all' may include the test patients' slices)"
            )
        for key, least in (("epochs", 1), ("batch_patients", 2), ("projection_dim", 1)):
            value = getattr(settings, key)
            if not _is_integer(value) or value < least:
                raise InputError(f"imaging.pretrain.{key} must be an integer of at least {least}, got {value!r}")
        if not _is_integer(settings.seed):
            raise InputError(f"imaging.pretrain.seed must be an integer, got {settings.seed!r}")
        for key in ("learning_rate", "temperature"):
            value = getattr(settings, key)
            if not _is_number(value) or not 0 < value < math.inf:
                raise InputError(f"imaging.pretrain.{key} must be a positive number, got {value!r}")
        if not _is_number(settings.weight_decay) or not 0 <= settings.weight_decay < math.inf:
            raise InputError(f"imaging.pretrain.weight_decay must be a number >= 0, got {settings.weight_decay!r}")
        return settings


def _is_integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _head_keys(model) -> set[str]:
    """State-dict keys of the network's classifier (its one-output head)."""
    head = model.get_classifier()
    for name, module in model.named_modules():
        if module is head:
            return {f"{name}.{key}" for key in head.state_dict()}
    raise RuntimeError("the network's classifier is not one of its modules")


def learning_rate(settings: PretrainSettings, epoch: int) -> float:
    """Cosine decay from the set rate to 1% of it over the epochs (a function of the epoch alone)."""
    progress = (epoch - 1) / max(1, settings.epochs - 1)
    return settings.learning_rate * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def nt_xent(projections: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent loss of 2B projections, rows i and i + B being the two views of one patient.

    Cross-entropy over each row's cosine similarities to the other 2B - 1 rows (divided
    by ``temperature``), the other view of its patient being the right class.
    """
    views = projections.shape[0] // 2
    z = F.normalize(projections.float(), dim=1)
    similarity = z @ z.T / temperature
    # a view is not its own candidate
    similarity = similarity.masked_fill(torch.eye(2 * views, dtype=torch.bool, device=z.device), float("-inf"))
    positive = torch.cat([torch.arange(views, 2 * views), torch.arange(views)]).to(z.device)
    return F.cross_entropy(similarity, positive)


def _pretraining_patients(data: SliceData, patients) -> list[str]:
    """``patients`` sorted, each checked to be in ``data``; those without slices dropped."""
    patients = sorted({str(p) for p in patients})
    for patient in patients:
        if patient not in data:
            raise InputError("patient to pretrain on has no preprocessed slices", patient=patient)
    with_slices = [p for p in patients if data.count(p) > 0]
    if len(with_slices) < 2:
        raise InputError(
            f"contrastive pretraining needs at least 2 patients with slices, got {len(with_slices)} "
            "(imaging.pretrain.patients)"
        )
    return with_slices


def _two_views(data: SliceData, batch, rng) -> torch.Tensor:
    """Two different slices of each patient of ``batch`` (the same twice when it has one):
    (2B, C, S, S), first views then second views in the batch's order."""
    first, second = [], []
    for patient in batch:
        count = data.count(patient)
        pick = rng.choice(count, size=2, replace=False) if count >= 2 else np.zeros(2, dtype=int)
        slices = data.read(patient)[pick]
        first.append(slices[0])
        second.append(slices[1])
    return torch.stack(first + second).float()


def pretraining_patients(split, settings: PretrainSettings) -> list[str]:
    """The patients of ``split`` whose slices the pretraining sees: all, or with
    ``patients: train`` the training patients (``split`` holds no outcome)."""
    patients = split[col.PATIENT_ID].astype(str)
    if settings.patients == "train":
        patients = patients[split[col.SPLIT] == "train"]
    return patients.tolist()


def pretrain_network(
    data: SliceData, patients, channels, settings: PretrainSettings, *, init="imagenet", threads=None, device="auto"
) -> tuple[dict, list[dict]]:
    """Contrastive pretraining of the signature network on the slices of ``patients``.

    Parameters
    ----------
    data : SliceData
        Slices of (at least) ``patients``, restricted to ``channels``; only those of
        ``patients`` are read.
    patients : sequence of str
    channels : list of str
        Channels the network sees (as the model's ``imaging.models`` entry).
    settings : PretrainSettings
    init : {"imagenet", "scratch"}
        Where the network starts (:func:`~survsig.imaging.network.create_model`).
    threads : int, optional
        CPU threads of torch.
    device : str
        ``auto`` (CUDA when present), ``cpu`` or ``cuda``.

    Returns
    -------
    state : dict
        State dict of the network without its head (classifier) keys, on the CPU.
    history : list of dict
        Per epoch: ``epoch``, ``loss`` (mean NT-Xent over the batches), ``seconds``.

    Raises
    ------
    InputError
        When the method is not ``contrastive``, a patient has no slices in ``data``, fewer
        than 2 patients have slices, or the channels do not match the slices'.
    """
    s = settings
    if s.method != "contrastive":
        raise InputError(f"imaging.pretrain.method is {s.method!r}: there is no pretraining to run")
    channels = list(channels)
    channel_indices(channels)
    if len(channels) != data.network_channels:
        raise InputError(
            f"pretraining on channels {'+'.join(channels)}, but the slices hold {data.network_channels} channel(s)"
        )
    patients = _pretraining_patients(data, patients)
    if threads:
        torch.set_num_threads(int(threads))
    device = select_device(device)
    torch.manual_seed(s.seed)
    model = create_model(len(channels), init).to(device)
    projection = torch.nn.Sequential(
        torch.nn.Linear(model.num_features, model.num_features),
        torch.nn.ReLU(),
        torch.nn.Linear(model.num_features, s.projection_dim),
    ).to(device)
    if device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)
    parameters = [*model.parameters(), *projection.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=s.learning_rate, weight_decay=s.weight_decay)
    # the views are not standardised: the fine-tuning's standardisation is of its training patients
    mean, sd = [0.0] * data.network_channels, [1.0] * data.network_channels
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    )
    log.info(
        "contrastive pretraining of %s on %s: %d patients, %d epochs",
        "+".join(channels),
        device,
        len(patients),
        s.epochs,
    )
    history = []
    model.train()
    projection.train()
    for epoch in range(1, s.epochs + 1):
        started = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(s, epoch)
        rng = np.random.default_rng([s.seed, 2, epoch])
        generator = torch.Generator().manual_seed(s.seed * 1000 + epoch)
        torch.manual_seed(s.seed * 1000 + epoch)
        order = [patients[i] for i in rng.permutation(len(patients))]
        batches = [order[i : i + s.batch_patients] for i in range(0, len(order), s.batch_patients)]
        # one patient alone has no negative to tell it from
        batches = [batch for batch in batches if len(batch) >= 2]
        losses = []
        for batch in batches:
            images = _two_views(data, batch, rng)
            images = augment_batch(images, generator, fixed_channels=data.fixed_channels, jitter=VIEW_JITTER)
            images = network_input(images, data, mean, sd, device)
            with autocast:
                embedding = model.forward_head(model.forward_features(images), pre_logits=True)
                projected = projection(embedding)
            loss = nt_xent(projected, s.temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, max_norm=MAX_GRAD_NORM)
            optimizer.step()
            losses.append(loss.item())
        seconds = time.perf_counter() - started
        # plain Python numbers: the history is saved in a weights-only file
        history.append({"epoch": int(epoch), "loss": float(np.mean(losses)), "seconds": float(seconds)})
        log.info("pretraining epoch %3d/%d  loss %.4f  %.1f s", epoch, s.epochs, history[-1]["loss"], seconds)
    head = _head_keys(model)
    # contiguous CPU copies: the saved weights do not depend on the device or memory format
    state = {
        key: value.detach().to("cpu").clone(memory_format=torch.contiguous_format)
        for key, value in model.state_dict().items()
        if key not in head
    }
    return state, history


def save_pretrained(path, state, channels, settings: PretrainSettings, history) -> None:
    """Save the pretrained weights (without the head) with their channels, settings and history.

    Tensors and plain Python data only (the file loads with ``weights_only=True``);
    equal pretrainings give byte-identical files.
    """
    remove_stale_temp_files(path)  # left by a save killed mid-write
    save_torch_file(
        {
            "architecture": ARCHITECTURE,
            "channels": list(channels),
            "settings": asdict(settings),
            "history": [
                {"epoch": int(h["epoch"]), "loss": float(h["loss"]), "seconds": float(h["seconds"])} for h in history
            ],
            "state_dict": {key: value.detach().cpu() for key, value in state.items()},
        },
        path,
    )


def load_pretrained(path, channels) -> dict:
    """The state dict of a file of :func:`save_pretrained`, checked for the network of ``channels``.

    Raises
    ------
    InputError
        Naming the file: unreadable or not plain weights (refused without running its
        code), missing keys, another architecture, other channels than ``channels``, or
        weights that do not fit the network.
    """
    saved = read_network_file(path, PRETRAINED_KEYS, what="pretrained network file", name="pretrained")
    if saved["channels"] != list(channels):
        raise InputError(
            f"pretrained on channels {saved['channels']!r}, the model sees {list(channels)!r}: "
            "pretrain again for these channels",
            file=path,
        )
    state = saved["state_dict"]
    if not isinstance(state, dict):
        raise InputError("pretrained network file holds no state dict", file=path)
    problem = _state_problem(create_model(len(channels)), state)
    if problem:
        raise InputError(
            f"pretrained weights do not fit {ARCHITECTURE} with {len(channels)} input channel(s): {problem}", file=path
        )
    return state


def _state_problem(model, state) -> str | None:
    """What keeps ``state`` from loading into every non-head weight of ``model``; None when it fits."""
    return state_problem(state, model.state_dict(), ignored=_head_keys(model))


def apply_pretrained(model, state) -> None:
    """Load pretrained weights into a network of :func:`~survsig.imaging.network.create_model`.

    Every weight but the head's must be in ``state`` with the network's shape; the head
    (one output, the log hazard) keeps the network's own values, as does any head
    weight ``state`` holds.

    Raises
    ------
    InputError
        When a weight is missing, unexpected, not a tensor or of another shape.
    """
    problem = _state_problem(model, state)
    if problem:
        raise InputError(f"pretrained weights do not fit the network: {problem}")
    head = _head_keys(model)
    merged = {key: value for key, value in model.state_dict().items() if key in head}
    merged.update({key: value for key, value in state.items() if key not in head})
    model.load_state_dict(merged, strict=True)
