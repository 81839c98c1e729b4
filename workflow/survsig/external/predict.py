"""New patients scored from their images by a finished run (``survsig predict``).

A sheet of new patients (``patient_id``, their CT, PET and ROI as in the image sheet, and
the clinical columns the nomogram needs) and a finished run's results folder give, per
patient: every signature of the run, the nomogram's points, total points, linear
predictor and survival at its times, the risk group by the training cut-off and the terms
outside the training range. Only the frozen run is read (:class:`~survsig.external.frozen.FrozenRun`:
networks, scales, radiomics signature, nomograms, cut-offs), never the training data.

A patient scores as the run scored its own: the images are preprocessed with the run's
settings, each signature is rounded as the signature files are (6 decimals) and the linear
predictor as the scores files are (10 significant digits) before the cut-off is applied.
"""

from __future__ import annotations

import io
import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from survsig.cohort.validate import validate_images
from survsig.core import columns as col
from survsig.core.errors import InputError
from survsig.core.io import write_tsv
from survsig.core.paths import checked_output_path
from survsig.core.vocabulary import RADIOMICS
from survsig.external.frozen import FrozenRun
from survsig.imaging.preprocess import preprocess_patient
from survsig.imaging.signature import FrozenSignature
from survsig.imaging.slices import save_patient_slices
from survsig.statistics.nomogram import CoxNomogram
from survsig.statistics.scoring import read_new_patients, score_new_patients
from survsig.statistics.stratify import assign_risk_groups
from survsig.statistics.terms import SIGNATURE_PREFIX

log = logging.getLogger(__name__)

#: The nomogram ``survsig predict`` uses unless told otherwise (the study's)
DEFAULT_NOMOGRAM = "integrated"


def as_written(values, float_format: str) -> np.ndarray:
    """``values`` as a TSV of the run holds them (``"%.6f"``, ``"%.10g"``), written and read
    back by the same pandas writer and parser as the run's files."""
    buffer = io.StringIO()
    pd.DataFrame({"value": np.asarray(values, dtype=float)}).to_csv(buffer, index=False, float_format=float_format)
    buffer.seek(0)
    return pd.read_csv(buffer)["value"].to_numpy(dtype=float)


def _image_signatures(run: FrozenRun, images: pd.DataFrame, *, threads=None, progress=None) -> dict:
    """Every signature of the run for the patients of ``images`` (``patient_id, ct, pet, roi``)."""
    patients = images[col.PATIENT_ID].astype(str).tolist()
    signatures = {}
    with tempfile.TemporaryDirectory(prefix="survsig-predict-") as folder:
        slice_files = []
        for number, row in enumerate(images.itertuples(index=False), start=1):
            patient = preprocess_patient(row.patient_id, row.ct, row.pet, row.roi, run.preprocess)
            path = Path(folder) / f"{number:06d}.npz"
            save_patient_slices(patient, path)
            slice_files.append(str(path))
            if progress:
                progress(number, len(patients), row.patient_id, f"preprocessed, {len(patient.slices)} slices")
        for name, path in run.signatures.items():
            if name == RADIOMICS:
                continue
            frozen = FrozenSignature.load(path)
            signatures[name] = frozen.score(run.results_dir, slice_files, patients, threads=threads)
            if progress:
                progress(len(patients), len(patients), "all", f"signature {name}")
        if RADIOMICS in run.signatures:
            signatures[RADIOMICS] = _radiomics_signature(run, images, Path(folder) / "features.tsv")
            if progress:
                progress(len(patients), len(patients), "all", f"signature {RADIOMICS}")
    return {name: as_written(values, "%.6f") for name, values in signatures.items()}


