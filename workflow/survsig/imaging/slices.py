"""The preprocessed slices of a patient, as the preprocessing writes them and training reads them.

One compressed ``.npz`` per patient (``results/preprocessed/{batch}/{patient}.npz``): the
slices (float16, slices x channels x S x S), their axial positions and boxes; and a
manifest that lists a cohort's files, so that training and prediction read one file
instead of naming thousands of inputs.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from survsig.core.errors import InputError
from survsig.core.io import atomic_path

#: Channel order of the preprocessed arrays.
CHANNELS = ("ct", "pet", "roi")


@dataclass
class PatientSlices:
    """The preprocessed slices of one patient.

    Attributes
    ----------
    slices : numpy.ndarray
        float16, (n_slices, 3, S, S), channels CT, PET, ROI in [0, 1].
    z_mm : numpy.ndarray
        Axial position of each slice (mm, physical z).
    boxes_mm : numpy.ndarray
        (n_slices, 4): x0, y0 and side (mm) of each slice's box, then its ROI area (mm2).
    """

    patient_id: str
    slices: np.ndarray
    z_mm: np.ndarray
    boxes_mm: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))


def save_patient_slices(patient: PatientSlices, path) -> None:
    """Write one patient's slices as a compressed ``.npz`` with fixed zip timestamps."""
    arrays = {
        "patient_id": np.asarray(patient.patient_id),
        "slices": patient.slices,
        "z_mm": patient.z_mm,
        "boxes_mm": patient.boxes_mm,
    }
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            # fixed date: same input, same bytes
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def write_manifest(slice_files, path) -> None:
    """List the preprocessed files of a cohort (``patient_id``, ``path``), one per line.

    Training and prediction read this one file instead of naming thousands of inputs,
    which keeps Snakemake's scheduler light. Every file must exist.
    """
    rows = []
    for slice_file in sorted(map(str, slice_files)):
        patient = Path(slice_file).name.removesuffix(".npz")
        if not Path(slice_file).is_file():
            raise InputError("preprocessing wrote no slices for the patient", patient=patient, file=slice_file)
        rows.append(f"{patient}\t{slice_file}")
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(["patient_id\tpath", *rows]) + "\n")


def read_manifest(path) -> list[str]:
    """Paths of the preprocessed files listed by :func:`write_manifest`."""
    rows = Path(path).read_text().splitlines()[1:]
    return [row.split("\t", 1)[1] for row in rows if row]


def load_patient_slices(path) -> PatientSlices:
    """Read a file written by :func:`save_patient_slices`."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return PatientSlices(str(data["patient_id"].item()), data["slices"], data["z_mm"], data["boxes_mm"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise InputError(f"cannot read preprocessed slices: {err}", file=path) from None
