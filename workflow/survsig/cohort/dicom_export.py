"""The synthetic cohort as a hospital exports it: CT and PET DICOM series and the tumour as an RTSTRUCT.

``synthetic.image_format: dicom_rt`` writes each patient's images as a PET/CT scanner and
a planning system hand them over, instead of image files (:func:`write_patient_export`)::

    {patient_id}/CT/CT0001.dcm ...     CT series, HU through Rescale Slope and Intercept
    {patient_id}/PT/PT0001.dcm ...     PET series in Bq/mL (Units BQML, DecayCorrection
                                       START) with the injected dose, its time and the
                                       patient's weight, from which SUV is computed
    {patient_id}/RTSTRUCT/RS.dcm       the tumour ROI as structure 'GTV', drawn on the CT

One study per patient, CT and PET in one frame of reference (one PET/CT scan), the
RTSTRUCT referencing the CT series and each CT slice its contours lie on. UIDs derive
from the seed (:func:`~survsig.cohort.image_files.dicom_uid`) and dates and times are
fixed, so the same configuration gives byte-identical files. The import
(:mod:`survsig.cohort.dicom_import`) gives back the images of the NIfTI cohort:

- CT: the synthetic HU are integers in -1024..3071, stored as HU + 1024 in 12 bits with
  Rescale Intercept -1024 (as scanners store them): they come back exactly.
- PET: stored as 32-bit signed integers with a Rescale Slope per slice (the slice's
  highest activity near 2**31), and each patient's dose chosen, as weight-based dosing
  does, so that SUV = Bq/mL x 2**-11 exactly (:data:`BQML_PER_SUV`): a power of two
  multiplies without rounding, so every voxel above 1/128 of its slice's maximum comes
  back bit for bit and the others within 2**-32 of that maximum.
- Geometry: positions and spacings are the NIfTI cohort's (float32, as NIfTI stores
  them; :func:`float32_grid`), written with every decimal a DICOM decimal string holds.
- ROI: each CT slice's mask is outlined at level 0.5 (marching squares, contourpy) and
  filled back by voxel centres (:func:`survsig.cohort.contours.read_rtstruct_roi`): the
  outlines pass half a voxel from the centres, so the mask comes back voxel for voxel.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from survsig.cohort.image_files import DICOM_DATE, dicom_uid
from survsig.cohort.phantoms import Grid

#: SOP classes: CT Image, PET Image and RT Structure Set Storage; the study root.
CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
PET_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
RTSTRUCT_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
STUDY_ROOT = "1.2.840.10008.3.1.2.3.1"
#: Folder of each object in a patient's export, and the structure's name.
FOLDERS = {"CT": "CT", "PT": "PT", "RTSTRUCT": "RTSTRUCT"}
ROI_NAME = "GTV"
#: Times on :data:`~survsig.cohort.image_files.DICOM_DATE`: the study, CT and PET series
#: (the CT before the PET, as a PET/CT scanner acquires them).
STUDY_TIME, CT_TIME, PET_TIME = "103000", "103200", "103500"
#: F-18: half-life (s) and positron fraction.
F18_HALF_LIFE_S, F18_POSITRON_FRACTION = 6586.2, 0.9673
#: Bq/mL at scan start per SUV (body weight): about 3 MBq/kg injected an hour before the
#: scan, a weight-based dose; a power of two, so that SUV = Bq/mL / this is exact.
BQML_PER_SUV = 2.0**11
#: Uptake time from injection to the PET series (s): about an hour, as protocols ask.
UPTAKE_S = (55 * 60, 70 * 60)
#: Largest stored PET value: a slice's highest activity is stored near this (int32).
PET_INT32_MAX = 2**31 - 1
#: CT: stored value = HU + this, in 12 bits (Rescale Intercept minus this).
CT_OFFSET, CT_BITS = 1024, 12


@dataclass(frozen=True)
class PetAcquisition:
    """What a PET header says about the patient and the tracer, from which SUV is computed.

    Attributes
    ----------
    sex : str
        ``M`` or ``F`` (PatientSex, for SUV by lean body mass).
    weight_kg, height_m : float
        PatientWeight and PatientSize, as written (one and two decimals).
    injection, scan : datetime
        Radiopharmaceutical start and the PET series' date and time.
    dose_bq : int
        RadionuclideTotalDose: the dose that makes ``BQML_PER_SUV`` Bq/mL one SUV.
    """

    sex: str
    weight_kg: float
    height_m: float
    injection: datetime
    scan: datetime
    dose_bq: int

    @property
    def decay(self) -> float:
        """Fraction of the dose left at the scan (F-18 decay over the uptake time)."""
        elapsed = (self.scan - self.injection).total_seconds()
        return math.exp(-math.log(2) * elapsed / F18_HALF_LIFE_S)

    @property
    def bqml_per_suv(self) -> float:
        """Bq/mL per SUV (body weight) by QIBA: dose x decay / (weight in g)."""
        return self.dose_bq * self.decay / (self.weight_kg * 1000.0)


def pet_acquisition(seed, index, sex) -> PetAcquisition:
    """Weight, height, uptake time and dose of patient ``index`` (0-based), drawn from ``seed``.

    A stream of its own (``[seed, 3, index]``): the images do not change with it.
    """
    rng = np.random.default_rng([seed, 3, index])
    male = sex == "M"
    weight = round(float(np.clip(rng.normal(74.0 if male else 62.0, 11.0), 40.0, 140.0)), 1)
    height = round(float(np.clip(rng.normal(1.72 if male else 1.60, 0.07), 1.40, 2.05)), 2)
    scan = datetime.strptime(DICOM_DATE + PET_TIME, "%Y%m%d%H%M%S")
    injection = scan - timedelta(seconds=int(rng.integers(UPTAKE_S[0], UPTAKE_S[1] + 1)))
    partial = PetAcquisition(sex, weight, height, injection, scan, 1)
    # whole Bq: 5e-9 of the dose, so SUV per Bq/mL is 2**-11 to well within float32 rounding
    dose = round(BQML_PER_SUV * weight * 1000.0 / partial.decay)
    return PetAcquisition(sex, weight, height, injection, scan, dose)


# --------------------------------------------------------------------------- values


def _ds_fine(value) -> str:
    """A number as a DICOM decimal string with as many decimals as 16 characters hold."""
    value = float(value)
    for decimals in range(15, -1, -1):
        text = f"{value:.{decimals}f}"
        if len(text) <= 16:
            break
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def float32_grid(grid: Grid) -> Grid:
    """``grid`` with origin and spacing rounded to float32, as NIfTI stores them.

    Written with :func:`_ds_fine`, the export's positions read back, rounded to float32
    (as the import writes NIfTI), as the very numbers of the NIfTI cohort: a position a
    float32 step off would move every resampled voxel of the patient.
    """
    return Grid(
        grid.size,
        tuple(float(np.float32(v)) for v in grid.spacing),
        tuple(float(np.float32(v)) for v in grid.origin),
    )


def _ds_exact(value) -> str:
    """A number as the shortest decimal string that reads back as the same double."""
    text = repr(float(value))
    if len(text) > 16 or float(text) != value:
        raise ValueError(f"{value!r} has no exact DICOM decimal string of 16 characters")
    return text


def pet_rescale_slope(bqml_slice) -> str:
    """Rescale Slope (as written) of one PET slice: its highest activity is stored at about
    :data:`PET_INT32_MAX`, rounded up in the 10th digit so that no value overflows."""
    top = float(np.max(bqml_slice))
    if top <= 0:
        return "1"
    # 10 digits (15 characters) rounded by at most 5e-10: raised by 1e-8 to round up
    return f"{top / PET_INT32_MAX * (1 + 1e-8):.9e}"


def pet_stored(bqml_slice, slope: str) -> np.ndarray:
    """Stored int32 values of one slice for the Rescale Slope ``slope`` (as written)."""
    return np.rint(np.asarray(bqml_slice, dtype=np.float64) / float(slope)).astype(np.int32)


# --------------------------------------------------------------------------- datasets


@dataclass(frozen=True)
class Study:
    """Patient and study of one export, with the UIDs all its objects share."""

    patient_id: str
    seed: int
    sex: str

    def uid(self, *parts) -> str:
        return dicom_uid(self.seed, self.patient_id, "dicom_rt", *parts)

    @property
    def study_uid(self) -> str:
        return self.uid("study")

    @property
    def frame_uid(self) -> str:
        return self.uid("frame of reference")


def _dataset(study: Study, sop_class, sop_uid, modality, series_uid, series_number, description, series_time):
    """A dataset with the file meta, patient, study, series and equipment modules filled in."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
    ds.StudyDate, ds.StudyTime = DICOM_DATE, STUDY_TIME
    ds.SeriesDate, ds.SeriesTime = DICOM_DATE, series_time
    ds.ContentDate, ds.ContentTime = DICOM_DATE, series_time
    ds.AccessionNumber, ds.ReferringPhysicianName = "", ""
    ds.Modality = modality
    ds.Manufacturer, ds.ManufacturerModelName = "survsig", "synthetic PET/CT"
    ds.StudyDescription, ds.SeriesDescription = "PET/CT head and neck (synthetic)", description
    ds.PatientName = f"SYNTHETIC^{study.patient_id}"
    ds.PatientID, ds.PatientBirthDate, ds.PatientSex = study.patient_id, "", study.sex
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study.study_uid, series_uid
    ds.StudyID, ds.SeriesNumber = "1", series_number
    return ds


