"""Train/test split of the cohort: the sheet's own ``split`` column, or a seeded split
stratified by the OS event indicator (the study's 6:4 split).
"""

from __future__ import annotations

import logging
import math
import numbers

import numpy as np
import pandas as pd

from survsig.core.columns import OS_EVENT, PATIENT_ID, SPLIT, SPLIT_LEVELS
from survsig.core.errors import InputError

log = logging.getLogger(__name__)

TRAIN, TEST = SPLIT_LEVELS


def _check_options(train_fraction, seed, stratify_by_event, from_sheet):
    problems = []
    if (
        isinstance(train_fraction, bool)
        or not isinstance(train_fraction, numbers.Real)
        or not math.isfinite(float(train_fraction))
        or not 0 < float(train_fraction) < 1
    ):
        problems.append(f"train_fraction must be a number strictly between 0 and 1, got {train_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        problems.append(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(stratify_by_event, (bool, np.bool_)):
        problems.append(f"stratify_by_event must be true or false, got {stratify_by_event!r}")
    if not isinstance(from_sheet, (bool, np.bool_)):
        problems.append(f"from_sheet must be true or false, got {from_sheet!r}")
    if problems:
        raise InputError("invalid split options: " + "; ".join(problems))


def _sheet_split(clinical: pd.DataFrame) -> pd.Series:
    """The sheet's split labels, checked: only train/test, both splits non-empty."""
    labels = clinical[SPLIT]
    for row, (patient, label) in enumerate(zip(clinical[PATIENT_ID], labels), start=1):
        if not isinstance(label, str) or label not in SPLIT_LEVELS:
            shown = "missing" if pd.isna(label) else repr(label)
            raise InputError(
                f"split label {shown} is not one of {', '.join(SPLIT_LEVELS)}",
                patient=patient,
                row=row,
                column=SPLIT,
            )
    for level in SPLIT_LEVELS:
        if not (labels == level).any():
            raise InputError(f"no patient is labelled '{level}'; both splits need patients", column=SPLIT)
    return labels.astype(str)


def _allocate(sizes: list[int], total: int) -> list[int]:
    """Split ``total`` over strata proportionally to ``sizes`` (largest remainder).

    Ties of the remainder go to the stratum listed first, so the result is deterministic.
    """
    n = sum(sizes)
    quotas = [size * total / n for size in sizes]
    counts = [math.floor(q) for q in quotas]
    order = sorted(range(len(sizes)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _random_split(clinical, n_train, seed, stratify_by_event) -> np.ndarray:
    """Boolean mask of training patients, in the sheet's row order."""
    n = len(clinical)
    if stratify_by_event:
        events = clinical[OS_EVENT]
        bad = ~events.isin([0, 1])
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"os_event must be 0 or 1 to stratify the split, got {events.iloc[row]!r}",
                patient=clinical[PATIENT_ID].iloc[row],
                row=row + 1,
                column=OS_EVENT,
            )
        strata = events.astype(int).to_numpy()
    else:
        strata = np.zeros(n, dtype=int)
    # Patients are ordered by id inside each stratum before the shuffle, so the split
    # depends on the cohort and the seed only, not on the order of the sheet's rows.
    ids = clinical[PATIENT_ID].astype(str).to_numpy()
    keys = sorted(set(strata.tolist()))
    members = [np.flatnonzero(strata == key) for key in keys]
    members = [idx[np.argsort(ids[idx], kind="stable")] for idx in members]
    quota = _allocate([len(idx) for idx in members], n_train)
    rng = np.random.default_rng(seed)
    train = np.zeros(n, dtype=bool)
    for idx, k in zip(members, quota):
        train[rng.permutation(idx)[:k]] = True
    return train


def split_cohort(
    clinical: pd.DataFrame,
    *,
    train_fraction: float = 0.6,
    seed: int,
    stratify_by_event: bool = True,
    from_sheet: bool = True,
) -> pd.DataFrame:
    """Assign every patient to the training or the test set.

    Parameters
    ----------
    clinical : pandas.DataFrame
        Validated clinical sheet with canonical columns (see :mod:`survsig.core.columns`):
        ``patient_id`` (unique), ``os_event`` (0/1, needed when stratifying) and
        optionally ``split`` (``train``/``test``).
    train_fraction : float, default 0.6
        Fraction of patients in the training set, strictly between 0 and 1. The
        training set holds exactly ``round(n * train_fraction)`` patients (halves
        rounded up); the test set the rest.
    seed : int
        Seed (>= 0) of the :class:`numpy.random.Generator` that shuffles the patients.
    stratify_by_event : bool, default True
        Keep the share of deaths (``os_event == 1``) equal in both sets: each stratum's
        training quota is its proportional share of the training size (largest
        remainder), so the training set's event count is within 0.5 of
        ``n_events * n_train / n``.
    from_sheet : bool, default True
        When the sheet has a ``split`` column, use it unchanged (labels must be
        ``train`` or ``test`` and both sets non-empty). Without the column, or with
        ``from_sheet=False``, the seeded split is drawn.

    Returns
    -------
    pandas.DataFrame
        Columns ``patient_id`` and ``split`` (``train``/``test``), one row per patient in
        the clinical sheet's row order.

    Raises
    ------
    InputError
        For invalid options (all problems in one message), a missing column, duplicate
        patient ids, a bad ``split`` label (naming patient, row and column), an
        ``os_event`` that is not 0/1, or a cohort too small to fill both sets.

    Notes
    -----
    The same cohort and seed give the same split whatever the order of the sheet's rows:
    patients are ordered by ``patient_id`` inside each stratum before the shuffle.
    """
    _check_options(train_fraction, seed, stratify_by_event, from_sheet)
    if PATIENT_ID not in clinical.columns:
        raise InputError("the clinical sheet has no patient id column", column=PATIENT_ID)
    duplicated = clinical[PATIENT_ID].duplicated()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise InputError("duplicate patient id", patient=clinical[PATIENT_ID].iloc[row], row=row + 1, column=PATIENT_ID)
    out = pd.DataFrame({PATIENT_ID: clinical[PATIENT_ID].to_numpy()})

    if from_sheet and SPLIT in clinical.columns:
        out[SPLIT] = _sheet_split(clinical).to_numpy()
        log.info(
            "split from the sheet's '%s' column: %d train, %d test",
            SPLIT,
            int((out[SPLIT] == TRAIN).sum()),
            int((out[SPLIT] == TEST).sum()),
        )
        return out

    n = len(clinical)
    n_train = math.floor(n * float(train_fraction) + 0.5)
    if n_train < 1 or n_train > n - 1:
        raise InputError(
            f"cannot split {n} patients with train_fraction {train_fraction}: "
            f"{n_train} training and {n - n_train} test patients; both sets need patients"
        )
    if stratify_by_event and OS_EVENT not in clinical.columns:
        raise InputError("stratify_by_event needs the event column", column=OS_EVENT)
    train = _random_split(clinical, n_train, int(seed), bool(stratify_by_event))
    out[SPLIT] = np.where(train, TRAIN, TEST)
    if stratify_by_event:
        events = clinical[OS_EVENT].astype(int).to_numpy()
        log.info(
            "seeded split (seed %d), stratified by event: %d train (%d events), %d test (%d events)",
            seed,
            int(train.sum()),
            int(events[train].sum()),
            int((~train).sum()),
            int(events[~train].sum()),
        )
    else:
        log.info("seeded split (seed %d): %d train, %d test", seed, int(train.sum()), int((~train).sum()))
    return out
