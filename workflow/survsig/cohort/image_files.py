"""The synthetic cohort's image files: NIfTI, NRRD, MetaImage or DICOM series.

Images are written in one of :data:`survsig.cohort.patients.IMAGE_FORMATS`, or a mix of
these across patients (``synthetic.image_format``, :func:`image_formats`).
:func:`write_image` writes one volume; :func:`write_dicom_series` writes a DICOM series
folder with UIDs derived from the seed (:func:`dicom_uid`), so the same configuration
gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from survsig.cohort.patients import IMAGE_FORMATS, SyntheticSettings
from survsig.cohort.phantoms import Grid
from survsig.core.images import locale_kept
from survsig.core.io import atomic_path

#: Suffix of an image file of each format; a DICOM series is a folder without one.
FORMAT_SUFFIX = {"nifti": ".nii.gz", "nrrd": ".nrrd", "mha": ".mha", "dicom": ""}
#: Format of the ROI beside a DICOM CT: a label map ships as a file (here NRRD, as 3D
#: Slicer saves segmentations), not as a DICOM image series.
ROI_FORMAT_BESIDE_DICOM = "nrrd"


def image_formats(settings: SyntheticSettings, index) -> dict[str, str]:
    """File format of the CT, PET and ROI of patient ``index`` (0-based).

    With ``mixed`` the CT cycles through :data:`~survsig.cohort.patients.IMAGE_FORMATS` patient by patient and
    the PET too, one step further after each full cycle, so any 16 consecutive patients
    hold every pairing of CT and PET format once. The ROI is in its CT's format, or
    :data:`ROI_FORMAT_BESIDE_DICOM` beside a DICOM CT.
    """
    if settings.image_format == "mixed":
        n = len(IMAGE_FORMATS)
        ct, pet = IMAGE_FORMATS[index % n], IMAGE_FORMATS[(index + index // n) % n]
    else:
        ct = pet = settings.image_format
    return {"ct": ct, "pet": pet, "roi": ROI_FORMAT_BESIDE_DICOM if ct == "dicom" else ct}


def image_name(patient_id, modality, fmt) -> str:
    """File name of an image (a folder for a DICOM series): ``SYN0001_ct.nii.gz``, ``SYN0001_pet``."""
    return f"{patient_id}_{modality}{FORMAT_SUFFIX[fmt]}"


def _image(array, grid: Grid):
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(array)
    image.SetSpacing(grid.spacing)
    image.SetOrigin(grid.origin)
    return image


def _write_file(array, grid: Grid, path):
    """NIfTI, NRRD or MetaImage (by the suffix of ``path``), compressed, written atomically."""
    import SimpleITK as sitk

    path = Path(path)
    suffix = ".nii.gz" if path.name.endswith(".nii.gz") else path.suffix
    with atomic_path(path) as tmp:
        # the suffix tells ITK which writer to use
        target = Path(str(tmp) + suffix)
        sitk.WriteImage(_image(array, grid), str(target), useCompression=True)
        os.replace(target, tmp)


#: Study date and time of the synthetic DICOM series (fixed: the files do not depend on
#: when they are written).
DICOM_DATE, DICOM_TIME = "20220101", "120000"
#: Stored PET values span 0 to this (signed 16 bits); the rescale slope maps them to SUV.
PET_STORED_MAX = 32000


def dicom_uid(*parts) -> str:
    """A DICOM UID derived from ``parts``: ``2.25.`` and a 128-bit number (as UUID-based
    UIDs), so the same cohort gets the same UIDs and other series other ones."""
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()[:16]
    return "2.25." + str(int.from_bytes(digest, "big"))


def _ds(value) -> str:
    """A number as a DICOM decimal string (at most 16 characters), to 1e-6 mm."""
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def pet_rescale_slope(pet) -> float:
    """Rescale slope of a PET series: the highest SUV is stored as about
    :data:`PET_STORED_MAX`; the slope has 6 significant digits, as written in the file."""
    top = float(np.max(pet)) if np.size(pet) else 0.0
    return float(f"{top / PET_STORED_MAX:.6g}") if top > 0 else 1.0


def write_dicom_series(array, grid: Grid, path, *, modality, patient_id, seed):
    """Write a CT (HU, int16) or PET (SUV, float) volume as a DICOM series folder.

    One file per axial slice (``0001.dcm``, ...), written by GDCM through SimpleITK,
    with the tags a series reader needs to rebuild the volume: study, series, frame of
    reference and SOP instance UIDs (derived from ``seed``, patient and series, so the
    files are byte-stable), Image Position (Patient) per slice, Image Orientation
    (axis-aligned), Pixel Spacing, Slice Thickness and Spacing Between Slices. Values
    are stored as signed 16-bit integers with a Rescale Slope and Intercept: CT as
    HU + 1024 with intercept -1024 (as scanners store it; HU come back exactly), PET with
    the slope of :func:`pet_rescale_slope` (SUV come back within half the slope). The
    folder is written beside ``path`` and moved into place when complete.
    """
    import SimpleITK as sitk

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if modality == "CT":
        image = _image(np.asarray(array, dtype=np.int16), grid)
        rescale = {"0028|1052": "-1024", "0028|1053": "1", "0028|1054": "HU"}
        series_number, description = "1", "synthetic CT"
    elif modality == "PT":
        image = _image(np.asarray(array, dtype=np.float32), grid)
        # GDCM stores a float image as integers of the given width with this slope
        rescale = {
            "0028|1052": "0",
            "0028|1053": f"{pet_rescale_slope(array):.6g}",
            "0028|0100": "16",
            "0028|0101": "16",
            "0028|0102": "15",
            "0028|0103": "1",
            "0054|1001": "GML",  # units: SUV body weight, g/ml
        }
        series_number, description = "2", "synthetic PET SUV"
    else:
        raise ValueError(f"modality must be CT or PT, got {modality!r}")
    series = {
        "0008|0008": "DERIVED\\SECONDARY",
        "0008|0012": DICOM_DATE,
        "0008|0013": DICOM_TIME,
        "0008|0020": DICOM_DATE,
        "0008|0021": DICOM_DATE,
        "0008|0030": DICOM_TIME,
        "0008|0031": DICOM_TIME,
        "0008|0060": modality,
        "0008|103e": description,
        "0010|0010": patient_id,
        "0010|0020": patient_id,
        "0018|0050": _ds(grid.spacing[2]),  # slice thickness
        "0018|0088": _ds(grid.spacing[2]),  # spacing between slices
        "0020|000d": dicom_uid(seed, patient_id, "study"),
        "0020|000e": dicom_uid(seed, patient_id, modality, "series"),
        "0020|0011": series_number,
        "0020|0052": dicom_uid(seed, patient_id, "frame of reference"),
        "0020|0037": "1\\0\\0\\0\\1\\0",  # axis-aligned rows and columns
        **rescale,
    }
    writer = sitk.ImageFileWriter()
    writer.SetImageIO("GDCMImageIO")
    writer.KeepOriginalImageUIDOn()  # the UIDs above, not random ones
    n_slices = grid.size[2]
    width = max(4, len(str(n_slices)))
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes the folder private
        for k in range(n_slices):
            # a 3-D image of one slice: GDCM writes Spacing Between Slices from its third
            # spacing (from a 2-D slice it writes 1 once a series was read in the process)
            plane = image[:, :, k : k + 1]
            for tag, value in series.items():
                plane.SetMetaData(tag, value)
            position = image.TransformIndexToPhysicalPoint((0, 0, k))
            plane.SetMetaData("0008|0018", dicom_uid(seed, patient_id, modality, "slice", k))
            plane.SetMetaData("0020|0013", str(k + 1))
            plane.SetMetaData("0020|0032", "\\".join(_ds(v) for v in position))
            plane.SetMetaData("0020|1041", _ds(position[2]))
            writer.SetFileName(str(tmp / f"{k + 1:0{width}d}.dcm"))
            with locale_kept():
                writer.Execute(plane)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_image(array, grid: Grid, path, fmt, *, modality, patient_id, seed):
    """Write one image in format ``fmt`` (of :data:`~survsig.cohort.patients.IMAGE_FORMATS`) to ``path``."""
    if fmt == "dicom":
        write_dicom_series(array, grid, path, modality=modality, patient_id=patient_id, seed=seed)
    else:
        _write_file(array, grid, path)
