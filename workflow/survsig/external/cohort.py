"""An external cohort's sheets: the training cohort's checks, and none of its patients.

An external cohort is checked exactly as the training cohort is
(:func:`survsig.cohort.validate.validate_cohort`: the same sheet contract, the same column
names and labels mapping, the same messages), then against the training cohort: a patient
id or an image file that the training cohort also holds would let the networks and
nomograms score patients they were fit on (leakage), so it is refused.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from survsig.cohort.validate import ValidatedCohort, validate_cohort
from survsig.core import columns as col
from survsig.core.errors import InputError
from survsig.core.io import read_table

log = logging.getLogger(__name__)


def _real(path) -> str:
    return os.path.realpath(os.path.expanduser(str(path)))


def check_no_training_patients(
    external: ValidatedCohort, training_clinical: pd.DataFrame, training_images: pd.DataFrame, *, files=None
) -> None:
    """Refuse an external cohort that shares a patient id or an image file with the training cohort.

    Parameters
    ----------
    external : ValidatedCohort
        The validated external sheets (image paths relative to the working directory).
    training_clinical, training_images : pandas.DataFrame
        The training cohort's validated sheets.
    files : dict, optional
        ``clinical``, ``images`` (the external sheets) and ``training`` (the training
        cohort's validated clinical sheet), named in the messages.

    Raises
    ------
    InputError
        Naming the external sheet, the patient and the column.
    """
    files = files or {}
    training_ids = set(training_clinical[col.PATIENT_ID].astype(str))
    for i, pid in enumerate(external.clinical[col.PATIENT_ID].astype(str)):
        if pid in training_ids:
            raise InputError(
                f"patient id is also a patient of the training cohort ({files.get('training', 'the training sheet')}): "
                "an external cohort must hold other patients, or its C-index measures patients the models were fit on",
                file=files.get("clinical"),
                patient=pid,
                row=i + 1,
                column=col.PATIENT_ID,
            )
    training_files = {}
    for _, row in training_images.iterrows():
        for modality in col.IMAGE_MODALITIES:
            training_files.setdefault(_real(row[modality]), (str(row[col.PATIENT_ID]), modality))
    for i, row in external.images.reset_index(drop=True).iterrows():
        for modality in col.IMAGE_MODALITIES:
            owner = training_files.get(_real(row[modality]))
            if owner is not None:
                raise InputError(
                    f"image {row[modality]} is also the {owner[1].upper()} of training patient {owner[0]}: "
                    "an external cohort must hold other patients' images",
                    file=files.get("images"),
                    patient=str(row[col.PATIENT_ID]),
                    row=i + 1,
                    column=modality,
                )


def validate_external(
    *, clinical, images, training_clinical, training_images, columns=None, labels=None
) -> ValidatedCohort:
    """Validate an external cohort's clinical and image sheets.

    Parameters
    ----------
    clinical, images : str or path
        The external cohort's sheets (the contract of the training cohort's).
    training_clinical, training_images : str or path
        The training cohort's validated sheets (``results/validated/``).
    columns, labels : dict, optional
        The column names and labels mapping (``cohort.columns``, ``cohort.labels``, or
        the external cohort's own).

    Returns
    -------
    ValidatedCohort
        Without RNA-seq counts.

    Raises
    ------
    InputError
        Every refusal of :func:`~survsig.cohort.validate.validate_cohort`, and a patient id
        or image shared with the training cohort (:func:`check_no_training_patients`).
    """
    cohort = validate_cohort(clinical=clinical, images=images, columns=columns, labels=labels)
    check_no_training_patients(
        cohort,
        read_table(training_clinical, dtype={col.PATIENT_ID: str}),
        read_table(training_images, dtype={col.PATIENT_ID: str}),
        files={"clinical": str(clinical), "images": str(images), "training": str(Path(training_clinical))},
    )
    log.info("external cohort valid: %d patients, none of them in the training cohort", len(cohort.clinical))
    return cohort
