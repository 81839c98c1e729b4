"""The built-in synthetic cohort, simulated and written: a stand-in for private patient data with known truth.

:func:`simulate_cohort` draws the patients (:mod:`survsig.cohort.patients`), warns when a
lesion reaches the border of a field of view (:func:`survsig.cohort.phantoms.lesion_margins`),
renders and writes each patient's CT, PET and ROI in worker processes
(:func:`render_patient`, with :mod:`survsig.cohort.phantoms` and
:mod:`survsig.cohort.image_files`, or as a hospital's DICOM export with
:mod:`survsig.cohort.dicom_export`), then writes the clinical sheet, the image sheet (not
for the export: its import writes it), the ground truth and the RNA-seq counts with their gene-set library
(:mod:`survsig.cohort.simulate_rnaseq`).

Everything derives from one seed: the same configuration gives byte-identical files.
"""

from __future__ import annotations

import concurrent.futures
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from survsig.cohort.dicom_export import write_patient_export
from survsig.cohort.image_files import image_formats, image_name, write_image
from survsig.cohort.patients import DICOM_EXPORT, GROUND_TRUTH_COLUMNS, SyntheticSettings, simulate_patients
from survsig.cohort.phantoms import lesion_margins, patient_geometry, render_ct, render_pet
from survsig.cohort.simulate_rnaseq import simulate_rnaseq
from survsig.core import columns as col
from survsig.core.io import write_tsv

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- images
def render_patient(settings: SyntheticSettings, index, traits, has_node, out_dir):
    """Render and write one patient's CT, PET and ROI; return its SUV measurements.

    ``traits`` holds the patient's id, sex and latent traits. The images are written to
    ``out_dir`` as files, or with ``image_format`` :data:`DICOM_EXPORT` as the patient's
    DICOM export in ``out_dir/{patient_id}`` (:mod:`survsig.cohort.dicom_export`).
    """
    import SimpleITK as sitk

    sitk.ProcessObject_SetGlobalDefaultNumberOfThreads(1)
    rng, ct_grid, pet_grid, tumour, node = patient_geometry(settings, index, traits, has_node)
    ct, roi = render_ct(ct_grid, tumour, rng)
    pet, suv = render_pet(pet_grid, tumour, traits, node, rng, settings.pet_calibration)
    pid = traits[col.PATIENT_ID]
    out_dir = Path(out_dir)
    suv["tumor_volume_ml"] = float(roi.sum() * np.prod(ct_grid.spacing) / 1000.0)
    if settings.image_format == DICOM_EXPORT:
        write_patient_export(
            out_dir / pid,
            patient_id=pid,
            seed=settings.seed,
            index=index,
            sex=traits["sex"],
            ct=ct,
            ct_grid=ct_grid,
            pet=pet,
            pet_grid=pet_grid,
            roi=roi,
        )
        return suv
    formats = image_formats(settings, index)
    for modality, array, grid, dicom_modality in (
        ("ct", ct, ct_grid, "CT"),
        ("pet", pet, pet_grid, "PT"),
        ("roi", roi, ct_grid, None),
    ):
        fmt = formats[modality]
        path = out_dir / image_name(pid, modality, fmt)
        write_image(array, grid, path, fmt, modality=dicom_modality, patient_id=pid, seed=settings.seed)
    return suv


def image_sheet(settings: SyntheticSettings, patient_ids, image_dir_name) -> pd.DataFrame:
    """The image sheet of image files: each patient's CT, PET and ROI path, relative to the sheet."""
    formats = [image_formats(settings, i) for i in range(len(patient_ids))]
    return pd.DataFrame(
        {
            col.PATIENT_ID: patient_ids,
            **{
                m: [f"{image_dir_name}/{image_name(p, m, f[m])}" for p, f in zip(patient_ids, formats)]
                for m in col.IMAGE_MODALITIES
            },
        }
    )


# --------------------------------------------------------------------------- cohort
def simulate_cohort(settings: SyntheticSettings, out, *, threads=1):
    """Simulate the whole cohort and write it.

    Parameters
    ----------
    settings : SyntheticSettings
    out : dict
        Output paths with keys ``clinical``, ``images``, ``image_dir``, ``rnaseq``,
        ``rnaseq_truth``, ``genesets``, ``ground_truth`` (the rule's outputs); with
        ``image_format`` :data:`~survsig.cohort.patients.DICOM_EXPORT`, ``dicom_dir`` (the
        export's folder, one folder per patient) instead of ``images`` and ``image_dir``.
        Without ``rnaseq`` no counts, gene truth or gene sets are written.
    threads : int
        Worker processes rendering images.

    Returns
    -------
    pandas.DataFrame
        The patients with clinical columns, SUVs, latent traits and linear predictors.
    """
    patients = simulate_patients(settings)
    margins = lesion_margins(settings, patients)
    for modality in ("ct", "pet"):
        outside = margins[f"{modality}_cut"]
        if outside.any():
            log.warning(
                "%d patient(s) have a lesion reaching the border of the %s field of view "
                "(synthetic.%s_size x %s_spacing), e.g. %s: the image cuts it off",
                int(outside.sum()),
                modality.upper(),
                modality,
                modality,
                margins.loc[outside, col.PATIENT_ID].iloc[0],
            )
    export = settings.image_format == DICOM_EXPORT
    image_dir = Path(out["dicom_dir" if export else "image_dir"])
    image_dir.mkdir(parents=True, exist_ok=True)
    trait_rows = patients[[col.PATIENT_ID, "sex", *GROUND_TRUTH_COLUMNS[7:12]]].to_dict("records")
    has_node = patients["has_node"].tolist()
    n = len(patients)
    log.info("rendering CT, PET and ROI of %d patients with %d worker(s)", n, threads)
    measurements = [None] * n
    step = max(1, n // 10)
    with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, threads)) as pool:
        futures = {pool.submit(render_patient, settings, i, trait_rows[i], has_node[i], image_dir): i for i in range(n)}
        for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
            measurements[futures[future]] = future.result()
            if done % step == 0 or done == n:
                log.info("rendered %d/%d patients", done, n)
    measured = pd.DataFrame(measurements, index=patients.index)
    patients = pd.concat([patients, measured], axis=1)

    clinical = patients[[*col.CLINICAL_REQUIRED, *col.SUV_COLUMNS]].copy()
    for name in col.SUV_COLUMNS:
        clinical[name] = clinical[name].round(2)
    write_tsv(clinical, out["clinical"], float_format="%.2f")
    if not export:  # the export's image sheet is written by its import (rule import_dicom)
        write_tsv(image_sheet(settings, patients[col.PATIENT_ID], image_dir.name), out["images"])
    write_tsv(patients[list(GROUND_TRUTH_COLUMNS)], out["ground_truth"], float_format="%.6f")

    if "rnaseq" not in out:  # a cohort without sequencing (an external centre's)
        log.info("wrote %d patients, no RNA-seq", n)
        return
    from survsig.core.genesets import write_gmt

    counts, gene_truth, library, planted = simulate_rnaseq(settings, patients)
    write_tsv(counts, out["rnaseq"])
    write_tsv(gene_truth, out["rnaseq_truth"], float_format="%.6f")
    write_gmt(library, out["genesets"], description="synthetic" if not settings.genesets else "real")
    log.info(
        "wrote %d patients, %d RNA-seq samples x %d genes, planted pathways: %s",
        n,
        counts.shape[1] - 1,
        counts.shape[0],
        ", ".join(f"{k} ({'up' if v > 0 else 'down'})" for k, v in planted.items()),
    )
    return patients
