"""Signatures: one risk score per patient and model (higher = higher risk).

Raw scores are standardised with the training set's mean and standard deviation, so a
signature's hazard ratio reads per training-set SD and the test set is never used to
scale anything.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from survsig.core import columns as col
from survsig.core.errors import InputError
from survsig.core.vocabulary import signature_label
from survsig.survival.concordance import compare_c, concordance_index
from survsig.survival.cox import fit_cox


def training_scale(raw: pd.Series, split: pd.Series) -> tuple[float, float]:
    """Mean and SD (ddof=1) of ``raw`` over the training patients: a signature's scale.

    Parameters
    ----------
    raw : pandas.Series
        Raw risk score per patient.
    split : pandas.Series
        ``train`` or ``test`` per patient, aligned with ``raw``.
    """
    train = raw[split.to_numpy() == "train"]
    if len(train) < 2:
        raise InputError("needs at least 2 training patients to standardise a signature")
    scale = train.std(ddof=1)
    if not np.isfinite(scale) or scale == 0:
        raise InputError("signature is constant over the training set")
    return float(train.mean()), float(scale)


def standardise_signature(raw: pd.Series, split: pd.Series) -> pd.Series:
    """Centre and scale ``raw`` by its mean and SD (ddof=1) over the training patients
    (:func:`training_scale`).

    Parameters
    ----------
    raw : pandas.Series
        Raw risk score per patient.
    split : pandas.Series
        ``train`` or ``test`` per patient, aligned with ``raw``.
    """
    mean, scale = training_scale(raw, split)
    return (raw - mean) / scale


def signature_table(patient_ids, split, raw) -> pd.DataFrame:
    """The signature file's table: ``patient_id, split, signature`` (standardised)."""
    split = pd.Series(np.asarray(split, dtype=object))
    raw = pd.Series(np.asarray(raw, dtype=float))
    return pd.DataFrame(
        {
            col.PATIENT_ID: np.asarray(patient_ids, dtype=object),
            col.SPLIT: split,
            "signature": standardise_signature(raw, split).to_numpy(),
        }
    )


#: How far a signature made again may lie from the run's signature file: its rounding (6
#: decimals, 0.5e-6) and what float32 networks on another thread count or device move a
#: standardised score by (about 1e-6); a file of other networks lies orders of magnitude further
SIGNATURE_FILE_TOLERANCE = 2.5e-6


def check_signature_file(signature, patient_ids, path, *, tolerance=0.0, reason="") -> None:
    """Refuse unless ``signature`` is the run's signature file ``path``, patient for patient.

    Parameters
    ----------
    signature : array-like
        The signature made again, of each patient of ``patient_ids``.
    patient_ids : sequence of str
        The run's patients.
    path : str or path
        The run's signature file (``patient_id, split, signature``).
    tolerance : float
        0: the value written as the file writes it (``%.6f``) must be the file's text;
        above 0: it must lie within ``tolerance`` of the file's value.
    reason : str
        Why it would differ, ending the message.

    Raises
    ------
    InputError
        Naming the file and the first patient whose value differs, who is missing from the
        file or who is in the file only.
    """
    from survsig.core.io import read_table

    table = read_table(path, dtype=str, keep_default_na=False)
    for name in (col.PATIENT_ID, "signature"):
        if name not in table.columns:
            raise InputError(f"the signature file has no column '{name}'", file=path)
    written = dict(zip(table[col.PATIENT_ID], table["signature"], strict=True))
    why = f"; {reason}" if reason else ""
    ids = [str(p) for p in patient_ids]
    for patient, value in zip(ids, np.asarray(signature, dtype=float), strict=True):
        if patient not in written:
            raise InputError(f"patient is not in the signature file{why}", file=path, patient=patient)
        ours = f"{value:.6f}"
        same = written[patient] == ours if tolerance == 0 else abs(float(written[patient]) - value) <= tolerance
        if not same:
            raise InputError(
                f"signature {written[patient]} in the file, {ours} made again{why}", file=path, patient=patient
            )
    extra = sorted(set(written) - set(ids))
    if extra:
        raise InputError(f"patient is in the signature file, not in the split{why}", file=path, patient=extra[0])