def _image_plane(ds, grid: Grid, k: int, study: Study):
    """Frame of reference, image plane and pixel description of slice ``k`` of an axis-aligned ``grid``."""
    position = [grid.origin[d] + (k if d == 2 else 0) * grid.spacing[d] for d in range(3)]
    ds.PatientPosition = "HFS"
    ds.ImagePositionPatient = [_ds_fine(v) for v in position]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.SliceLocation = _ds_fine(position[2])
    # Pixel Spacing is row spacing (along y) then column spacing (along x)
    ds.PixelSpacing = [_ds_fine(grid.spacing[1]), _ds_fine(grid.spacing[0])]
    ds.SliceThickness = _ds_fine(grid.spacing[2])
    ds.Rows, ds.Columns = grid.size[1], grid.size[0]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    # CT and PET of one PET/CT scan share the frame of reference
    ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = study.frame_uid, ""
    ds.InstanceNumber = k + 1
    ds.AcquisitionDate, ds.AcquisitionTime = ds.SeriesDate, ds.SeriesTime


def _save(ds, path: Path):
    ds.save_as(path, enforce_file_format=True)


def _slice_name(prefix, k, n) -> str:
    return f"{prefix}{k + 1:0{max(4, len(str(n)))}d}.dcm"


# --------------------------------------------------------------------------- series


