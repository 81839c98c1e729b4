"""The files of the signature networks: the trained model (``model.pt``) and the checkpoint.

Both are written atomically and byte-reproducibly (:func:`save_torch_file`). They are
read with ``torch.load(..., weights_only=True)`` (:func:`load_weights_file`): they hold
tensors and plain Python data only, so loading a crafted file never runs its code. A
model file is checked before use (:func:`read_model_file`); a checkpoint is resumed only
when everything the network is a function of (slices, outcomes, split, channels,
settings: :func:`training_fingerprint`) is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict

import numpy as np
import torch

from survsig.core.errors import InputError
from survsig.core.io import atomic_path
from survsig.core.paths import MODEL_MAX_BYTES, open_checked
from survsig.imaging.network import ARCHITECTURE, create_model
from survsig.imaging.slice_data import SliceData
from survsig.imaging.slices import CHANNELS
from survsig.imaging.train_settings import TrainSettings

#: Keys of a saved model file (``model.pt``).
MODEL_KEYS = ("architecture", "channels", "settings", "best_epoch", "snapshots", "standardisation")
#: Keys of a checkpoint file (``checkpoint.pt``).
CHECKPOINT_KEYS = ("fingerprint", "epoch", "model", "optimizer", "history", "snapshots")


def training_fingerprint(
    settings: TrainSettings, channels, data: SliceData, patients, time_, event, *, targets=None, initial_state=None
) -> str:
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
    targets : pandas.DataFrame, optional
        The auxiliary targets (:func:`~survsig.imaging.auxiliary.auxiliary_targets`).
    initial_state : dict, optional
        The weights the network starts from instead of ``settings.init``'s (pretrained).
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
    if targets is not None:
        digest.update(json.dumps([list(map(str, targets.index)), list(map(str, targets.columns))]).encode())
        digest.update(np.ascontiguousarray(targets.to_numpy(np.float32)))
    for key, tensor in sorted((initial_state or {}).items()):
        digest.update(json.dumps([key, list(tensor.shape), str(tensor.dtype)]).encode())
        digest.update(np.ascontiguousarray(tensor.detach().cpu().float().numpy()))
    return digest.hexdigest()


def save_torch_file(payload, path) -> None:
    """``torch.save`` ``payload`` to ``path`` atomically and byte-reproducibly.

    ``torch.save`` to a path names the archive's root folder after the file, and
    :func:`~survsig.core.io.atomic_path` writes a randomly named temporary file; through a file
    object the root is always ``archive``, so equal payloads give equal bytes.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        torch.save(payload, handle)


#: torch's two wordings of the first global a weights-only load would not build:
#: ``Unsupported global: GLOBAL io.open was not an allowed global`` (a global not allowed)
#: and ``unsupported GLOBAL posix.system whose module posix is blocked`` (a global of a
#: blocked module, as ``os.system``).
_FORBIDDEN_GLOBAL = (
    re.compile(r"Unsupported global: GLOBAL (\S+)"),
    re.compile(r"unsupported GLOBAL (\S+) whose module \S+ is blocked"),
)


def _forbidden_global(text: str) -> str | None:
    """The global (``posix.system``) a weights-only load refused to build, from torch's
    message ``text``; None when ``text`` is another failure."""
    for pattern in _FORBIDDEN_GLOBAL:
        found = pattern.search(text)
        if found:
            return found.group(1).rstrip(".,;")
    return None


def _read_failure(text: str) -> str:
    """torch's reason for a file it could not read, without its advice to load the file
    with ``weights_only=False`` (which would run whatever code it holds)."""
    detail = re.search(r"WeightsUnpickler error:\s*([^\n]+)", text)
    if detail:
        return detail.group(1).strip()
    first = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return "not plain weights" if "weights_only" in first else first


def load_weights_file(path, *, map_location, what):
    """``torch.load`` with ``weights_only=True``: tensors and plain data, never code.

    The file is checked and opened first (:func:`~survsig.core.paths.open_checked`): a
    regular file of at most :data:`~survsig.core.paths.MODEL_MAX_BYTES`, never a named
    pipe or a device, which would block or stream without end.

    Parameters
    ----------
    path : path
    map_location : str or torch.device
    what : str
        What the file is, for the message (``"model file"``, ``"checkpoint"``).

    Raises
    ------
    InputError
        Naming the file, when it is not a regular file, too large, unreadable, or holds
        Python objects other than weights and plain data: it is then refused for safety
        before any of them is built, and the message says so (never how to load it
        anyway: loading it without ``weights_only`` would run its code).
    """
    with open_checked(path, what=f"the {what}", max_bytes=MODEL_MAX_BYTES) as handle:
        try:
            return torch.load(handle, map_location=map_location, weights_only=True)
        except Exception as err:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, EOFError, ...
            text = str(err)
    refused = _forbidden_global(text)
    if refused is not None:
        raise InputError(
            f"refused: the {what} holds Python objects other than weights and plain data (here {refused}); "
            "it is refused for safety, as loading it could run code, and was not written by this workflow",
            file=path,
        )
    raise InputError(f"cannot read {what} (cut short, or not a PyTorch file): {_read_failure(text)}", file=path)


def read_network_file(path, keys, *, what, name) -> dict:
    """A weights-only file (:func:`load_weights_file`) holding a dict with ``keys``, of the
    network's architecture; one InputError naming the file otherwise (``what``, e.g.
    "model file", and ``name``, e.g. "model", word the messages)."""
    saved = load_weights_file(path, map_location="cpu", what=what)
    if not isinstance(saved, dict):
        raise InputError(f"not a {what}: it holds a {type(saved).__name__}, not a dict", file=path)
    missing = [key for key in keys if key not in saved]
    if missing:
        raise InputError(f"{what} lacks key(s) {', '.join(missing)}", file=path)
    if saved["architecture"] != ARCHITECTURE:
        raise InputError(f"{name} architecture is {saved['architecture']!r}, expected {ARCHITECTURE!r}", file=path)
    return saved


def read_model_file(path) -> dict:
    """Load and check a model file of :meth:`survsig.imaging.train.SignatureTrainer.save`.

    Returns
    -------
    dict
        The file's content, with ``settings`` as :class:`~survsig.imaging.train_settings.TrainSettings`.

    Raises
    ------
    InputError
        One per problem, naming the file: unreadable, not plain weights (refused
        without running its code), missing keys, another architecture, channels that
        are not a list of known channel names, invalid settings, no snapshots, or
        snapshot weights that do not fit the network.
    """
    saved = read_network_file(path, MODEL_KEYS, what="model file", name="model")
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
    return state_problem(snapshot["state_dict"], expected)


def state_problem(state, expected, *, ignored=()) -> str | None:
    """What keeps the weights ``state`` from loading into a network whose state dict is
    ``expected`` (a missing, unexpected, non-tensor or mis-shaped weight; keys of
    ``ignored`` are neither needed nor checked); None when they fit."""
    expected = {key: value for key, value in expected.items() if key not in ignored}
    missing = [key for key in expected if key not in state]
    if missing:
        return f"{len(missing)} weight(s) missing, first {missing[0]!r}"
    unexpected = [key for key in state if key not in expected and key not in ignored]
    if unexpected:
        return f"{len(unexpected)} unexpected weight(s), first {unexpected[0]!r}"
    for key, reference in expected.items():
        value = state[key]
        if not isinstance(value, torch.Tensor):
            return f"{key!r} is a {type(value).__name__}, not a tensor"
        if value.shape != reference.shape:
            return f"{key!r} has shape {tuple(value.shape)}, expected {tuple(reference.shape)}"
    return None