def oracle_signature(ground_truth: pd.DataFrame, split: pd.DataFrame, channels) -> pd.DataFrame:
    """Signature from the synthetic cohort's true image predictor that ``channels`` see.

    CT (with or without ROI) sees ``lp_image_ct``, PET sees ``lp_image_pet`` and any
    model seeing both sees ``lp_image``.
    """
    predictor = col.ORACLE_PREDICTOR.get(frozenset(channels), col.ORACLE_IMAGE)
    merged = split.merge(ground_truth, on=col.PATIENT_ID, how="left", validate="one_to_one")
    missing = merged[predictor].isna()
    if missing.any():
        raise InputError(
            "patient has no ground truth",
            patient=merged.loc[missing, col.PATIENT_ID].iloc[0],
            column=predictor,
        )
    return signature_table(merged[col.PATIENT_ID], merged[col.SPLIT], merged[predictor])


def load_members(model_paths, *, threads=None) -> list:
    """The trained networks of an ensemble, checked to see the same channels and context.

    Parameters
    ----------
    model_paths : path or sequence of path
        One trained model, or the members of an ensemble.
    threads : int, optional
        Torch's CPU threads.
    """
    import torch

    from survsig.imaging.train import SignatureTrainer

    if threads:
        torch.set_num_threads(int(threads))
    if isinstance(model_paths, (str, bytes, Path)) or not hasattr(model_paths, "__iter__"):
        model_paths = [model_paths]
    members = [SignatureTrainer.load(path) for path in model_paths]
    channels = members[0].channels
    context_mm = members[0].settings.context_mm
    for path, member in zip(model_paths, members):
        if member.channels != channels:
            raise InputError(f"ensemble member sees channels {member.channels}, the first member {channels}", file=path)
        if member.settings.context_mm != context_mm:
            raise InputError(
                f"ensemble member was trained with context_mm {member.settings.context_mm!r}, "
                f"the first member with {context_mm!r}",
                file=path,
            )
    return members


def member_scores(members, slice_files, patients) -> list:
    """Raw scores of ``patients`` under each member's snapshot networks: one array
    (snapshots, patients) per member."""
    from survsig.imaging.slice_data import load_slice_data

    data = load_slice_data(slice_files, members[0].channels, context_mm=members[0].settings.context_mm)
    missing = [p for p in patients if p not in data]
    if missing:
        raise InputError("patient has no preprocessed slices", patient=missing[0])
    return [member.snapshot_scores(data, patients) for member in members]


def combine_member_scores(scores, scale) -> np.ndarray:
    """An ensemble's signature from its members' raw snapshot scores.

    A member's signature is the mean of its snapshot networks' scores, each standardised
    first (so no network weighs more for the scale its training happened to give its
    scores), standardised again; the ensemble's is the mean of its members', standardised
    once more. ``scale(key, values)`` standardises one level (``member0.snapshot1``,
    ``member0``, ``ensemble``): learning the scale on the training patients
    (:func:`trained_signature`) or applying a saved one (:class:`FrozenSignature`), with
    the same floating-point operations either way.
    """
    members = []
    for m, snapshots in enumerate(scores):
        standardised = [scale(f"member{m}.snapshot{s}", values) for s, values in enumerate(snapshots)]
        members.append(scale(f"member{m}", np.mean(standardised, axis=0)))
    return scale("ensemble", np.mean(members, axis=0))


def learn_signature(scores, labels, scales: dict) -> np.ndarray:
    """The signature of :func:`combine_member_scores`, each level's scale learnt on the
    patients labelled ``train`` (:func:`training_scale`) and put in ``scales``
    (``key -> (mean, sd)``)."""
    labels = pd.Series(np.asarray(labels, dtype=object))

    def learn(key, values):
        values = pd.Series(np.asarray(values, dtype=float))
        scales[key] = training_scale(values, labels)
        mean, sd = scales[key]
        return ((values - mean) / sd).to_numpy()

    return combine_member_scores(scores, learn)


