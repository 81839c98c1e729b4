"""Training of the deep learning signatures: EfficientNet-lite0 with the DeepSurv loss.

One network per model of ``config: imaging.models``, each seeing its channels (CT, PET,
ROI) of the preprocessed ROI slices. A patient's risk is the aggregate (mean or max)
of its slice scores; the loss is the negative Cox partial log-likelihood over the
patients of a batch, and every batch holds events. Optionally the network sees each
channel standardised over the training patients' slices and CT and PET only near the
ROI. A validation fold drawn from the training set (never the test set) picks the epoch
to keep (early stopping on its C-index) and the few best epochs whose networks the
signature averages (a snapshot ensemble). CUDA is used when present (with bfloat16
autocast), else the CPU with channels-last tensors. Randomness of an epoch derives from
(seed, epoch) alone, so a training resumed from its checkpoint ends exactly where an
unbroken one would; a checkpoint is resumed only when everything the network is a
function of (slices, outcomes, split, channels, settings) is unchanged.

The trainer also scores patients with its networks and saves and loads its model file.
The network is :mod:`survsig.imaging.network`, the settings
:mod:`survsig.imaging.train_settings`, the slices :mod:`survsig.imaging.slice_data`, the
validation fold and batches :mod:`survsig.imaging.patient_sampling`, the model and
checkpoint files :mod:`survsig.imaging.model_files`.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from survsig.core.errors import InputError
from survsig.core.io import remove_stale_temp_files
from survsig.imaging.losses import cox_partial_nll
from survsig.imaging.model_files import (
    CHECKPOINT_KEYS,
    load_weights_file,
    read_model_file,
    save_torch_file,
    training_fingerprint,
)
from survsig.imaging.network import ARCHITECTURE, aggregate, channel_indices, create_model, select_device
from survsig.imaging.patient_sampling import event_balanced_batches, fit_and_validation_patients
from survsig.imaging.pretrain import apply_pretrained
from survsig.imaging.slice_data import SliceData, augment_batch, load_slice_data, network_input
from survsig.imaging.train_settings import TrainSettings
from survsig.survival.concordance import concordance_index

log = logging.getLogger(__name__)

#: Slices per batch when scoring a patient for its signature (:meth:`SignatureTrainer.score_patient_by_patient`)
SCORING_BATCH = 16


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
        :func:`~survsig.imaging.model_files.training_fingerprint`), training resumes from it. :meth:`discard_checkpoint`
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
        self._auxiliary = None  # the head of the auxiliary targets, while training with them

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

    def score_patient_by_patient(self, data: SliceData, patients, model=None, batch_images=SCORING_BATCH):
        """Patient-level risk for ``patients``, each patient's slices scored on their own.

        A patient's slices fill batches of ``batch_images`` from the first place, blank
        slices padding the last, so its risk is a function of its own slices alone: the
        CPU kernels' results move in the last bits with a batch's size and a slice's place
        in it, and a signature must not change with the patients scored beside it (an
        external cohort, a new patient, the run's own test set).
        """
        model = model or self.model_
        return np.asarray(
            [
                aggregate(scores.reshape(-1), self.settings.aggregate).item()
                for scores in self._patient_by_patient(data, patients, model, batch_images)
            ]
        )

    def embed_patient_by_patient(self, data: SliceData, patients, model=None, batch_images=SCORING_BATCH):
        """Each patient's embedding: the mean over its slices of the network's pooled
        features (the input of its output layer), shape (patients, features); each
        patient's slices on their own, as :meth:`score_patient_by_patient`."""
        model = model or self.model_
        return np.stack(
            [
                features.mean(dim=0).double().numpy()
                for features in self._patient_by_patient(data, patients, model, batch_images, embed=True)
            ]
        )

    def _patient_by_patient(self, data: SliceData, patients, model, batch_images, *, embed=False):
        """Per patient, ``model``'s output (or with ``embed`` its pooled features) for
        each of its slices, in eval mode, its slices in batches of their own padded with
        blank slices."""

        def network(images):
            if embed:
                return model.forward_head(model.forward_features(images), pre_logits=True)
            return model(images)

        model.eval()
        with torch.no_grad(), self._autocast():
            for patient in patients:
                block = data.read(patient).float()
                outputs = []
                for start in range(0, len(block), batch_images):
                    chunk = block[start : start + batch_images]
                    held = len(chunk)
                    if held < batch_images:
                        chunk = torch.cat([chunk, chunk.new_zeros((batch_images - held, *chunk.shape[1:]))])
                    outputs.append(network(self._network_input(chunk, data)).float()[:held].cpu())
                yield torch.cat(outputs)

    def snapshot_scores(self, data: SliceData, patients):
        """Patient-level risk under each snapshot network, shape (snapshots, patients),
        patient by patient (:meth:`score_patient_by_patient`)."""
        network = copy.deepcopy(self.model_)
        scores = []
        for _, state in self.snapshots_:
            network.load_state_dict(state)
            scores.append(self.score_patient_by_patient(data, patients, network))
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
        self._check_context(data)
        return network_input(images, data, self.channel_mean_, self.channel_sd_, self.device_)

    def _check_context(self, data: SliceData):
        if data.context_mm != self.settings.context_mm:
            raise InputError(
                f"slices were read with context_mm {data.context_mm!r}, the network was trained with "
                f"imaging.train.context_mm {self.settings.context_mm!r}"
            )

    def _auxiliary_targets(self, targets, train_patients):
        """The auxiliary targets of the training patients as float32 (None without a weight)."""
        if not self.settings.radiomics_weight:
            return None
        if targets is None or not len(targets.columns):
            raise InputError("imaging.train.radiomics_weight is above 0 but no radiomic features were given")
        missing = [patient for patient in train_patients if patient not in targets.index]
        if missing:
            raise InputError("training patient has no auxiliary targets", patient=missing[0])
        values = targets.loc[list(train_patients)].astype(np.float32)
        if not np.isfinite(values.to_numpy()).all():
            raise InputError("auxiliary targets must be finite for every training patient")
        return values

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
        auxiliary = self._auxiliary
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
                if auxiliary is None:
                    scores = model(images)
                else:
                    embedding = model.forward_head(model.forward_features(images), pre_logits=True)
                    scores = model.get_classifier()(embedding)
                    predicted = auxiliary(embedding).float()
            scores = scores.float().reshape(len(batch), s.slices_per_patient)
            risk = aggregate(scores, s.aggregate)
            loss = cox_partial_nll(
                risk,
                torch.as_tensor(event[batch], device=risk.device),
                torch.as_tensor(time_[batch], device=risk.device, dtype=risk.dtype),
                ties=s.ties,
            )
            if auxiliary is not None:
                # a patient's features from the mean of its slices' predictions, as its risk
                predicted = predicted.reshape(len(batch), s.slices_per_patient, -1).mean(dim=1)
                target = self.targets_.loc[list(batch)].to_numpy()
                loss = loss + s.radiomics_weight * torch.nn.functional.mse_loss(
                    predicted, torch.as_tensor(target, device=predicted.device)
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            # from-scratch networks give large early gradients; clipping keeps steps sane
            torch.nn.utils.clip_grad_norm_(
                [p for group in optimizer.param_groups for p in group["params"]], max_norm=s.max_grad_norm
            )
            optimizer.step()
            losses.append(loss.item())
        return float(np.mean(losses))

    def fit(self, data: SliceData, train_patients, time_, event, *, targets=None, initial_state=None):
        """Train on ``train_patients`` (validation fold drawn from them).

        Parameters
        ----------
        data : SliceData
        train_patients : sequence of str
        time_, event : mapping patient -> float / int
            Follow-up (months) and event (1 = death) per patient.
        targets : pandas.DataFrame, optional
            Auxiliary targets per training patient (rows; :mod:`survsig.imaging.auxiliary`),
            needed when ``settings.radiomics_weight`` is above 0: a linear head on the
            network's embedding predicts them, its squared error times the weight added
            to the loss. The head is not saved: only the embedding it shaped is.
        initial_state : dict, optional
            Weights to start from (a self-supervised pretraining's,
            :mod:`survsig.imaging.pretrain`) instead of ``settings.init``'s; the head keeps
            its own start.
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
        self.targets_ = self._auxiliary_targets(targets, train_patients)
        # over the whole training set (validation fold included): no outcome enters them
        self.channel_mean_, self.channel_sd_ = self._standardisation(data, train_patients)
        torch.manual_seed(s.seed)
        model = create_model(len(self.channels), s.init, drop_rate=s.drop_rate, drop_path_rate=s.drop_path_rate)
        if initial_state is not None:
            apply_pretrained(model, initial_state)
        model = model.to(self.device_)
        if self.device_.type == "cpu":
            model = model.to(memory_format=torch.channels_last)
        parameters = list(model.parameters())
        auxiliary = None
        if self.targets_ is not None:
            # drawn after the network, so the network starts as it does without it
            auxiliary = torch.nn.Linear(model.num_features, self.targets_.shape[1])
            torch.nn.init.normal_(auxiliary.weight, std=0.01)
            torch.nn.init.zeros_(auxiliary.bias)
            auxiliary = auxiliary.to(self.device_)
            parameters += list(auxiliary.parameters())
        self._auxiliary = auxiliary
        optimizer = torch.optim.AdamW(parameters, lr=s.learning_rate, weight_decay=s.weight_decay)
        fingerprint = training_fingerprint(
            s, self.channels, data, list(train_patients), *outcome, targets=self.targets_, initial_state=initial_state
        )
        # the best epochs so far, best first: {"epoch", "score", "state"}
        start_epoch, history, snapshots = 1, [], []
        if self.checkpoint is not None:
            remove_stale_temp_files(self.checkpoint)  # left by a training killed mid-write
        state = self._load_checkpoint(fingerprint)
        if state is not None:
            model.load_state_dict(state["model"])
            if auxiliary is not None:
                auxiliary.load_state_dict(state["auxiliary"])
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
            self._save_checkpoint(fingerprint, epoch, model, optimizer, history, snapshots, auxiliary)
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
    def _save_checkpoint(self, fingerprint, epoch, model, optimizer, history, snapshots, auxiliary=None):
        if self.checkpoint is None:
            return
        state = {
            "fingerprint": fingerprint,
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "history": history,
            "snapshots": snapshots,
        }
        if auxiliary is not None:
            state["auxiliary"] = auxiliary.state_dict()
        save_torch_file(state, self.checkpoint)

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


class _Lookup:
    """A patient -> value mapping indexable by arrays of patient ids."""

    def __init__(self, mapping):
        self.mapping = mapping

    def __getitem__(self, patients):
        if isinstance(patients, str):
            return self.mapping[patients]
        return np.asarray([self.mapping[p] for p in patients])


def train_signature_model(
    slice_files,
    clinical,
    split,
    channels,
    settings: TrainSettings,
    *,
    checkpoint=None,
    threads=None,
    model_name=None,
    targets=None,
    initial_state=None,
):
    """Train one model on the training patients of ``split`` (``targets`` and
    ``initial_state``: :meth:`SignatureTrainer.fit`).

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
    return trainer.fit(
        data,
        train_patients.tolist(),
        outcome["os_months"],
        outcome["os_event"],
        targets=targets,
        initial_state=initial_state,
    )