def write_ct_series(folder, hu, grid: Grid, study: Study) -> list:
    """The CT (HU, integers in -1024..3071; array [z, y, x]) as one file per slice.

    Returns
    -------
    list of str
        The SOP Instance UIDs of the slices, from the lowest up (for the RTSTRUCT).
    """
    folder = Path(folder)
    folder.mkdir(parents=True)
    hu = np.asarray(hu)
    if hu.min() < -CT_OFFSET or hu.max() >= 2**CT_BITS - CT_OFFSET or not np.array_equal(hu, np.round(hu)):
        raise ValueError(f"CT values must be integer HU in {-CT_OFFSET}..{2**CT_BITS - CT_OFFSET - 1}")
    series_uid = study.uid("CT", "series")
    uids = []
    for k in range(grid.size[2]):
        uid = study.uid("CT", "slice", k)
        ds = _dataset(study, CT_STORAGE, uid, "CT", series_uid, 1, "CT head and neck", CT_TIME)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        _image_plane(ds, grid, k, study)
        ds.KVP, ds.ConvolutionKernel = "120", "STANDARD"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, CT_BITS, CT_BITS - 1, 0
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = str(-CT_OFFSET), "1", "HU"
        ds.WindowCenter, ds.WindowWidth = "40", "400"
        ds.PixelData = (hu[k].astype(np.int32) + CT_OFFSET).astype("<u2").tobytes()
        _save(ds, folder / _slice_name("CT", k, grid.size[2]))
        uids.append(uid)
    return uids


