"""A hospital's DICOM export imported (survsig.cohort.dicom_import): small PET/CT exports
written with pydicom and GDCM, their files shuffled into one folder under random names,
imported to NIfTI and checked against the values written: CT in HU, SUV computed by hand
(test_suv's dose, weight and decay), the ROI drawn. Each refusal is one line and leaves
nothing behind. The real cases go through a Bq/mL PET with a known dose and come back as
their SUV."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from test_contours import dice, write_case, write_rtstruct, write_seg
from test_suv import DOSE, HALF_LIFE, WEIGHT, decay, rescaled, write_pet

from survsig.cli import main
from survsig.cohort.dicom_import import SUMMARY_COLUMNS, import_dicom, summary_text
from survsig.cohort.image_files import dicom_uid, write_dicom_series
from survsig.cohort.phantoms import Grid
from survsig.cohort.validate import id_problem, validate_images
from survsig.core.errors import InputError

CT_GRID = Grid((8, 8, 6), (1.0, 1.0, 2.0), (-3.0, -3.0, 0.0))
SEED = 3
WRITERS = {"rtstruct": write_rtstruct, "seg": write_seg}
#: test_suv's series: injection 10:00, series 11:00
SUV_FACTOR = WEIGHT * 1000 / (DOSE * decay(3600))


# ----------------------------------------------------------------------------- writers


def hounsfield(patient_id) -> np.ndarray:
    """A CT volume (z, y, x) with a different HU in every voxel and patient."""
    offset = 10 * (sum(map(ord, patient_id)) % 50)
    return (np.arange(np.prod(CT_GRID.size)).reshape(CT_GRID.size[::-1]) * 3 - 500 + offset).astype(np.int16)


def on_ct_grid(array) -> sitk.Image:
    image = sitk.GetImageFromArray(np.asarray(array, dtype=np.uint8))
    image.SetSpacing(CT_GRID.spacing)
    image.SetOrigin(CT_GRID.origin)
    return image


def tumour(shift=0) -> np.ndarray:
    """An L-shaped tumour over three CT slices (z, y, x)."""
    mask = np.zeros(CT_GRID.size[::-1], dtype=np.uint8)
    mask[1:4, 3:6, 2 + shift : 5 + shift] = 1
    mask[2, 6, 2 + shift] = 1
    return mask


def same_patient(ct_dir, **fields):
    """An edit putting test_suv's PET slices into the CT's patient, study and frame."""
    ct = pydicom.dcmread(next(ct_dir.glob("*.dcm")), stop_before_pixels=True)

    def edit(ds, k):
        ds.PatientID, ds.StudyInstanceUID, ds.FrameOfReferenceUID = (
            ct.PatientID,
            ct.StudyInstanceUID,
            ct.FrameOfReferenceUID,
        )
        ds.StudyDate, ds.SeriesNumber, ds.SeriesDescription = ct.StudyDate, 3, "PET AC"
        for keyword, value in fields.items():
            if value is None:
                delattr(ds, keyword)
            else:
                setattr(ds, keyword, value)

    return edit


def write_patient(folder, patient_id, *, seed=SEED, roi="rtstruct", pet=True, structures=None, pet_fields=None):
    """One study: CT series, PET series (test_suv's) and a structure file of ``roi`` format."""
    ct_dir = folder / "ct"
    write_dicom_series(hounsfield(patient_id), CT_GRID, ct_dir, modality="CT", patient_id=patient_id, seed=seed)
    if pet:
        write_pet(folder / "pet", edit=same_patient(ct_dir, **(pet_fields or {})))
    if roi:
        masks = structures or {"GTV": tumour(), "BODY": np.ones(CT_GRID.size[::-1])}
        WRITERS[roi](folder / "roi.dcm", ct_dir, {name: on_ct_grid(mask) for name, mask in masks.items()})
    return folder


def write_other_dicom(path):
    """A DICOM file of a kind the import does not read (a structured report)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientID = "SR", "P001"
    ds.save_as(path, enforce_file_format=True)


def export(sources, folder, *, seed=0):
    """Every file under ``sources``, shuffled into one flat ``folder`` under random names
    (half without a suffix), with a readme and a report the import must skip."""
    rng = random.Random(seed)
    files = sorted(p for source in sources for p in source.rglob("*") if p.is_file())
    rng.shuffle(files)
    folder.mkdir(parents=True)
    for path in files:
        name = f"{rng.getrandbits(48):012x}" + rng.choice(["", ".dcm"])
        (folder / name).write_bytes(path.read_bytes())
    (folder / "README.txt").write_text("exported by the hospital's PACS\n")
    write_other_dicom(folder / "report")
    return folder


def listing(folder) -> list:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def exported(folder, modality) -> list:
    """Names of the files in ``folder`` of DICOM ``modality``."""
    names = []
    for path in sorted(folder.iterdir()):
        try:
            if pydicom.dcmread(path, stop_before_pixels=True).get("Modality") == modality:
                names.append(path.name)
        except pydicom.errors.InvalidDicomError:
            pass
    return names


def array(path) -> np.ndarray:
    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


def short(uid) -> str:
    return "..." + uid[-8:]


# ----------------------------------------------------------------------------- the import


@pytest.fixture
def two_patients(tmp_path):
    """P001 (RTSTRUCT) and P002 (SEG, plus a CT-only earlier study) in one shuffled folder."""
    sources = tmp_path / "sources"
    write_patient(sources / "P001", "P001")
    write_patient(sources / "P002", "P002", roi="seg", structures={"GTV_primary": tumour(shift=1)})
    write_patient(sources / "P002_old", "P002", seed=11, roi=None, pet=False)
    return export([sources], tmp_path / "export")


def test_two_patients_come_out_as_written(two_patients, tmp_path):
    out, lines = tmp_path / "imported", []
    before = listing(two_patients)
    summary = import_dicom(two_patients, out, roi_pattern="gtv.*", progress=lambda *line: lines.append(line))

    assert listing(two_patients) == before  # the export is only read
    assert sorted(listing(out)) == sorted(
        ["images.tsv", "import_summary.tsv"] + [f"{p}{f}" for p in ("P001", "P002") for f in ("", *IMAGES)]
    )
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    for pid, mask in (("P001", tumour()), ("P002", tumour(shift=1))):
        ct = sitk.ReadImage(str(out / pid / "ct.nii.gz"))
        assert ct.GetPixelID() == sitk.sitkInt16  # HU as GDCM rescales them (slope 1, intercept -1024)
        assert ct.GetSpacing() == pytest.approx(CT_GRID.spacing) and ct.GetOrigin() == pytest.approx(CT_GRID.origin)
        np.testing.assert_array_equal(sitk.GetArrayFromImage(ct), hounsfield(pid))
        pet = sitk.ReadImage(str(out / pid / "pet.nii.gz"))
        assert pet.GetPixelID() == sitk.sitkFloat32
        assert pet.GetSpacing() == pytest.approx((2.0, 2.0, 4.0))
        np.testing.assert_allclose(sitk.GetArrayFromImage(pet), rescaled() * SUV_FACTOR, rtol=1e-6)
        roi = sitk.ReadImage(str(out / pid / "roi.nii.gz"))
        assert roi.GetPixelID() == sitk.sitkUInt8
        np.testing.assert_array_equal(sitk.GetArrayFromImage(roi), mask)

    sheet = pd.read_csv(out / "images.tsv", sep="\t", dtype=str)
    assert sheet.to_dict("list") == {
        "patient_id": ["P001", "P002"],
        **{m: [f"P001/{m}.nii.gz", f"P002/{m}.nii.gz"] for m in ("ct", "pet", "roi")},
    }
    assert list(validate_images(out / "images.tsv", ["P001", "P002"])["patient_id"]) == ["P001", "P002"]

    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    written = pd.read_csv(out / "import_summary.tsv", sep="\t")
    assert written.drop(columns=["suv_factor", "roi_volume_ml"]).equals(
        summary.drop(columns=["suv_factor", "roi_volume_ml"])
    )
    np.testing.assert_allclose(
        written[["suv_factor", "roi_volume_ml"]], summary[["suv_factor", "roi_volume_ml"]], rtol=1e-9
    )
    voxel_ml = 1.0 * 1.0 * 2.0 / 1000
    for row, pid, name, fmt in ((0, "P001", "GTV", "rtstruct"), (1, "P002", "GTV_primary", "seg")):
        got = summary.iloc[row]
        assert (got.patient_id, got.roi_name, got.roi_format, got.suv_kind) == (pid, name, fmt, "bw")
        assert got.study_uid == dicom_uid(SEED, pid, "study")  # not P002's CT-only study
        assert got.ct_series == dicom_uid(SEED, pid, "CT", "series")
        assert got.pet_series == pydicom.dcmread(next((tmp_path / "sources" / pid / "pet").glob("*"))).SeriesInstanceUID
        assert got.suv_factor == pytest.approx(SUV_FACTOR, rel=1e-12)
        assert "BQML" in got.suv_method and "dose 3.7e+08 Bq" in got.suv_method
        assert got.roi_volume_ml == pytest.approx(tumour().sum() * voxel_ml)
        assert got.roi_file.startswith(str(two_patients))

    factor = f"{SUV_FACTOR:.6g}"
    assert lines == [
        (1, 2, "P001", f"CT 8x8x6, PET SUVbw x{factor}, ROI 'GTV' {tumour().sum() * voxel_ml:.1f} mL"),
        (2, 2, "P002", f"CT 8x8x6, PET SUVbw x{factor}, ROI 'GTV_primary' {tumour().sum() * voxel_ml:.1f} mL"),
    ]
    text = summary_text(summary).splitlines()
    assert text[0].split()[:2] == ["patient", "study"]
    assert text[1].startswith("P001 ") and f"SUVbw x{factor}" in text[1] and text[1].endswith("0.1")
    assert "GTV_primary" in text[2] and "(seg)" in text[2]


IMAGES = ("/ct.nii.gz", "/pet.nii.gz", "/roi.nii.gz")


def test_an_empty_out_dir_is_filled(two_patients, tmp_path):
    (tmp_path / "imported").mkdir()
    import_dicom(two_patients, tmp_path / "imported", roi_pattern="GTV.*")
    assert (tmp_path / "imported" / "P002" / "roi.nii.gz").is_file()


def test_set_aside_a_pet_without_attenuation_correction_and_a_structure_file_without_the_roi(tmp_path):
    sources = tmp_path / "sources"
    write_patient(sources, "P001")
    nac = same_patient(sources / "ct", CorrectedImage=["DECY"], SeriesNumber=4, SeriesDescription="PET NAC")
    write_pet(sources / "pet_nac", edit=nac)
    write_rtstruct(sources / "organs.dcm", sources / "ct", {"BODY": on_ct_grid(np.ones(CT_GRID.size[::-1]))})
    summary = import_dicom(export([sources], tmp_path / "export"), tmp_path / "out", roi_pattern="GTV")
    pet = pydicom.dcmread(next((sources / "pet").glob("*")), stop_before_pixels=True)
    assert summary.loc[0, "pet_series"] == pet.SeriesInstanceUID
    assert summary.loc[0, "roi_name"] == "GTV"


# ----------------------------------------------------------------------------- refusals


def refusal(export_dir, tmp_path, *, pattern="GTV", out=None) -> str:
    """The one-line message of importing ``export_dir``; checks nothing was left behind."""
    out = out or tmp_path / "imported"
    before = listing(tmp_path)
    with pytest.raises(InputError) as err:
        import_dicom(export_dir, out, roi_pattern=pattern)
    assert listing(tmp_path) == before  # no out_dir, no partial folder
    message = str(err.value)
    assert "\n" not in message and "survsig-dicom-" not in message and ".partial-" not in message
    return message


def test_two_qualifying_studies_are_refused_with_the_choices(tmp_path):
    sources = tmp_path / "sources"
    write_patient(sources / "first", "P001")
    write_patient(sources / "second", "P001", seed=4)
    message = refusal(export([sources], tmp_path / "export"), tmp_path)
    assert message.startswith(
        "patient P001: 2 (CT, PET, structure file) choices qualify; leave one in the export: (1) "
    )
    for seed in (SEED, 4):
        study, ct = dicom_uid(seed, "P001", "study"), dicom_uid(seed, "P001", "CT", "series")
        assert (
            f"study 20220101 '' ({short(study)}): CT series 1 'synthetic CT' ({short(ct)}), PET series 3 'PET AC' ("
            in message
        )
    assert message.count("RTSTRUCT ") == 2


def test_a_patient_without_pet_is_refused(tmp_path):
    export_dir = export([write_patient(tmp_path / "sources", "P001", pet=False)], tmp_path / "export")
    (roi,) = exported(export_dir, "RTSTRUCT")
    message = refusal(export_dir, tmp_path)
    ct = dicom_uid(SEED, "P001", "CT", "series")
    assert message == f"patient P001: no PET (PT) series (found: CT series 1 'synthetic CT' ({short(ct)}); {roi})"


def test_a_patient_without_structure_file_is_refused(tmp_path):
    export_dir = export([write_patient(tmp_path / "sources", "P001", roi=None)], tmp_path / "export")
    message = refusal(export_dir, tmp_path)
    assert message.startswith("patient P001: no RTSTRUCT or SEG file (found: CT series 1 'synthetic CT' (")
    assert "PET series 3 'PET AC'" in message


def test_a_roi_pattern_matching_nothing_is_refused_naming_the_exported_file(tmp_path):
    export_dir = export([write_patient(tmp_path / "sources", "P001")], tmp_path / "export")
    message = refusal(export_dir, tmp_path, pattern="rGTV.*")
    file, problem = message.split(": ", 1)
    assert pydicom.dcmread(file).Modality == "RTSTRUCT" and file.startswith(str(export_dir))
    assert problem == "no structure matches 'rGTV.*'; structures found: 'GTV', 'BODY'"


def test_a_bad_pet_header_is_refused_naming_the_exported_slice_and_nothing_is_kept(tmp_path):
    sources = tmp_path / "sources"
    write_patient(sources / "P001", "P001")  # imported first, then thrown away
    write_patient(sources / "P002", "P002", pet_fields={"PatientWeight": None})
    export_dir = export([sources], tmp_path / "export")
    message = refusal(export_dir, tmp_path)
    file, problem = message.split(": ", 1)
    assert file.startswith(str(export_dir)) and pydicom.dcmread(file).PatientID == "P002"
    assert problem == "PatientWeight (0010,1030) is missing; SUV needs the patient's weight in kg"


def test_a_non_empty_out_dir_is_refused(two_patients, tmp_path):
    out = tmp_path / "imported"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    message = refusal(two_patients, tmp_path, out=out)
    assert message == f"{out}: exists and is not empty; give a new or empty folder for the import"
    assert (out / "notes.txt").read_text() == "mine\n"


def test_a_patient_id_that_cannot_name_a_folder_is_refused(tmp_path):
    export_dir = export([write_patient(tmp_path / "sources", "P/001")], tmp_path / "export")
    message = refusal(export_dir, tmp_path)
    file, problem = message.split(": ", 1)
    assert file.startswith(str(export_dir)) and problem == id_problem("P/001")


def test_a_folder_without_dicom_is_refused(tmp_path):
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "notes.txt").write_text("no images\n")
    message = refusal(tmp_path / "export", tmp_path)
    assert message == f"{tmp_path / 'export'}: holds no CT, PET, RTSTRUCT or SEG file (1 files that are not DICOM)"


# ----------------------------------------------------------------------------- real cases

CASES = ("STS_001", "STS_002", "STS_003")
#: Injected dose (Bq) and weight (kg) per case
REAL_DOSES = {"STS_001": (3.5e8, 72.5), "STS_002": (2.9e8, 58.0), "STS_003": (4.1e8, 91.3)}
STORED_MAX = 2**30  # stored integers up to this: headroom below int32 for the slope rounded to 10 digits


def write_bqml_pet(suv: sitk.Image, folder, ct_dir, *, dose, weight):
    """``suv`` as a PET series in Bq/mL (decay corrected to the 11:00 scan start, injected
    10:00), stored as 32-bit integers with a rescale slope per slice, in the CT's study."""
    ct = pydicom.dcmread(next(ct_dir.glob("*.dcm")), stop_before_pixels=True)
    bqml = sitk.GetArrayFromImage(suv).astype(float) * dose * decay(3600) / (weight * 1000)
    folder.mkdir()
    series = generate_uid()
    for k, plane in enumerate(bqml):
        slope = float(f"{max(np.abs(plane).max(), 1e-3) / STORED_MAX:.9e}")
        sop = generate_uid()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = "1.2.840.10008.5.1.4.1.1.128", sop
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = meta.MediaStorageSOPClassUID, sop, "PT"
        ds.PatientID, ds.PatientWeight = ct.PatientID, weight
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = (
            ct.StudyInstanceUID,
            series,
            ct.FrameOfReferenceUID,
        )
        ds.SeriesNumber, ds.SeriesDate, ds.SeriesTime = 3, "20220101", "110000"
        ds.AcquisitionDate, ds.AcquisitionTime = "20220101", "110000"
        ds.Units, ds.DecayCorrection, ds.CorrectedImage = "BQML", "START", ["ATTN", "DECY"]
        drug = Dataset()
        drug.RadionuclideTotalDose, drug.RadionuclideHalfLife = dose, HALF_LIFE
        drug.RadiopharmaceuticalStartDateTime = "20220101100000"
        ds.RadiopharmaceuticalInformationSequence = [drug]
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = list(suv.TransformIndexToPhysicalPoint((0, 0, k)))
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [suv.GetSpacing()[1], suv.GetSpacing()[0]]
        ds.SliceThickness = suv.GetSpacing()[2]
        ds.Rows, ds.Columns = plane.shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 32, 32, 31, 1
        ds.RescaleSlope, ds.RescaleIntercept = f"{slope:.9e}", 0
        ds.PixelData = np.rint(plane / slope).astype("<i4").tobytes()
        ds.save_as(folder / f"{k + 1:04d}.dcm", enforce_file_format=True)


def test_real_cases_come_back_as_their_suv_and_mask(shared_dir, tmp_path):
    sources, masks = tmp_path / "sources", {}
    for case in CASES:
        masks[case] = write_case(shared_dir, case, sources / case)  # CT series; the CT-grid mask
        pet = sitk.ReadImage(str(shared_dir / "data" / "real" / "petct" / "sts" / case / "PET" / "image.nii.gz"))
        dose, weight = REAL_DOSES[case]
        write_bqml_pet(pet, sources / case / "pet", sources / case / "ct", dose=dose, weight=weight)
        write_rtstruct(sources / case / "rs.dcm", sources / case / "ct", {"GTV": masks[case], "BODY": masks[case] > 2})
    out = tmp_path / "imported"
    summary = import_dicom(export([sources], tmp_path / "export"), out, roi_pattern="gtv")

    assert list(summary["patient_id"]) == list(CASES)
    expected = [weight * 1000 / (dose * decay(3600)) for dose, weight in REAL_DOSES.values()]
    assert summary["suv_factor"].to_list() == pytest.approx(expected, rel=1e-12)
    for case in CASES:
        real = shared_dir / "data" / "real" / "petct" / "sts" / case
        original = sitk.ReadImage(str(real / "PET" / "image.nii.gz"))
        imported = sitk.ReadImage(str(out / case / "pet.nii.gz"))
        assert imported.GetOrigin() == pytest.approx(original.GetOrigin(), abs=1e-4)
        suv, back = sitk.GetArrayFromImage(original).astype(float), sitk.GetArrayFromImage(imported).astype(float)
        # the bound, per voxel, on every voxel with uptake; zero stays zero
        np.testing.assert_allclose(back, suv, rtol=1e-4, atol=0)
        hu = np.rint(sitk.GetArrayFromImage(sitk.ReadImage(str(real / "CT" / "image.nii.gz"))))
        np.testing.assert_array_equal(array(out / case / "ct.nii.gz"), hu)
        mask, roi = sitk.GetArrayFromImage(masks[case]) != 0, array(out / case / "roi.nii.gz")
        assert dice(mask, roi) >= 0.95
        voxel_ml = math.prod(masks[case].GetSpacing()) / 1000
        assert summary.set_index("patient_id").loc[case, "roi_volume_ml"] == pytest.approx(roi.sum() * voxel_ml)


def test_command_line_imports_and_prints_the_summary(two_patients, tmp_path, capsys):
    out = tmp_path / "imported"
    main(["import-dicom", str(two_patients), "--out", str(out), "--roi", "gtv.*"])
    printed = capsys.readouterr()
    first, second = printed.err.splitlines()  # a progress line per patient
    assert first.startswith("patient 1/2 P001: CT ") and second.startswith("patient 2/2 P002: CT ")
    assert printed.out.splitlines()[-1] == f"imported 2 patient(s): {out / 'images.tsv'}"
    summary = pd.read_csv(out / "import_summary.tsv", sep="\t")
    assert summary["patient_id"].tolist() == ["P001", "P002"]
    assert summary["roi_format"].tolist() == ["rtstruct", "seg"]


def test_command_line_refuses_in_one_line_with_status_2_and_writes_nothing(two_patients, tmp_path, capsys):
    out = tmp_path / "imported"
    before = listing(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["import-dicom", str(two_patients), "--out", str(out), "--roi", "rGTV.*"])
    assert exit_info.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("survsig import-dicom: ") and "no structure matches 'rGTV.*'" in line
    assert listing(tmp_path) == before