def trained_signature(model_paths, slice_files, split: pd.DataFrame, *, threads=None, scales=None) -> pd.DataFrame:
    """Signature of trained networks for every patient of ``split`` (train and test).

    Parameters
    ----------
    model_paths : path or sequence of path
        One trained model, or the members of an ensemble
        (:func:`combine_member_scores` says how their scores make one signature).
    slice_files : sequence of path
        The preprocessed slice files of the patients of ``split``.
    split : pandas.DataFrame
        ``patient_id, split``: every scale is learnt on its ``train`` patients.
    threads : int, optional
    scales : dict, optional
        Filled with the scale learnt at each level, ``key -> (mean, sd)``: what
        :class:`FrozenSignature` saves.
    """
    members = load_members(model_paths, threads=threads)
    patients = split[col.PATIENT_ID].astype(str).tolist()
    labels = split[col.SPLIT]
    signature = learn_signature(member_scores(members, slice_files, patients), labels, {} if scales is None else scales)
    return pd.DataFrame(
        {
            col.PATIENT_ID: np.asarray(patients, dtype=object),
            col.SPLIT: np.asarray(labels, dtype=object),
            "signature": signature,
        }
    )


#: The ``format`` of a frozen signature file (:class:`FrozenSignature`).
FROZEN_SIGNATURE_FORMAT = "survsig-frozen-signature/1"