def _radiopharmaceutical(acquisition: PetAcquisition):
    from pydicom.dataset import Dataset

    nuclide = Dataset()
    nuclide.CodeValue, nuclide.CodingSchemeDesignator, nuclide.CodeMeaning = "C-111A1", "SRT", "^18^Fluorine"
    item = Dataset()
    item.Radiopharmaceutical = "Fluorodeoxyglucose"
    item.RadiopharmaceuticalStartTime = acquisition.injection.strftime("%H%M%S")
    item.RadiopharmaceuticalStartDateTime = acquisition.injection.strftime("%Y%m%d%H%M%S")
    item.RadionuclideTotalDose = str(acquisition.dose_bq)
    item.RadionuclideHalfLife = _ds_exact(F18_HALF_LIFE_S)
    item.RadionuclidePositronFraction = _ds_exact(F18_POSITRON_FRACTION)
    item.RadionuclideCodeSequence = [nuclide]
    return item


def write_pet_series(folder, suv, grid: Grid, study: Study, acquisition: PetAcquisition):
    """The PET (SUV, float32; array [z, y, x]) in Bq/mL as one file per slice: 32-bit signed
    integers with a Rescale Slope per slice (:func:`pet_rescale_slope`)."""
    folder = Path(folder)
    folder.mkdir(parents=True)
    # float32 SUV times a power of two: exact in double, and in float32 again after the import
    bqml = np.asarray(suv, dtype=np.float64) * acquisition.bqml_per_suv
    series_uid = study.uid("PT", "series")
    series_time = acquisition.scan.strftime("%H%M%S")
    for k in range(grid.size[2]):
        uid = study.uid("PT", "slice", k)
        ds = _dataset(study, PET_STORAGE, uid, "PT", series_uid, 2, "PET AC head and neck", series_time)
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        ds.PatientWeight, ds.PatientSize = f"{acquisition.weight_kg:.1f}", f"{acquisition.height_m:.2f}"
        _image_plane(ds, grid, k, study)
        ds.SeriesType, ds.Units, ds.CountsSource = ["STATIC", "IMAGE"], "BQML", "EMISSION"
        ds.DecayCorrection, ds.CorrectedImage = "START", ["DECY", "ATTN", "SCAT", "DTIM", "RAN", "NORM"]
        ds.RadiopharmaceuticalInformationSequence = [_radiopharmaceutical(acquisition)]
        ds.NumberOfSlices, ds.ImageIndex = grid.size[2], k + 1
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 32, 32, 31, 1
        slope = pet_rescale_slope(bqml[k])
        ds.RescaleIntercept, ds.RescaleSlope = "0", slope
        ds.PixelData = pet_stored(bqml[k], slope).astype("<i4").tobytes()
        _save(ds, folder / _slice_name("PT", k, grid.size[2]))


# --------------------------------------------------------------------------- RTSTRUCT


def outlines(plane) -> list:
    """Closed outlines at level 0.5 of a 2-D mask ([y, x]), as (x, y) voxel indices.

    Marching squares put every vertex half a voxel from the centres on either side, so
    filling the outlines by voxel centres (even-odd: an outline inside another is a
    hole) gives the mask back; a zero border closes outlines at the slice's edge.
    """
    import contourpy

    padded = np.pad(np.asarray(plane, dtype=float), 1)
    lines = contourpy.contour_generator(z=padded, line_type="Separate").lines(0.5)
    # contourpy closes each line by repeating its first point; RTSTRUCT closes implicitly
    return [line[:-1] - 1.0 for line in lines]


def _contour_item(points, ct_uid):
    from pydicom.dataset import Dataset

    image = Dataset()
    image.ReferencedSOPClassUID, image.ReferencedSOPInstanceUID = CT_STORAGE, ct_uid
    contour = Dataset()
    contour.ContourImageSequence = [image]
    contour.ContourGeometricType = "CLOSED_PLANAR"
    contour.NumberOfContourPoints = len(points)
    contour.ContourData = [_ds_fine(v) for v in np.asarray(points).ravel()]
    return contour


