"""The synthetic cohort as a hospital's DICOM export (synthetic.image_format: dicom_rt).

One small cohort is written twice from the same seed, as NIfTI files and as the export
(CT and PET series, PET in Bq/mL, the ROI as an RTSTRUCT). The export is read back with
the readers a clinical export goes through (CT: survsig.core.images.read_image, PET:
survsig.cohort.suv.read_pet_suv, ROI: survsig.cohort.contours.read_rtstruct_roi) and
through the whole import (survsig.cohort.dicom_import), and must give the NIfTI images:
CT and ROI exactly, PET within float32 rounding, the geometry to 1e-4 mm.
"""

import hashlib
import math
from datetime import datetime

import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk
from test_simulate import small_settings

from survsig.cohort.contours import read_rtstruct_roi
from survsig.cohort.dicom_export import BQML_PER_SUV, F18_HALF_LIFE_S, pet_acquisition, pet_rescale_slope
from survsig.cohort.simulate import simulate_cohort
from survsig.cohort.suv import read_pet_suv, series_suv_factor
from survsig.core.images import read_image

FILES = {
    "clinical": "clinical.tsv",
    "rnaseq": "rnaseq_counts.tsv",
    "rnaseq_truth": "rnaseq_truth.tsv",
    "genesets": "genesets.gmt",
    "ground_truth": "ground_truth.tsv",
}
EPS32 = float(np.finfo(np.float32).eps)  # 1.19e-7
#: PET above 1e-3 of its maximum: int32 steps of 2**-31 of a slice's maximum (rounding
#: off 2**-32, 2.3e-7 relative at 1e-3 of it), then one float32 rounding (eps / 2); the
#: SUV factor 2**-11 multiplies exactly. 2.9e-7, about 2.4 float32 eps
PET_RTOL = 2.0**-32 / 1e-3 + EPS32 / 2
#: Geometry as read from DICOM: the float32 positions of NIfTI written to 1e-12 mm
GEOMETRY_MM = 1e-4


def settings(**changes):
    """The simulator tests' small cohort, smaller still: the export writes every slice."""
    return small_settings(**{"n_patients": 10, "rnaseq_samples": 4, "n_genes": 200, **changes})


def simulate(folder, image_format, threads=1):
    out = {key: folder / name for key, name in FILES.items()}
    if image_format == "dicom_rt":
        out["dicom_dir"] = folder / "dicom"
    else:
        out.update(images=folder / "images.tsv", image_dir=folder / "images")
    patients = simulate_cohort(settings(image_format=image_format), out, threads=threads)
    return patients


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory):
    nifti, dicom_rt = tmp_path_factory.mktemp("nifti"), tmp_path_factory.mktemp("dicom_rt")
    simulate(nifti, "nifti")
    patients = simulate(dicom_rt, "dicom_rt", threads=2)
    return nifti, dicom_rt, patients


def nifti_images(folder, patient):
    return {m: sitk.ReadImage(str(folder / "images" / f"{patient}_{m}.nii.gz")) for m in ("ct", "pet", "roi")}


def export_images(folder, patient):
    root = folder / "dicom" / patient
    return {
        "ct": read_image(root / "CT"),
        "pet": read_pet_suv(root / "PT"),
        "roi": read_rtstruct_roi(root / "RTSTRUCT" / "RS.dcm", root / "CT", pattern="GTV"),
    }


def assert_same_geometry(a, b):
    assert a.GetSize() == b.GetSize()
    for get in ("GetOrigin", "GetSpacing", "GetDirection"):
        np.testing.assert_allclose(getattr(a, get)(), getattr(b, get)(), rtol=0, atol=GEOMETRY_MM)


def assert_same_images(read, expected):
    """CT and ROI equal, PET within float32 rounding; returns the PET's relative error."""
    for modality in ("ct", "pet", "roi"):
        assert_same_geometry(read[modality], expected[modality])
    np.testing.assert_array_equal(sitk.GetArrayFromImage(read["ct"]), sitk.GetArrayFromImage(expected["ct"]))
    roi, truth = sitk.GetArrayFromImage(read["roi"]), sitk.GetArrayFromImage(expected["roi"])
    assert truth.any()
    np.testing.assert_array_equal(roi != 0, truth != 0)
    pet, suv = sitk.GetArrayFromImage(read["pet"]), sitk.GetArrayFromImage(expected["pet"])
    assert read["pet"].GetPixelID() == sitk.sitkFloat32
    top = float(suv.max())
    # int32 with a slope per slice: no voxel is further off than 2**-31 of the maximum
    np.testing.assert_allclose(pet, suv, rtol=0, atol=top * 2.0**-31)
    visible = suv > 1e-3 * top
    relative = float(np.max(np.abs(pet[visible].astype(float) / suv[visible] - 1.0)))
    assert relative <= PET_RTOL
    # voxels above 1/128 of their slice's maximum come back bit for bit (SUV = Bq/mL x 2**-11)
    slice_top = suv.max(axis=(1, 2), keepdims=True)
    exact = suv >= slice_top / 128
    np.testing.assert_array_equal(pet[exact], suv[exact])
    return relative


def test_export_reads_back_as_the_nifti_images(cohorts):
    nifti, dicom_rt, patients = cohorts
    worst = 0.0
    for patient in patients["patient_id"]:
        worst = max(worst, assert_same_images(export_images(dicom_rt, patient), nifti_images(nifti, patient)))
    print(f"PET largest relative error above 1e-3 of the maximum: {worst:.3g} ({worst / EPS32:.2f} float32 eps)")