def file_sha256(path) -> str:
    """Hex SHA-256 of a file's bytes (read in blocks: model files are large)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class FrozenSignature:
    """A network's signature as the training run made it, to score other patients.

    What the trained networks give other patients is standardised with the scales the
    run learnt on its training patients (:func:`combine_member_scores`), so an external
    patient's signature reads on the training set's scale and nothing is learnt from
    the patients scored.

    Parameters
    ----------
    model : str
        The network's name (``imaging.models``).
    channels : list of str
    members : list of dict
        Per ensemble member: ``file`` (the model file, relative to the results folder),
        ``sha256`` of its bytes and ``snapshots``, the (mean, sd) of each snapshot
        network's scores, and ``scale``, the member's (mean, sd).
    scale : tuple of float
        The ensemble's (mean, sd).
    """

    model: str
    channels: list
    members: list
    scale: tuple

    @classmethod
    def from_scales(cls, model, channels, model_files, scales: dict, *, results_dir) -> FrozenSignature:
        """The frozen signature of :func:`trained_signature`'s ``scales``."""
        members = []
        for m, path in enumerate(model_files):
            count = sum(key.startswith(f"member{m}.snapshot") for key in scales)
            snapshots = [f"member{m}.snapshot{s}" for s in range(count)]
            members.append(
                {
                    "file": Path(os.path.relpath(path, results_dir)).as_posix(),
                    "sha256": file_sha256(path),
                    "snapshots": [list(scales[k]) for k in snapshots],
                    "scale": list(scales[f"member{m}"]),
                }
            )
        return cls(model, list(channels), members, tuple(scales["ensemble"]))

    def to_dict(self) -> dict:
        return {
            "format": FROZEN_SIGNATURE_FORMAT,
            "model": self.model,
            "channels": list(self.channels),
            "members": [
                {**m, "snapshots": [list(pair) for pair in m["snapshots"]], "scale": list(m["scale"])}
                for m in self.members
            ],
            "scale": list(self.scale),
        }

    @classmethod
    def from_dict(cls, data, *, file=None) -> FrozenSignature:
        """The frozen signature of :meth:`to_dict`'s data, every key checked.

        Raises
        ------
        InputError
            Naming the file and the key: not a frozen signature file, a key missing or
            of the wrong type, a scale that is not a finite (mean, sd > 0) pair.
        """
        from survsig.core.jsonkeys import JsonKeys, json_type

        keys = JsonKeys(file, kind="frozen signature")
        if not isinstance(data, dict) or data.get("format") != FROZEN_SIGNATURE_FORMAT:
            found = data.get("format") if isinstance(data, dict) else json_type(data)
            raise InputError(f"not a frozen signature file ({found!r}, expected {FROZEN_SIGNATURE_FORMAT})", file=file)

        def pair(value, key):
            mean, sd = keys.numbers(value, key, length=2)
            if not sd > 0:
                raise keys.error(key, f"has an SD of {float(sd)!r}: a scale's SD is positive")
            return [float(mean), float(sd)]

        members = []
        for m, member in enumerate(keys.array(keys.get(data, "members"), "members")):
            where = f"members[{m}]"
            member = keys.mapping(member, where)
            sha = keys.text(keys.get(member, "sha256", where), f"{where}.sha256")
            if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
                raise keys.error(f"{where}.sha256", "must be 64 lowercase hex digits")
            snapshots = keys.array(keys.get(member, "snapshots", where), f"{where}.snapshots")
            members.append(
                {
                    "file": keys.text(keys.get(member, "file", where), f"{where}.file"),
                    "sha256": sha,
                    "snapshots": [pair(v, f"{where}.snapshots[{s}]") for s, v in enumerate(snapshots)],
                    "scale": pair(keys.get(member, "scale", where), f"{where}.scale"),
                }
            )
        return cls(
            keys.text(keys.get(data, "model"), "model"),
            list(keys.texts(keys.get(data, "channels"), "channels")),
            members,
            tuple(pair(keys.get(data, "scale"), "scale")),
        )

    def save(self, path) -> None:
        """Write the file (atomic; floats at full precision)."""
        import json

        from survsig.core.io import atomic_path

        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n")

    @classmethod
    def load(cls, path) -> FrozenSignature:
        from survsig.core.jsonkeys import read_json

        return cls.from_dict(read_json(path, what="the frozen signature file"), file=path)

    def model_files(self, results_dir) -> list:
        """The members' model files under ``results_dir``, each checked to be the one the
        scales were learnt with (same SHA-256)."""
        paths = []
        for member in self.members:
            path = Path(results_dir) / member["file"]
            if not path.is_file():
                raise InputError(f"the model file of network {self.model!r} is missing", file=path)
            if file_sha256(path) != member["sha256"]:
                raise InputError(
                    f"the model file is not the one the frozen signature of network {self.model!r} was made with "
                    "(its SHA-256 differs): the results folder mixes files of different runs",
                    file=path,
                )
            paths.append(path)
        return paths

    def signature(self, scores) -> np.ndarray:
        """Standardised signature from the members' raw snapshot scores (:func:`member_scores`)."""
        if len(scores) != len(self.members):
            raise InputError(f"network {self.model!r} has {len(self.members)} members, got scores of {len(scores)}")
        saved = {"ensemble": self.scale}
        for m, member in enumerate(self.members):
            saved[f"member{m}"] = member["scale"]
            if len(scores[m]) != len(member["snapshots"]):
                raise InputError(
                    f"member {m} of network {self.model!r} has {len(member['snapshots'])} snapshot networks, "
                    f"its model file {len(scores[m])}"
                )
            saved.update({f"member{m}.snapshot{s}": v for s, v in enumerate(member["snapshots"])})

        def apply(key, values):
            mean, sd = saved[key]
            return ((pd.Series(np.asarray(values, dtype=float)) - mean) / sd).to_numpy()

        return combine_member_scores(scores, apply)

    def score(self, results_dir, slice_files, patients, *, threads=None) -> np.ndarray:
        """The signature of ``patients`` from their slice files, with the run's networks."""
        members = load_members(self.model_files(results_dir), threads=threads)
        if members[0].channels != list(self.channels):
            raise InputError(
                f"the networks of {self.model!r} see {members[0].channels}, the frozen signature {self.channels}"
            )
        return self.signature(member_scores(members, slice_files, list(patients)))


