"""Scoring patients with a fitted nomogram: the scores file and sheets of new patients.

:func:`score_table` gives the linear predictor of each patient of the study (the scores
file). :func:`score_new_patients` scores a sheet of new patients (points per term, total
points, linear predictor, survival) once every row is checked: continuous values outside
the training range are flagged, those beyond :func:`~survsig.statistics.nomogram.accepted_range` refused.
:func:`score_new_patients_file` is the one implementation behind ``survsig score`` and rule
``score_new``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from survsig.core import columns as col
from survsig.core.errors import InputError
from survsig.core.io import first_repeat, read_table, write_tsv
from survsig.core.paths import SHEET_MAX_BYTES, checked_input_path, checked_output_path

# the accepted values are the nomogram's: its file is refused when they could score
# beyond its MAX_ABS_LP
from survsig.statistics.nomogram import CoxNomogram, accepted_range, plausible_bounds
from survsig.statistics.terms import design_matrix

log = logging.getLogger(__name__)


def score_table(nomogram: CoxNomogram, frame: pd.DataFrame) -> pd.DataFrame:
    """``patient_id, split, os_months, os_event, lp`` for every patient (the scores file)."""
    return pd.DataFrame(
        {
            col.PATIENT_ID: frame[col.PATIENT_ID].to_numpy(),
            col.SPLIT: frame[col.SPLIT].to_numpy(),
            col.OS_MONTHS: frame[col.OS_MONTHS].to_numpy(dtype=float),
            col.OS_EVENT: frame[col.OS_EVENT].to_numpy(dtype=int),
            "lp": nomogram.predict_lp(frame),
        }
    )


#: Column that lists, per new patient, the terms whose values lie outside the
#: training range (``;``-separated; empty when none).
OUTSIDE_TRAINING_RANGE = "outside_training_range"


def score_new_patients(nomogram: CoxNomogram, sheet: pd.DataFrame, *, file=None) -> pd.DataFrame:
    """Score a sheet of new patients: points per term, total points, lp and survival.

    The sheet needs ``patient_id`` and the columns of the nomogram's terms, in the
    canonical names and labels (``rT_stage`` as T0-T4, ``signature_{model}`` already
    standardised with the training statistics, as the signature files are).

    Checks come first; the first failure raises and nothing is scored:

    * every row has a patient id and no id repeats;
    * every term's column is there, with finite numbers or the term's labels;
    * continuous values lie in :func:`~survsig.statistics.nomogram.accepted_range`: the training range widened by
      its width on each side, within the column's plausible bounds (age 0-120 years,
      SUV 0-200 g/mL). Beyond it a value is a typo or a unit error, or so far from the
      training data that the nomogram's extrapolation means nothing (age 300 would
      score 185 points on a 0-100 axis): it is refused, naming patient, row and column.

    Values inside the accepted range but outside the training range are scored (their
    points extrapolate the axis linearly, so they may fall below 0 or beyond the axis)
    and flagged: column ``outside_training_range`` names those terms, ``;``-separated.

    Survival at a time after the longest follow-up of the training data
    (``max_followup_months_``) is NaN, with a warning: the baseline hazard is unknown
    there (:meth:`survsig.statistics.nomogram.CoxNomogram.cumulative_hazard`).

    Parameters
    ----------
    nomogram : CoxNomogram
    sheet : pandas.DataFrame
    file : str, optional
        The sheet's file; errors then name it and its 1-based data row.

    Returns
    -------
    pandas.DataFrame
        ``patient_id``, ``points_{term}`` per term, ``total_points``, ``lp``,
        ``survival_{t}m`` per survival time and ``outside_training_range``, one row
        per patient in the sheet's order.

    Raises
    ------
    InputError
        On the first bad row, naming the file, patient, row and column.
    """
    nomogram._check_fitted()

    def row(i):  # a file's data row; without a file the patient says it
        return i + 1 if file is not None else None

    if col.PATIENT_ID not in sheet.columns:
        raise InputError("the sheet lacks the patient id column", file=file, column=col.PATIENT_ID)
    if sheet.empty:
        raise InputError("the sheet has no patients", file=file)
    raw_ids = sheet[col.PATIENT_ID].reset_index(drop=True)
    ids = raw_ids.astype(str)
    missing = raw_ids.isna().to_numpy() | ids.str.strip().eq("").to_numpy()
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise InputError("patient id is missing", file=file, row=i + 1, column=col.PATIENT_ID)
    repeated = ids.duplicated().to_numpy()
    if repeated.any():
        i = int(np.flatnonzero(repeated)[0])
        first = int(np.flatnonzero(ids.eq(ids.iloc[i]).to_numpy())[0])
        raise InputError(
            f"duplicate patient id (first in data row {first + 1})",
            file=file,
            patient=ids.iloc[i],
            row=row(i),
            column=col.PATIENT_ID,
        )
    frame = sheet.reset_index(drop=True).assign(**{col.PATIENT_ID: ids})

    X = design_matrix(frame, nomogram.terms, file=file)
    outside = [[] for _ in range(len(frame))]
    for term in nomogram.terms:
        if term.kind != "continuous":
            continue
        values = X[term.name].to_numpy()
        low, high = accepted_range(nomogram, term)
        bad = (values < low) | (values > high)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            train_low, train_high = nomogram.training_range_[term.name]
            bounds = plausible_bounds().get(term.source)
            cut = "" if bounds is None else f", cut to the plausible {bounds[0]:g} to {bounds[1]:g}"
            raise InputError(
                f"{values[i]:g} is refused: the nomogram scores {term.source} from {low:g} to {high:g} (the training "
                f"range {train_low:g} to {train_high:g} widened by its width on each side{cut}); a typo or another "
                "unit?",
                file=file,
                patient=ids.iloc[i],
                row=row(i),
                column=term.source,
            )
        train_low, train_high = nomogram.training_range_[term.name]
        for i in np.flatnonzero((values < train_low) | (values > train_high)):
            outside[i].append(term.name)

    out = nomogram.points(frame, file=file).reset_index(drop=True)
    survival = nomogram.predict_survival(frame, nomogram.survival_times, file=file)
    for j, t in enumerate(nomogram.survival_times):
        out[f"survival_{t:g}m"] = survival[:, j]
    beyond = [t for t in nomogram.survival_times if t > nomogram.max_followup_months_]
    if beyond:
        log.warning(
            "survival at %s months is left empty (NaN): the training data's follow-up ends at %g months, "
            "after which the baseline hazard is unknown",
            ", ".join(f"{t:g}" for t in beyond),
            nomogram.max_followup_months_,
        )
    out[OUTSIDE_TRAINING_RANGE] = [";".join(names) for names in outside]
    flagged = [i for i, names in enumerate(outside) if names]
    if flagged:
        log.warning(
            "%d patient(s) have values outside the training range, scored by extrapolation and flagged in "
            "column %s (first: patient %s, %s)",
            len(flagged),
            OUTSIDE_TRAINING_RANGE,
            ids.iloc[flagged[0]],
            ", ".join(outside[flagged[0]]),
        )
    return out


def read_new_patients(path) -> pd.DataFrame:
    """The sheet of new patients (CSV or TSV; patient ids read as text).

    Raises
    ------
    InputError
        The sheet is not a regular file that may be read (a folder, a named pipe, a
        device: :func:`~survsig.core.paths.checked_input_path`) or is larger than
        :data:`~survsig.core.paths.SHEET_MAX_BYTES`, cannot be read or parsed, or a
        column name repeats in its header (pandas would read the first and rename the
        second).
    """
    checked_input_path(path, what="the sheet of new patients", max_bytes=SHEET_MAX_BYTES)
    try:
        header = read_table(path, header=None, nrows=1, dtype=str).iloc[0].tolist()
        sheet = read_table(path, dtype={col.PATIENT_ID: str})
    except OSError as err:
        raise InputError(f"cannot read the sheet of new patients ({err.strerror or err})", file=path) from None
    except ValueError as err:  # pandas' parser errors, an empty file, bytes that are not text
        reason = " ".join(str(err).split())
        raise InputError(f"cannot read the sheet of new patients ({reason})", file=path) from None
    repeated = first_repeat(str(name) for name in header)
    if repeated is not None:
        raise InputError("column name repeats in the header", file=path, column=repeated)
    return sheet


def score_new_patients_file(nomogram_path, sheet_path, output_path) -> pd.DataFrame:
    """Score the sheet of new patients ``sheet_path`` with the nomogram file
    ``nomogram_path`` and write the table to ``output_path`` (TSV).

    One implementation for ``survsig score`` and rule ``score_new``: the output path is
    checked first (:func:`~survsig.core.paths.checked_output_path`: not empty, not a
    folder or a device, neither of the two inputs), then every check of
    :meth:`survsig.statistics.nomogram.CoxNomogram.load`, :func:`read_new_patients` and
    :func:`score_new_patients` runs before anything is written, and the table is written
    atomically, so on an error no output exists (a write the disk refuses names
    ``output_path``).

    Returns
    -------
    pandas.DataFrame
        The table written (:func:`score_new_patients`).
    """
    checked_output_path(output_path, what="the output", inputs=(nomogram_path, sheet_path))
    nomogram = CoxNomogram.load(nomogram_path)
    table = score_new_patients(nomogram, read_new_patients(sheet_path), file=str(sheet_path))
    write_tsv(table, output_path, float_format="%.10g")
    log.info("scored %d new patient(s) with nomogram %s: %s", len(table), nomogram.name or nomogram_path, output_path)
    return table
