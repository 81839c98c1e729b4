"""A hospital's DICOM export to the image sheet: NIfTI CT, SUV PET and ROI per patient.

:func:`import_dicom` walks a folder of DICOM files in any order and under any names,
reads their headers (no pixel data) and indexes them by ``PatientID`` (0010,0020),
``StudyInstanceUID`` and ``SeriesInstanceUID``. Files that are not DICOM (a readme, an
index) are skipped, and so are DICOM files of other kinds (``DICOMDIR``, plans, doses,
reports, localizers): both are counted in the log. CT and PET (``PT``) series are image
series; RTSTRUCT and SEG files are structure files.

Which study, series and structure file, per patient (the rule):

1. A CT series (not a ``LOCALIZER`` by its ``ImageType``) with a structure file drawn on
   it: the RTSTRUCT or SEG lists the CT's series among the series it references or, where
   it lists none, shares the CT's ``FrameOfReferenceUID``. The structure file may sit in
   another study (a planning system may open one); the CT's study is the study used.
2. A PET series of that same study.
3. Each (CT, PET, structure file) so found is a choice. Where there are several, PET
   series that are not attenuation corrected (``CorrectedImage`` (0028,0051) filled in
   without ``ATTN``) and structure files without exactly one name matching the ROI
   pattern are set aside, each unless that would set all aside.
4. Exactly one choice must remain; several are refused in one line listing them (study
   date and description, series numbers and descriptions, shortened UIDs, file names),
   so the export can be cut down to the one meant. None is refused naming what is missing.

Every patient is chosen before any voxel is read. Each chosen series is gathered into its
own folder (hard links, or copies across file systems) under a temporary folder, since a
hospital export may mix series in one folder and the readers take one series per folder.
The CT is read by :func:`survsig.core.images.read_image` (Hounsfield units: GDCM applies
Rescale Slope and Intercept), the PET by :func:`survsig.cohort.suv.read_pet_suv` and the
ROI by :func:`survsig.cohort.contours.read_rtstruct_roi` or
:func:`~survsig.cohort.contours.read_seg_roi` on the CT grid.

Output, all or nothing (built in a hidden sibling folder and renamed into place once every
patient succeeded)::

    out_dir/{patient_id}/ct.nii.gz    CT in HU: int16 where the rescaled values are
                                      integers in its range (as scanners store them),
                                      else float32
    out_dir/{patient_id}/pet.nii.gz   PET in SUV, float32
    out_dir/{patient_id}/roi.nii.gz   ROI, uint8 (1 inside), on the CT grid
    out_dir/images.tsv                patient_id, ct, pet, roi: the image sheet, paths
                                      relative to its own folder
    out_dir/import_summary.tsv        what was used per patient (:data:`SUMMARY_COLUMNS`)

Bad input is one :class:`~survsig.core.errors.InputError` line ``<file or patient>:
<problem>``, naming the exported file (never the temporary one), and nothing is written.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk
from pydicom.multival import MultiValue

from survsig.cohort.contours import matching_structure, read_rtstruct_roi, read_seg_roi
from survsig.cohort.suv import SUV_KINDS, read_pet_suv
from survsig.cohort.validate import id_problem
from survsig.core.errors import InputError
from survsig.core.images import read_image
from survsig.core.io import write_tsv

logger = logging.getLogger(__name__)

#: Modalities the import reads: image series, and structure files with their format name.
IMAGE_MODALITIES = ("CT", "PT")
ROI_FORMATS = {"RTSTRUCT": "rtstruct", "SEG": "seg"}
#: File name of each image in a patient's folder.
IMAGE_NAMES = {"ct": "ct.nii.gz", "pet": "pet.nii.gz", "roi": "roi.nii.gz"}
SHEET_NAME, SUMMARY_NAME = "images.tsv", "import_summary.tsv"
SUMMARY_COLUMNS = (
    "patient_id",
    "study_uid",
    "ct_series",
    "pet_series",
    "roi_file",
    "roi_format",
    "roi_name",
    "suv_kind",
    "suv_factor",
    "suv_method",
    "roi_volume_ml",
)


# ----------------------------------------------------------------------------- the index


@dataclass
class Series:
    """An image series of the export: its files and what tells it apart."""

    uid: str
    modality: str
    study_uid: str
    number: str
    description: str
    frame_uid: str | None
    image_type: tuple
    corrected: str | None
    files: list = field(default_factory=list)


@dataclass(frozen=True)
class StructureFile:
    """An RTSTRUCT or SEG file: where it lies, what it was drawn on, the names it holds."""

    path: Path
    modality: str
    study_uid: str
    frame_uid: str | None
    referenced_series: frozenset
    names: tuple


@dataclass
class Patient:
    """Everything the export holds for one PatientID."""

    patient_id: str
    studies: dict = field(default_factory=dict)  # uid -> (date, description)
    series: dict = field(default_factory=dict)  # uid -> Series
    structures: list = field(default_factory=list)


@dataclass(frozen=True)
class Choice:
    """One study's CT, PET and structure file of a patient."""

    ct: Series
    pet: Series
    structure: StructureFile