def fitted_oracle(truth: pd.DataFrame, outcome: pd.DataFrame, train_ids, predictor: str) -> pd.Series:
    """The true predictor's traits weighted by a Cox model fit on the training patients.

    A signature learns from the training patients' survival alone; so does this one, but
    from exact measurements of the traits behind ``predictor``
    (:data:`survsig.core.columns.ORACLE_TRAITS`). Its C-index is the most a signature fit on
    this many training patients can expect: the oracle's, less what estimating a few
    weights from the training set's events costs.

    Parameters
    ----------
    truth, outcome : pandas.DataFrame
        ``ground_truth.tsv`` and the clinical sheet, indexed by patient.
    train_ids : list of str
    predictor : str
        A key of :data:`survsig.core.columns.ORACLE_TRAITS`.

    Returns
    -------
    pandas.Series
        The fitted linear predictor of every patient of ``truth``.
    """
    traits = list(col.ORACLE_TRAITS[predictor])
    fit = fit_cox(
        outcome.loc[train_ids, col.OS_MONTHS].to_numpy(float),
        outcome.loc[train_ids, col.OS_EVENT].to_numpy(int),
        truth.loc[train_ids, traits],
        what=f"the training patients' traits of {predictor}",
    )
    return pd.Series(truth[traits].to_numpy(float) @ fit.coef, index=truth.index)


def signature_vs_oracle(
    signatures: dict, clinical: pd.DataFrame, ground_truth: pd.DataFrame, models: dict
) -> pd.DataFrame:
    """Harrell C-index of each signature beside its oracle, per split.

    The oracle of a model is the true predictor its channels can see
    (:data:`survsig.core.columns.ORACLE_PREDICTOR`); ``image_oracle_cindex`` is that of the whole image
    predictor ``lp_image``, the ceiling of any imaging signature. ``fitted_oracle_cindex`` is
    that of the oracle's traits weighted by a Cox model fit on the training patients
    (:func:`fitted_oracle`): what exact measurements of the traits give when their weights,
    like a signature's, must be learnt from the training set. ``gap_to_oracle``,
    ``gap_to_fitted_oracle`` and ``gap_to_image_oracle`` are those C-indices minus the
    signature's.
    """
    outcome = clinical.set_index(clinical[col.PATIENT_ID].astype(str))
    truth = ground_truth.set_index(ground_truth[col.PATIENT_ID].astype(str))
    fitted = {}
    rows = []
    for model, table in signatures.items():
        predictor = col.ORACLE_PREDICTOR.get(frozenset(models[model]), col.ORACLE_IMAGE)
        train_ids = tuple(table.loc[table[col.SPLIT] == col.SPLIT_LEVELS[0], col.PATIENT_ID].astype(str))
        if (predictor, train_ids) not in fitted:
            fitted[predictor, train_ids] = fitted_oracle(truth, outcome, list(train_ids), predictor)
        fitted_lp = fitted[predictor, train_ids]
        for split_name in col.SPLIT_LEVELS:
            part = table[table[col.SPLIT] == split_name]
            ids = part[col.PATIENT_ID].astype(str)
            time_ = outcome.loc[ids, col.OS_MONTHS].to_numpy(float)
            event = outcome.loc[ids, col.OS_EVENT].to_numpy(int)

            c_index = functools.partial(concordance_index, time_, event)
            rows.append(
                {
                    "model": model,
                    "channels": "+".join(models[model]),
                    "split": split_name,
                    "n": len(part),
                    "events": int(event.sum()),
                    "cindex": c_index(part["signature"]),
                    "oracle": predictor,
                    "oracle_cindex": c_index(truth.loc[ids, predictor]),
                    "fitted_oracle_cindex": c_index(fitted_lp.loc[ids]),
                    "image_oracle_cindex": c_index(truth.loc[ids, "lp_image"]),
                }
            )
    table = pd.DataFrame(rows)
    table["gap_to_oracle"] = table["oracle_cindex"] - table["cindex"]
    table["gap_to_fitted_oracle"] = table["fitted_oracle_cindex"] - table["cindex"]
    table["gap_to_image_oracle"] = table["image_oracle_cindex"] - table["cindex"]
    return table