def test_export_through_the_import_gives_the_nifti_images(cohorts, tmp_path):
    dicom_import = pytest.importorskip("survsig.cohort.dicom_import")
    nifti, dicom_rt, patients = cohorts
    summary = dicom_import.import_dicom(dicom_rt / "dicom", tmp_path / "imported", roi_pattern="GTV")
    assert list(summary["patient_id"]) == list(patients["patient_id"])
    # a whole-Bq dose: 2**-11 to a few 1e-9, far inside float32 rounding of 2**-11
    np.testing.assert_allclose(summary["suv_factor"], 1 / BQML_PER_SUV, rtol=1e-8)
    sheet = pd.read_csv(tmp_path / "imported" / "images.tsv", sep="\t")
    for row in sheet.itertuples(index=False):
        read = {m: sitk.ReadImage(str(tmp_path / "imported" / getattr(row, m))) for m in ("ct", "pet", "roi")}
        expected = nifti_images(nifti, row.patient_id)
        assert_same_images(read, expected)
        for m in ("ct", "pet", "roi"):  # as NIfTI again: the very same float32 geometry
            assert read[m].GetOrigin() == expected[m].GetOrigin()
            assert read[m].GetSpacing() == expected[m].GetSpacing()


def test_same_seed_gives_a_byte_identical_export(cohorts, tmp_path):
    _, dicom_rt, _ = cohorts
    simulate(tmp_path, "dicom_rt", threads=1)  # another worker count, the same bytes

    def digests(folder):
        return {
            str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }

    first, second = digests(dicom_rt), digests(tmp_path)
    assert first == second
    assert sorted({name.split("/")[0] for name in first}) == sorted(["dicom", *FILES.values()])
    assert sorted(p.name for p in (tmp_path / "dicom" / "SYN0001").iterdir()) == ["CT", "PT", "RTSTRUCT"]


def test_the_sheets_beside_the_export_are_the_nifti_cohorts(cohorts):
    nifti, dicom_rt, _ = cohorts
    for name in FILES.values():
        assert (nifti / name).read_bytes() == (dicom_rt / name).read_bytes(), name
    assert not (dicom_rt / "images.tsv").exists()  # the import writes the image sheet


def headers(folder):
    return [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(folder.rglob("*.dcm"))]


def test_headers_are_one_pet_ct_study_with_its_structure_set(cohorts):
    _, dicom_rt, patients = cohorts
    row = patients.iloc[0]
    folder = dicom_rt / "dicom" / row["patient_id"]
    everything = headers(folder)
    assert {h.PatientID for h in everything} == {row["patient_id"]}
    assert {h.PatientSex for h in everything} == {row["sex"]}
    assert len({h.StudyInstanceUID for h in everything}) == 1
    ct, pet = headers(folder / "CT"), headers(folder / "PT")
    assert len(ct) == 16 and len(pet) == 12
    assert {h.FrameOfReferenceUID for h in ct + pet} == {ct[0].FrameOfReferenceUID}
    assert {(h.Modality, h.RescaleIntercept, h.RescaleSlope, h.BitsStored) for h in ct} == {("CT", -1024, 1, 12)}
    assert {(h.Modality, h.Units, h.DecayCorrection, h.BitsAllocated, h.PixelRepresentation) for h in pet} == {
        ("PT", "BQML", "START", 32, 1)
    }
    structure = pydicom.dcmread(folder / "RTSTRUCT" / "RS.dcm")
    assert [roi.ROIName for roi in structure.StructureSetROISequence] == ["GTV"]
    referenced = structure.ReferencedFrameOfReferenceSequence[0]
    assert referenced.FrameOfReferenceUID == ct[0].FrameOfReferenceUID
    series = referenced.RTReferencedStudySequence[0].RTReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == ct[0].SeriesInstanceUID
    assert {i.ReferencedSOPInstanceUID for i in series.ContourImageSequence} == {h.SOPInstanceUID for h in ct}


def test_pet_header_gives_suv_per_qiba(cohorts):
    _, dicom_rt, patients = cohorts
    weights = []
    for index, row in patients.iterrows():
        folder = dicom_rt / "dicom" / row["patient_id"] / "PT"
        first = headers(folder)[0]
        drug = first.RadiopharmaceuticalInformationSequence[0]
        injection = datetime.strptime(drug.RadiopharmaceuticalStartDateTime, "%Y%m%d%H%M%S")
        scan = datetime.strptime(first.SeriesDate + first.SeriesTime, "%Y%m%d%H%M%S")
        uptake = (scan - injection).total_seconds()
        assert 55 * 60 <= uptake <= 70 * 60
        assert float(drug.RadionuclideHalfLife) == F18_HALF_LIFE_S
        weight, dose = float(first.PatientWeight), float(drug.RadionuclideTotalDose)
        weights.append(weight)
        # QIBA by hand: SUV = Bq/mL x weight (g) / (dose x decay from injection to scan)
        factor = weight * 1000 / (dose * math.exp(-math.log(2) * uptake / F18_HALF_LIFE_S))
        assert factor == pytest.approx(2.0**-11, rel=1e-8)
        assert series_suv_factor(folder).factor == pytest.approx(factor, rel=1e-12)
        assert 2.0 <= dose / 1e6 / weight <= 4.0  # MBq/kg, as weight-based protocols inject
        assert pet_acquisition(11, index, row["sex"]).weight_kg == weight
    assert 40 <= min(weights) and max(weights) <= 140 and len(set(weights)) > len(weights) / 2


def test_pet_slope_stores_each_slice_top_near_the_int32_limit():
    bqml = np.array([[0.0, 1234.5], [65535.9, 7.25]])
    slope = pet_rescale_slope(bqml)
    assert len(slope) <= 16  # a DICOM decimal string
    stored = np.rint(bqml / float(slope))
    assert 2**31 - 100 < stored.max() <= 2**31 - 1
    assert pet_rescale_slope(np.zeros((2, 2))) == "1"