def _text(dataset, keyword) -> str:
    value = dataset.get(keyword)
    if value is None:
        return ""
    if isinstance(value, (list, tuple, MultiValue)):
        return "\\".join(str(v).strip() for v in value)
    return str(value).strip()


def _required(dataset, keyword, tag, file) -> str:
    value = _text(dataset, keyword)
    if not value:
        raise InputError(f"{keyword} {tag} is missing; the import groups files by patient, study and series", file=file)
    return value


def _header(path: Path):
    """The file's DICOM header without pixel data, or None when it is no DICOM file."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path, stop_before_pixels=True, force=False)
    except InvalidDicomError:
        return None
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror or err}", file=path) from None
    except (EOFError, ValueError, KeyError) as err:  # a DICOM preamble followed by a broken header
        raise InputError(f"cannot read DICOM header: {err}", file=path) from None


def _files(root: Path):
    """Regular files under ``root``, in a fixed order (folders and names sorted)."""
    for folder, subfolders, names in os.walk(root):
        subfolders.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_file():
                yield path


def _structure_file(dataset, path: Path, modality: str, study_uid: str) -> StructureFile:
    if modality == "RTSTRUCT":
        frames = dataset.get("ReferencedFrameOfReferenceSequence") or []
        frame = _text(frames[0], "FrameOfReferenceUID") if frames else ""
        referenced = {
            _text(series, "SeriesInstanceUID")
            for item in frames
            for study in item.get("RTReferencedStudySequence", [])
            for series in study.get("RTReferencedSeriesSequence", [])
        }
        names = tuple(_text(roi, "ROIName") for roi in dataset.get("StructureSetROISequence", []))
    else:
        frame = _text(dataset, "FrameOfReferenceUID")
        referenced = {_text(series, "SeriesInstanceUID") for series in dataset.get("ReferencedSeriesSequence", [])}
        names = tuple(_text(segment, "SegmentLabel") for segment in dataset.get("SegmentSequence", []))
    return StructureFile(path, modality, study_uid, frame or None, frozenset(referenced - {""}), names)


def _add(patients: dict, dataset, path: Path, modality: str) -> None:
    """Enter one CT, PT, RTSTRUCT or SEG file into the index."""
    patient_id = _required(dataset, "PatientID", "(0010,0020)", path)
    problem = id_problem(patient_id)
    if problem:
        raise InputError(problem, file=path)
    study_uid = _required(dataset, "StudyInstanceUID", "(0020,000D)", path)
    patient = patients.setdefault(patient_id, Patient(patient_id))
    patient.studies.setdefault(study_uid, (_text(dataset, "StudyDate"), _text(dataset, "StudyDescription")))
    if modality in ROI_FORMATS:
        patient.structures.append(_structure_file(dataset, path, modality, study_uid))
        return
    uid = _required(dataset, "SeriesInstanceUID", "(0020,000E)", path)
    series = patient.series.get(uid)
    if series is None:
        series = patient.series[uid] = Series(
            uid=uid,
            modality=modality,
            study_uid=study_uid,
            number=_text(dataset, "SeriesNumber"),
            description=_text(dataset, "SeriesDescription"),
            frame_uid=_text(dataset, "FrameOfReferenceUID") or None,
            image_type=tuple(_text(dataset, "ImageType").upper().split("\\")),
            corrected=_text(dataset, "CorrectedImage").upper() or None,
        )
    elif (series.modality, series.study_uid) != (modality, study_uid):
        raise InputError(
            f"series {uid} is {modality} of study {study_uid} here but {series.modality} of study "
            f"{series.study_uid} in {series.files[0]}; one series UID cannot name two series",
            file=path,
        )
    series.files.append(path)


def scan_export(root) -> dict[str, Patient]:
    """Index the DICOM files under ``root`` by patient, study and series (headers only).

    Parameters
    ----------
    root : str or path
        The export's folder, searched recursively.

    Returns
    -------
    dict
        PatientID -> :class:`Patient`, in the order the ids were first met.

    Raises
    ------
    InputError
        When ``root`` is no folder or holds no CT, PET, RTSTRUCT or SEG file, a file
        cannot be read, or a CT, PET, RTSTRUCT or SEG file lacks its patient, study or
        series UID, or has a patient id that cannot name a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError("not a folder (give the folder of a DICOM export)", file=root)
    patients, not_dicom, other, instances, indexed = {}, 0, Counter(), set(), 0
    for path in _files(root):
        dataset = _header(path)
        if dataset is None:
            not_dicom += 1
            continue
        modality = _text(dataset, "Modality") or "no modality"
        if modality not in (*IMAGE_MODALITIES, *ROI_FORMATS) or "LOCALIZER" in _text(dataset, "ImageType").upper():
            other["DICOMDIR" if "DirectoryRecordSequence" in dataset else modality] += 1
            continue
        instance = _text(dataset, "SOPInstanceUID")
        if instance and instance in instances:
            # the same instance exported twice: a second copy would be read as a second slice
            other["repeated SOP instance"] += 1
            continue
        instances.add(instance)
        _add(patients, dataset, path, modality)
        indexed += 1
    skipped = ", ".join(f"{n} {what}" for what, n in sorted(other.items()))
    logger.info(
        "%s: %d CT/PET/RTSTRUCT/SEG files of %d patients; skipped %d files that are not DICOM%s",
        root,
        indexed,
        len(patients),
        not_dicom,
        f" and DICOM files of other kinds ({skipped})" if skipped else "",
    )
    if not patients:
        raise InputError(f"holds no CT, PET, RTSTRUCT or SEG file ({not_dicom} files that are not DICOM)", file=root)
    return patients