def signature_vs_radiomics(
    signatures: dict, comparators: dict, clinical: pd.DataFrame, channels: dict, *, confidence=0.95
) -> pd.DataFrame:
    """Each network's signature against its radiomics comparator on the same patients.

    Parameters
    ----------
    signatures : dict of str to pandas.DataFrame
        Network -> its signature table (``patient_id, split, signature``).
    comparators : dict of str to tuple of (str, pandas.DataFrame)
        Network -> name and signature table of the radiomics comparator that sees the
        same modalities.
    clinical : pandas.DataFrame
        The validated clinical sheet (``patient_id``, ``os_months``, ``os_event``).
    channels : dict of str to list of str
        Signature -> what it sees (networks and comparators).
    confidence : float

    Returns
    -------
    pandas.DataFrame
        Per network and split: both Harrell C-indices and ``diff`` = C(network) -
        C(comparator) with the joint-jackknife SE of R's ``concordance(fit_a, fit_b)``
        (:func:`survsig.survival.concordance.compare_c`), Wald CI and two-sided p; NaN for a split
        without events.
    """
    from scipy.special import ndtri

    outcome = clinical.set_index(clinical[col.PATIENT_ID].astype(str))
    q = ndtri(0.5 + confidence / 2)
    rows = []
    for model, table in signatures.items():
        name, comparator = comparators[model]
        comparator = comparator.set_index(comparator[col.PATIENT_ID].astype(str))["signature"]
        network = table.set_index(table[col.PATIENT_ID].astype(str))
        for split_name in col.SPLIT_LEVELS:
            ids = network.index[network[col.SPLIT] == split_name]
            missing = ids[~ids.isin(comparator.index)]
            if len(missing):
                raise InputError(f"patient has no signature of the radiomics comparator '{name}'", patient=missing[0])
            absent = ids[~ids.isin(outcome.index)]
            if len(absent):
                raise InputError("signature patient is not in the clinical sheet", patient=absent[0])
            time_ = outcome.loc[ids, col.OS_MONTHS].to_numpy(float)
            event = outcome.loc[ids, col.OS_EVENT].to_numpy(int)
            row = {
                "model": model,
                "channels": "+".join(channels[model]),
                "comparator": name,
                "comparator_channels": "+".join(channels[name]),
                "split": split_name,
                "n": len(ids),
                "events": int(event.sum()),
            }
            row.update(
                dict.fromkeys(("cindex", "comparator_cindex", "diff", "se", "lower", "upper", "p_value"), np.nan)
            )
            if event.any():
                score = network.loc[ids, "signature"].to_numpy(float)
                result = compare_c(time_, event, score, comparator.loc[ids].to_numpy(float))
                row.update(
                    cindex=result["c_a"],
                    comparator_cindex=result["c_b"],
                    diff=result["diff"],
                    se=result["se"],
                    lower=result["diff"] - q * result["se"],
                    upper=result["diff"] + q * result["se"],
                    p_value=result["p_value"],
                )
            rows.append(row)
    return pd.DataFrame(rows)


def signature_km_figure(signature: pd.DataFrame, clinical: pd.DataFrame, split: str, *, model: str, time_months=36.0):
    """Kaplan-Meier curves of a signature split at its training-set median (Fig. S1).

    High risk = signature above the median of the training patients; the same cut-off
    applies to the test set.
    """
    from survsig.survival.km_figure import km_risk_figure

    groups = signature.merge(
        clinical[[col.PATIENT_ID, col.OS_MONTHS, col.OS_EVENT]], on=col.PATIENT_ID, how="left", validate="one_to_one"
    )
    if groups[col.OS_MONTHS].isna().any():
        patient = groups.loc[groups[col.OS_MONTHS].isna(), col.PATIENT_ID].iloc[0]
        raise InputError("signature patient is not in the clinical sheet", patient=patient)
    cutoff = float(groups.loc[groups[col.SPLIT] == "train", "signature"].median())
    groups[col.RISK_GROUP] = np.where(groups["signature"] > cutoff, col.HIGH, col.LOW)
    return km_risk_figure(
        groups,
        {"cutoff": cutoff},
        split,
        title=signature_label(model),
        time_months=time_months,
        cutoff_text=f"High risk = signature above its training-set median ({cutoff:.3g})",
    )
