"""Which training patients a signature network fits and validates on, and its batches.

A validation fold drawn from the training set (never the test set), stratified by
event, picks the epochs to keep: each network's own random holdout, or, with
``imaging.train.validation: folds``, the folds of a cross-validated fold ensemble (one
per member). The fit patients are shuffled each epoch into batches that each hold
events, as the Cox loss ranks the patients of a batch.
"""

from __future__ import annotations

import math

import numpy as np

from survsig.core.errors import InputError
from survsig.imaging.train_settings import TrainSettings


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