# ----------------------------------------------------------------------------- the choice


def _draws_on(structure: StructureFile, ct: Series) -> bool:
    """Whether the structure file was drawn on ``ct``: by its series references, else its frame."""
    if structure.referenced_series:
        return ct.uid in structure.referenced_series
    return structure.frame_uid is not None and structure.frame_uid == ct.frame_uid


def _attenuation_corrected(series: Series) -> bool:
    # an empty CorrectedImage says nothing; suv.py checks it again when it is read
    return series.corrected is None or "ATTN" in series.corrected.split("\\")


def _one_match(structure: StructureFile, regex) -> bool:
    return sum(bool(regex.fullmatch(name)) for name in structure.names) == 1


def _set_aside(choices: list, keep) -> list:
    """``choices`` that ``keep``, unless none does (then the reader's refusal says why)."""
    kept = [choice for choice in choices if keep(choice)]
    return kept or choices


def _short(uid: str) -> str:
    return uid if len(uid) <= 12 else "..." + uid[-8:]


def _describe_series(series: Series) -> str:
    what = "PET" if series.modality == "PT" else series.modality
    return f"{what} series {series.number or '?'} '{series.description}' ({_short(series.uid)})"


def _describe(choice: Choice, patient: Patient, root: Path) -> str:
    date, description = patient.studies[choice.ct.study_uid]
    return (
        f"study {date or '?'} '{description}' ({_short(choice.ct.study_uid)}): {_describe_series(choice.ct)}, "
        f"{_describe_series(choice.pet)}, {choice.structure.modality} {_relative(choice.structure.path, root)}"
    )


