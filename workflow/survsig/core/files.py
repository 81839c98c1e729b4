"""The files the stages pass to each other, with one reader each.

Each reader checks what its file must hold (columns of :mod:`survsig.core.columns`, one row
per patient, values in range) and raises one :class:`~survsig.core.errors.InputError`
naming the file, the patient, the row and the column of the first problem.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from survsig.core.columns import (
    LP,
    OS_EVENT,
    OS_MONTHS,
    PATIENT_ID,
    RISK_GROUP,
    RISK_GROUP_COLUMNS,
    RISK_LEVELS,
    SCORE_COLUMNS,
    SCORED_SPLITS,
    SPLIT,
    SPLIT_COLUMNS,
    SPLIT_LEVELS,
)
from survsig.core.errors import InputError
from survsig.core.io import read_table


def _require_columns(frame, columns, *, file, what):
    for column in columns:
        if column not in frame.columns:
            raise InputError(f"the {what} lacks this column", file=file, column=column)


def _first_bad(mask, ids, column, message, *, file):
    mask = np.asarray(mask)
    if mask.any():
        row = int(np.flatnonzero(mask)[0])
        raise InputError(message, file=file, patient=ids.iloc[row], row=row + 1, column=column)


def _unique_ids(frame, *, file):
    ids = frame[PATIENT_ID].astype(str)
    _first_bad(frame[PATIENT_ID].isna().to_numpy(), ids, PATIENT_ID, "patient id is missing", file=file)
    _first_bad(ids.duplicated().to_numpy(), ids, PATIENT_ID, "duplicate patient", file=file)
    return ids


def check_split(split: pd.DataFrame, *, file=None) -> pd.DataFrame:
    """Check a split table (:data:`~survsig.core.columns.SPLIT_COLUMNS`): one row per patient, train or test.

    Returns
    -------
    pandas.DataFrame
        ``patient_id`` (str) and ``split``, in the file's order.
    """
    _require_columns(split, SPLIT_COLUMNS, file=file, what="split table")
    split = split.reset_index(drop=True)
    ids = _unique_ids(split, file=file)
    labels = split[SPLIT].astype(str)
    _first_bad(
        ~labels.isin(SPLIT_LEVELS).to_numpy(), ids, SPLIT, f"split must be one of {', '.join(SPLIT_LEVELS)}", file=file
    )
    return pd.DataFrame({PATIENT_ID: ids.to_numpy(), SPLIT: labels.to_numpy()})


def read_split(path) -> pd.DataFrame:
    """``results/split.tsv`` (or a user's split sheet), checked by :func:`check_split`."""
    return check_split(read_table(path, dtype={PATIENT_ID: str, SPLIT: str}), file=path)


def check_scores(scores: pd.DataFrame, split: pd.DataFrame | None = None, *, file=None) -> pd.DataFrame:
    """Check a nomogram's score file, and return it in the split table's order.

    Parameters
    ----------
    scores : pandas.DataFrame
        Columns :data:`~survsig.core.columns.SCORE_COLUMNS`: ``patient_id``, ``split``
        (train/test), ``os_months`` (> 0), ``os_event`` (0/1) and ``lp`` (linear
        predictor, higher = higher risk), one row per patient.
    split : pandas.DataFrame, optional
        ``patient_id`` and ``split`` for every patient (``results/split.tsv``). When
        given, every patient of it must be scored, with the same split label, and no other.
    file : str, optional
        Name of the score file, for messages.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`~survsig.core.columns.SCORE_COLUMNS`, typed; in the split table's
        order when ``split`` is given, else in the file's.

    Raises
    ------
    InputError
        A missing column, a duplicate patient, a bad value (naming patient, row and
        column), a patient of the split table without score (or a scored patient the
        split table lacks), or a split label that differs from the split table.
    """
    _require_columns(scores, SCORE_COLUMNS, file=file, what="score file")
    scores = scores.reset_index(drop=True)
    ids = _unique_ids(scores, file=file)
    lp = pd.to_numeric(scores[LP], errors="coerce").to_numpy(dtype=float)
    _first_bad(~np.isfinite(lp), ids, LP, "the linear predictor is missing or not a finite number", file=file)
    months = pd.to_numeric(scores[OS_MONTHS], errors="coerce").to_numpy(dtype=float)
    _first_bad(~(np.isfinite(months) & (months > 0)), ids, OS_MONTHS, "os_months must be a number > 0", file=file)
    events = pd.to_numeric(scores[OS_EVENT], errors="coerce").to_numpy(dtype=float)
    _first_bad(~np.isin(events, (0, 1)), ids, OS_EVENT, "os_event must be 0 or 1", file=file)
    labels = scores[SPLIT].astype(str)
    _first_bad(
        ~labels.isin(SCORED_SPLITS).to_numpy(),
        ids,
        SPLIT,
        f"split must be one of {', '.join(SCORED_SPLITS)}",
        file=file,
    )
    if split is None:
        rows = np.arange(len(scores))
        out_ids = ids.to_numpy()
    else:
        split_ids = split[PATIENT_ID].astype(str)
        missing = split_ids[~split_ids.isin(ids)]
        if len(missing):
            raise InputError(
                f"patient of the split table has no score ({len(missing)} patient(s) missing)",
                file=file,
                patient=missing.iloc[0],
            )
        extra = ids[~ids.isin(split_ids)]
        if len(extra):
            row = int(extra.index[0])
            raise InputError("patient is not in the split table", file=file, patient=extra.iloc[0], row=row + 1)
        rows = pd.Series(np.arange(len(scores)), index=ids.to_numpy()).reindex(split_ids.to_numpy()).to_numpy()
        out_ids = split_ids.to_numpy()
    out = pd.DataFrame(
        {
            PATIENT_ID: out_ids,
            SPLIT: labels.to_numpy()[rows],
            OS_MONTHS: months[rows],
            OS_EVENT: events[rows].astype(int),
            LP: lp[rows],
        }
    )
    if split is not None:
        differs = out[SPLIT].to_numpy() != split[SPLIT].astype(str).to_numpy()
        if differs.any():
            i = int(np.flatnonzero(differs)[0])
            raise InputError(
                f"split {out[SPLIT].iloc[i]!r} differs from the split table's {split[SPLIT].iloc[i]!r}",
                file=file,
                patient=out[PATIENT_ID].iloc[i],
                row=int(rows[i]) + 1,
                column=SPLIT,
            )
    return out


def read_scores(path, split: pd.DataFrame | None = None) -> pd.DataFrame:
    """A nomogram's scores file, checked by :func:`check_scores`."""
    return check_scores(read_table(path, dtype={PATIENT_ID: str, SPLIT: str}), split, file=path)


def read_nomogram_scores(nomograms, paths) -> dict:
    """Nomogram -> its scores (:func:`read_scores`), for the nomograms and files given in pairs."""
    return {name: read_scores(path) for name, path in zip(nomograms, paths, strict=True)}


def read_risk_groups(path, *, columns=RISK_GROUP_COLUMNS) -> pd.DataFrame:
    """A risk-group table: ``results/risk_groups.tsv``, or a user's labels of the RNA-seq samples.

    Parameters
    ----------
    path : str or path
    columns : sequence of str, default :data:`~survsig.core.columns.RISK_GROUP_COLUMNS`
        The columns the table must have and that are returned (``patient_id`` and
        ``risk_group`` at least).

    Returns
    -------
    pandas.DataFrame
        ``columns``, one row per patient; ids stripped of spaces, groups ``low`` or
        ``high`` (a label's case and surrounding spaces do not matter).

    Raises
    ------
    InputError
        A missing column, a missing or repeated patient, a group other than low/high.
    """
    table = read_table(path, dtype={PATIENT_ID: str, SPLIT: str, RISK_GROUP: str})
    _require_columns(table, columns, file=path, what="risk group table")
    table = table[list(columns)].reset_index(drop=True)
    table[PATIENT_ID] = table[PATIENT_ID].str.strip()
    ids = _unique_ids(table, file=path)
    groups = table[RISK_GROUP].str.strip().str.lower()
    bad = ~groups.isin(RISK_LEVELS).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"risk group must be {' or '.join(repr(v) for v in RISK_LEVELS)}, got {table[RISK_GROUP].iloc[row]!r}",
            file=path,
            patient=ids.iloc[row],
            row=row + 1,
            column=RISK_GROUP,
        )
    table[RISK_GROUP] = groups.to_numpy()
    return table