def write_rtstruct(path, roi, grid: Grid, study: Study, ct_uids):
    """The ROI (uint8 on the CT grid; array [z, y, x]) as structure :data:`ROI_NAME` of an
    RT Structure Set drawn on the CT series whose slice UIDs are ``ct_uids``."""
    from pydicom.dataset import Dataset

    path = Path(path)
    path.parent.mkdir(parents=True)
    series_uid = study.uid("RTSTRUCT", "series")
    ds = _dataset(
        study, RTSTRUCT_STORAGE, study.uid("RTSTRUCT", "instance"), "RTSTRUCT", series_uid, 3, "RTSTRUCT", CT_TIME
    )
    ds.InstanceNumber = 1
    ds.StructureSetLabel, ds.StructureSetName = "GTV", "tumour"
    ds.StructureSetDate, ds.StructureSetTime = DICOM_DATE, CT_TIME

    images = []
    for uid in ct_uids:
        image = Dataset()
        image.ReferencedSOPClassUID, image.ReferencedSOPInstanceUID = CT_STORAGE, uid
        images.append(image)
    series = Dataset()
    series.SeriesInstanceUID, series.ContourImageSequence = study.uid("CT", "series"), images
    referenced_study = Dataset()
    referenced_study.ReferencedSOPClassUID, referenced_study.ReferencedSOPInstanceUID = STUDY_ROOT, study.study_uid
    referenced_study.RTReferencedSeriesSequence = [series]
    frame = Dataset()
    frame.FrameOfReferenceUID, frame.RTReferencedStudySequence = study.frame_uid, [referenced_study]
    ds.ReferencedFrameOfReferenceSequence = [frame]

    structure = Dataset()
    structure.ROINumber, structure.ReferencedFrameOfReferenceUID = 1, study.frame_uid
    structure.ROIName, structure.ROIGenerationAlgorithm = ROI_NAME, "MANUAL"
    ds.StructureSetROISequence = [structure]

    spacing, origin = np.asarray(grid.spacing, float), np.asarray(grid.origin, float)
    contours = []
    for k, plane in enumerate(np.asarray(roi)):
        for line in outlines(plane) if plane.any() else []:
            index = np.column_stack([line, np.full(len(line), float(k))])
            contours.append(_contour_item(origin + index * spacing, ct_uids[k]))
    roi_contour = Dataset()
    roi_contour.ReferencedROINumber, roi_contour.ROIDisplayColor = 1, [255, 0, 0]
    roi_contour.ContourSequence = contours
    ds.ROIContourSequence = [roi_contour]

    observation = Dataset()
    observation.ObservationNumber, observation.ReferencedROINumber = 1, 1
    observation.RTROIInterpretedType, observation.ROIInterpreter = "GTV", ""
    ds.RTROIObservationsSequence = [observation]
    _save(ds, path)


# --------------------------------------------------------------------------- patient


def write_patient_export(folder, *, patient_id, seed, index, sex, ct, ct_grid: Grid, pet, pet_grid: Grid, roi):
    """Write one patient's export into ``folder`` (the patient's folder, created whole).

    Parameters
    ----------
    folder : str or path
        The patient's folder, ``{patient_id}`` under the export; written beside it and
        moved into place when complete.
    patient_id : str
    seed, index : int
        The cohort's seed and the patient's index (0-based): UIDs and the PET header's
        patient and tracer (:func:`pet_acquisition`) derive from them.
    sex : str
        ``M`` or ``F``, as in the clinical sheet.
    ct, pet, roi : numpy.ndarray
        CT (HU), PET (SUV) and ROI (on the CT grid), arrays [z, y, x].
    ct_grid, pet_grid : Grid

    Returns
    -------
    PetAcquisition
        The PET header's weight, dose and times.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    study = Study(patient_id, seed, sex)
    acquisition = pet_acquisition(seed, index, sex)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes the folder private
        ct_grid, pet_grid = float32_grid(ct_grid), float32_grid(pet_grid)
        ct_uids = write_ct_series(tmp / FOLDERS["CT"], ct, ct_grid, study)
        write_pet_series(tmp / FOLDERS["PT"], pet, pet_grid, study, acquisition)
        write_rtstruct(tmp / FOLDERS["RTSTRUCT"] / "RS.dcm", roi, ct_grid, study, ct_uids)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return acquisition