def _relative(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def _missing(patient: Patient, root: Path) -> InputError:
    """Why no choice qualifies: the first of CT, PET, structure file, references that is missing."""
    series = list(patient.series.values())
    cts = [s for s in series if s.modality == "CT"]
    pets = [s for s in series if s.modality == "PT"]
    found = "; ".join([_describe_series(s) for s in series] + [_relative(f.path, root) for f in patient.structures])
    found = f" (found: {found or 'nothing else'})"
    if not cts:
        return InputError(f"no CT series{found}", patient=patient.patient_id)
    if not pets:
        return InputError(f"no PET (PT) series{found}", patient=patient.patient_id)
    if not patient.structures:
        return InputError(f"no RTSTRUCT or SEG file{found}", patient=patient.patient_id)
    drawn_on = [ct for ct in cts if any(_draws_on(f, ct) for f in patient.structures)]
    if not drawn_on:
        references = "; ".join(
            f"{_relative(f.path, root)} references "
            + (f"series {', '.join(sorted(map(_short, f.referenced_series)))}" if f.referenced_series else "")
            + ("" if f.referenced_series else f"frame of reference {_short(f.frame_uid or 'none')}")
            for f in patient.structures
        )
        cts_text = ", ".join(_describe_series(ct) for ct in cts)
        return InputError(
            f"no RTSTRUCT or SEG was drawn on a CT series ({cts_text}): {references}", patient=patient.patient_id
        )
    studies = ", ".join(sorted({_short(ct.study_uid) for ct in drawn_on}))
    return InputError(
        f"no PET (PT) series in the study of the CT the structures were drawn on (study {studies}){found}",
        patient=patient.patient_id,
    )


def choose(patient: Patient, roi_pattern: str, root) -> Choice:
    """The one (CT, PET, structure file) of ``patient`` by the module's rule.

    Parameters
    ----------
    patient : Patient
        As indexed by :func:`scan_export`.
    roi_pattern : str
        Regular expression a structure name matches in full, ignoring case.
    root : str or path
        The export's folder; file names in messages are given relative to it.

    Returns
    -------
    Choice

    Raises
    ------
    InputError
        ``patient <id>: ...`` when no choice qualifies (naming what is missing) or
        several do (listing them).
    """
    root = Path(root)
    regex = _pattern(roi_pattern)
    choices = []
    for ct in patient.series.values():
        if ct.modality != "CT":
            continue
        pets = [s for s in patient.series.values() if s.modality == "PT" and s.study_uid == ct.study_uid]
        drawn = [f for f in patient.structures if _draws_on(f, ct)]
        choices += [Choice(ct, pet, structure) for pet in pets for structure in drawn]
    if not choices:
        raise _missing(patient, root)
    choices = _set_aside(choices, lambda c: _attenuation_corrected(c.pet))
    choices = _set_aside(choices, lambda c: _one_match(c.structure, regex))
    if len(choices) > 1:
        listed = "; ".join(f"({k}) {_describe(c, patient, root)}" for k, c in enumerate(choices, 1))
        raise InputError(
            f"{len(choices)} (CT, PET, structure file) choices qualify; leave one in the export: {listed}",
            patient=patient.patient_id,
        )
    return choices[0]


def _pattern(roi_pattern: str):
    try:
        return re.compile(roi_pattern, flags=re.IGNORECASE)
    except re.error as err:
        raise InputError(f"ROI pattern '{roi_pattern}' is not a regular expression: {err}") from None


# ----------------------------------------------------------------------------- reading


def _stage(series: Series, folder: Path) -> dict[str, str]:
    """Gather the series' files into ``folder``; staged path -> exported path."""
    folder.mkdir()
    names = {}
    for k, source in enumerate(series.files):
        target = folder / f"{k:05d}.dcm"
        try:
            os.link(source, target)
        except OSError:  # another file system, or one without hard links
            shutil.copyfile(source, target)
        names[str(target)] = str(source)
    parents = {str(Path(source).parent) for source in series.files}
    names[str(folder)] = f"{os.path.commonpath(sorted(parents))} ({_describe_series(series)})"
    return names


@contextlib.contextmanager
def _exported_names(names: dict[str, str]):
    """Re-raise a reader's InputError naming the exported files instead of the staged ones."""
    try:
        yield
    except InputError as err:
        text = str(err)
        for staged in sorted(names, key=len, reverse=True):  # a file before its folder
            text = text.replace(staged, names[staged])
        raise InputError(text) from None


def _compact_ct(ct: sitk.Image) -> sitk.Image:
    """CT as int16 when its HU are integers in int16's range, else float32.

    GDCM widens a rescaled 16-bit series to int32 (stored range plus intercept); HU fit
    in 16 bits, and double precision says nothing more about them.
    """
    if ct.GetPixelID() in (sitk.sitkFloat32, sitk.sitkFloat64):
        return sitk.Cast(ct, sitk.sitkFloat32)
    extremes = sitk.MinimumMaximumImageFilter()
    extremes.Execute(ct)
    if -(2**15) <= extremes.GetMinimum() and extremes.GetMaximum() < 2**15:
        return sitk.Cast(ct, sitk.sitkInt16)
    return sitk.Cast(ct, sitk.sitkFloat32)


def _write(image: sitk.Image, path: Path) -> None:
    sitk.WriteImage(image, str(path), useCompression=True)


def _import_patient(patient: Patient, choice: Choice, *, staging: Path, target: Path, roi_pattern, suv_kind) -> dict:
    """Read, check and write one patient's images; its summary row."""
    names = {**_stage(choice.ct, staging / "ct"), **_stage(choice.pet, staging / "pet")}
    ct_dir, structure = staging / "ct", choice.structure
    with _exported_names(names):
        ct = read_image(ct_dir)
        pet = read_pet_suv(staging / "pet", kind=suv_kind)
        reader = read_rtstruct_roi if structure.modality == "RTSTRUCT" else read_seg_roi
        roi = reader(structure.path, ct_dir, pattern=roi_pattern)
    roi_name = matching_structure(structure.names, roi_pattern, file=structure.path)
    voxels = int(np.count_nonzero(sitk.GetArrayViewFromImage(roi)))
    if voxels == 0:
        raise InputError(f"structure '{roi_name}' covers no voxel centre of the CT", file=structure.path)
    ct = _compact_ct(ct)
    target.mkdir()
    _write(ct, target / IMAGE_NAMES["ct"])
    _write(sitk.Cast(pet, sitk.sitkFloat32), target / IMAGE_NAMES["pet"])
    _write(sitk.Cast(roi, sitk.sitkUInt8), target / IMAGE_NAMES["roi"])
    return {
        "patient_id": patient.patient_id,
        "study_uid": choice.ct.study_uid,
        "ct_series": choice.ct.uid,
        "pet_series": choice.pet.uid,
        "roi_file": str(structure.path),
        "roi_format": ROI_FORMATS[structure.modality],
        "roi_name": roi_name,
        "suv_kind": suv_kind,
        "suv_factor": float(pet.GetMetaData("suv_factor")),
        "suv_method": pet.GetMetaData("suv_method"),
        "roi_volume_ml": voxels * float(np.prod(roi.GetSpacing())) / 1000.0,
        "_ct_size": "x".join(str(n) for n in ct.GetSize()),
    }


# ----------------------------------------------------------------------------- the import


def _check_out_dir(out_dir: Path) -> None:
    if os.path.lexists(out_dir) and not out_dir.is_dir():
        raise InputError("exists and is not a folder; give a new or empty folder for the import", file=out_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise InputError("exists and is not empty; give a new or empty folder for the import", file=out_dir)


def _partial_dir(out_dir: Path) -> Path:
    """A hidden sibling of ``out_dir`` to build in, with the permissions a new folder gets."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.partial-"))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(partial, 0o777 & ~umask)  # mkdtemp makes the folder private
    return partial


def _report(progress, i, n, patient_id, row) -> None:
    message = (
        f"CT {row['_ct_size']}, PET SUV{row['suv_kind']} x{row['suv_factor']:.6g}, "
        f"ROI '{row['roi_name']}' {row['roi_volume_ml']:.1f} mL"
    )
    if progress is None:
        logger.info("patient %d/%d %s: %s", i, n, patient_id, message)
    else:
        progress(i, n, patient_id, message)


def import_dicom(root, out_dir, *, roi_pattern, suv_kind="bw", progress=None) -> pd.DataFrame:
    """Import a DICOM export as NIfTI CT, SUV PET and ROI per patient, with the image sheet.

    Parameters
    ----------
    root : str or path
        Folder of the export: DICOM files in any folders, under any names.
    out_dir : str or path
        Folder to create (or an empty one): ``{patient_id}/ct.nii.gz``, ``pet.nii.gz``,
        ``roi.nii.gz``, ``images.tsv`` and ``import_summary.tsv``.
    roi_pattern : str
        Regular expression the tumour structure's (or segment's) name matches in full,
        ignoring case (``GTV``, ``gtv.*``).
    suv_kind : {"bw", "lbm"}
        SUV by body weight (default) or by James lean body mass.
    progress : callable, optional
        ``progress(i, n, patient_id, message)`` after each patient; by default the line
        is logged.

    Returns
    -------
    pandas.DataFrame
        The summary, :data:`SUMMARY_COLUMNS`, one row per patient in PatientID order
        (``roi_file`` as given under ``root``).

    Raises
    ------
    InputError
        One line naming the exported file or the patient and the problem (see the
        module's rule); ``out_dir`` is then left as it was and no partial folder remains.
    """
    if suv_kind not in SUV_KINDS:
        raise ValueError(f"suv_kind must be one of {SUV_KINDS}, got {suv_kind!r}")
    root, out_dir = Path(root), Path(out_dir)
    _check_out_dir(out_dir)
    patients = scan_export(root)
    chosen = [(patients[pid], choose(patients[pid], roi_pattern, root)) for pid in sorted(patients)]
    partial = _partial_dir(out_dir)
    try:
        rows = []
        with tempfile.TemporaryDirectory(prefix="survsig-dicom-") as staging:
            for i, (patient, choice) in enumerate(chosen, 1):
                patient_staging = Path(staging) / str(i)
                patient_staging.mkdir()
                row = _import_patient(
                    patient,
                    choice,
                    staging=patient_staging,
                    target=partial / patient.patient_id,
                    roi_pattern=roi_pattern,
                    suv_kind=suv_kind,
                )
                shutil.rmtree(patient_staging)  # copies across file systems take room
                _report(progress, i, len(chosen), patient.patient_id, row)
                rows.append(row)
        summary = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
        sheet = pd.DataFrame(
            {
                "patient_id": summary["patient_id"],
                **{m: [f"{pid}/{name}" for pid in summary["patient_id"]] for m, name in IMAGE_NAMES.items()},
            }
        )
        write_tsv(sheet, partial / SHEET_NAME)
        write_tsv(summary, partial / SUMMARY_NAME, float_format="%.10g")
        _put_in_place(partial, out_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return summary


def _put_in_place(partial: Path, out_dir: Path) -> None:
    try:
        os.replace(partial, out_dir)  # onto a missing or an empty folder only
    except OSError as err:
        raise InputError(f"cannot put the import in place: {err.strerror or err}", file=out_dir) from None


def summary_text(summary: pd.DataFrame) -> str:
    """The summary as a table for the command line: patient, series used, SUV factor, ROI.

    Parameters
    ----------
    summary : pandas.DataFrame
        As returned by :func:`import_dicom`.

    Returns
    -------
    str
        Aligned columns, one line per patient, UIDs shortened to their last 8 digits.
    """
    header = ("patient", "study", "CT series", "PET series", "ROI file", "ROI", "SUV factor", "ROI mL")
    lines = [
        (
            str(row.patient_id),
            _short(row.study_uid),
            _short(row.ct_series),
            _short(row.pet_series),
            f"{Path(row.roi_file).name} ({row.roi_format})",
            str(row.roi_name),
            f"SUV{row.suv_kind} x{row.suv_factor:.6g}",
            f"{row.roi_volume_ml:.1f}",
        )
        for row in summary.itertuples(index=False)
    ]
    widths = [max(len(cell) for cell in column) for column in zip(header, *lines)]
    right = {6, 7}  # numbers align right
    return "\n".join(
        "  ".join(
            cell.rjust(w) if k in right else cell.ljust(w) for k, (cell, w) in enumerate(zip(cells, widths))
        ).rstrip()
        for cells in (header, *lines)
    )