def _radiomics_signature(run: FrozenRun, images: pd.DataFrame, table_path) -> np.ndarray:
    """The radiomics signature of the patients of ``images``, their features written and
    read back as the run's feature tables are (10 significant digits), so that a patient
    scores as the run scored it."""
    from survsig.imaging.radiomic_features import (
        FEATURE_TABLE_FORMAT,
        FrozenRadiomics,
        RadiomicsSettings,
        extract_features,
        read_feature_tables,
    )

    patients = images[col.PATIENT_ID].astype(str).tolist()
    columns = {m: images[m].tolist() for m in ("ct", "pet", "roi")}
    table = extract_features(patients, columns, columns["roi"], RadiomicsSettings.from_config(run.radiomics or {}))
    write_tsv(table, table_path, float_format=FEATURE_TABLE_FORMAT)
    return FrozenRadiomics.load(run.signatures[RADIOMICS]).signature(read_feature_tables([table_path]).loc[patients])


def predict_patients(sheet_path, results_dir, *, nomogram=DEFAULT_NOMOGRAM, threads=None, progress=None):
    """Score the new patients of ``sheet_path`` from their images with the run of ``results_dir``.

    Parameters
    ----------
    sheet_path : path
        CSV or TSV: ``patient_id``, ``ct``, ``pet``, ``roi`` (paths relative to the sheet's
        folder, or absolute) and the clinical columns of the nomogram's terms, in the
        canonical names and labels.
    results_dir : path
        A finished run's results folder with its frozen run (``frozen/run.json``).
    nomogram : str
        The nomogram that scores the patients.
    threads : int, optional
        Torch's CPU threads.
    progress : callable, optional
        ``progress(number, total, patient_id, message)``.

    Returns
    -------
    pandas.DataFrame
        ``patient_id``, ``signature_{name}`` per signature of the run, the nomogram's
        ``points_{term}``, ``total_points``, ``lp``, ``survival_{t}m``, ``risk_group``
        (when the run has the nomogram's cut-off) and ``outside_training_range``.

    Raises
    ------
    InputError
        A results folder that is incomplete or mixes runs (naming the file), a nomogram
        the run has not got, and every refusal of the image sheet's checks, the
        preprocessing and :func:`~survsig.statistics.scoring.score_new_patients`.
    """
    run = FrozenRun.load(results_dir)
    if nomogram not in run.nomograms:
        raise InputError(f"the run has no nomogram {nomogram!r} (nomograms: {', '.join(run.nomograms)})")
    model = CoxNomogram.load(run.nomograms[nomogram])
    sheet = read_new_patients(sheet_path)
    if col.PATIENT_ID not in sheet.columns:
        raise InputError("the sheet of new patients lacks this column", file=sheet_path, column=col.PATIENT_ID)
    made = [name for name in sheet.columns if str(name).startswith(SIGNATURE_PREFIX)]
    if made:
        raise InputError(
            "the sheet holds a signature column: predict makes the signatures from the images",
            file=sheet_path,
            column=made[0],
        )
    ids = sheet[col.PATIENT_ID].astype(str).tolist()
    images = validate_images(sheet_path, ids)
    signatures = _image_signatures(run, images, threads=threads, progress=progress)
    frame = sheet.copy()
    for name, values in signatures.items():
        frame[f"{SIGNATURE_PREFIX}{name}"] = values
    table = score_new_patients(model, frame, file=str(sheet_path))
    at = 1
    for name, values in signatures.items():
        table.insert(at, f"{SIGNATURE_PREFIX}{name}", values)
        at += 1
    if nomogram in run.cutoffs:
        lp = as_written(model.predict_lp(frame, file=str(sheet_path)), "%.10g")
        table.insert(
            table.columns.get_loc("outside_training_range"),
            col.RISK_GROUP,
            assign_risk_groups(lp, run.cutoffs[nomogram]),
        )
    else:
        log.warning("the run has no cut-off of nomogram %s: no risk group", nomogram)
    return table


def predict_patients_file(sheet_path, results_dir, output_path, **options) -> pd.DataFrame:
    """:func:`predict_patients`, written to ``output_path`` (TSV) only when every patient scored."""
    checked_output_path(output_path, what="the output", inputs=(sheet_path,))
    table = predict_patients(sheet_path, results_dir, **options)
    write_tsv(table, output_path, float_format="%.10g")
    return table
