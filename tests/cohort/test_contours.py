"""Contours from clinical DICOM (survsig.cohort.contours) on the three real PET/CT cases.

Each case's CT is written as a DICOM series and its tumour mask as an RTSTRUCT and as a
DICOM-SEG by other code than the reader's: RTSTRUCT polygons are traced by contourpy
(marching squares at level 0.5, as a planning system outlines a mask) and both files are
built by hand with pydicom, where the module reads RTSTRUCT with scikit-image's polygon
filling and DICOM-SEG with highdicom. The label read back must match the original mask.
"""

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.pixels import pack_bits
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from survsig.cohort.contours import matching_structure, read_rtstruct_roi, read_seg_roi
from survsig.cohort.image_files import write_dicom_series
from survsig.cohort.phantoms import Grid
from survsig.core.errors import InputError
from survsig.core.images import same_grid

CASES = ("STS_001", "STS_002", "STS_003")
RTSTRUCT_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
OTHER_UID = "2.25.1234567890"


# ----------------------------------------------------------------------------- writers


def write_case(shared_dir, case, folder):
    """The case's CT as a DICOM series in ``folder / 'ct'``; its mask (SimpleITK image)."""
    case_dir = shared_dir / "data" / "real" / "petct" / "sts" / case / "CT"
    ct = sitk.ReadImage(str(case_dir / "image.nii.gz"))
    grid = Grid(ct.GetSize(), ct.GetSpacing(), ct.GetOrigin())
    hu = np.rint(sitk.GetArrayViewFromImage(ct)).astype(np.int16)
    write_dicom_series(hu, grid, folder / "ct", modality="CT", patient_id=case, seed=7)
    return sitk.ReadImage(str(case_dir / "mask.nii.gz"))


def ct_headers(ct_dir):
    """The CT files' headers, from the lowest slice up."""
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in ct_dir.glob("*.dcm")]
    return sorted(headers, key=lambda h: float(h.ImagePositionPatient[2]))


def new_dataset(path, sop_class, modality, ct):
    """A DICOM file's dataset with the patient, study and series of a derived object of ``ct``."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    for key in ("PatientID", "PatientName", "StudyInstanceUID", "StudyDate", "StudyTime"):
        setattr(ds, key, ct.get(key, ""))
    ds.PatientBirthDate, ds.PatientSex, ds.ReferringPhysicianName = "", "", ""
    ds.StudyID, ds.AccessionNumber, ds.Manufacturer = "1", "", "survsig tests"
    ds.SeriesInstanceUID, ds.SeriesNumber, ds.InstanceNumber = generate_uid(), 99, 1
    ds.ContentDate, ds.ContentTime = ct.get("StudyDate", "20240101"), ct.get("StudyTime", "120000")
    return ds


def item(**attributes):
    ds = Dataset()
    for key, value in attributes.items():
        setattr(ds, key, value)
    return ds


def code(value, scheme, meaning):
    return item(CodeValue=value, CodingSchemeDesignator=scheme, CodeMeaning=meaning)


def traced_polygons(plane):
    """Closed outlines of a 2-D mask at level 0.5, as (x, y) voxel indices."""
    import contourpy

    # a zero border closes the outlines of a mask that touches the slice's edge
    padded = np.pad(plane.astype(float), 1)
    return [line[:-1] - 1.0 for line in contourpy.contour_generator(z=padded, line_type="Separate").lines(0.5)]


def write_rtstruct(path, ct_dir, structures, *, frame_uid=None, series_uid=None, shift_mm=0.0):
    """An RT Structure Set of ``structures`` (name -> mask image on the CT grid).

    ``frame_uid`` and ``series_uid`` replace the CT's in the references; ``shift_mm``
    moves every contour point along x.
    """
    cts = ct_headers(ct_dir)
    ct = cts[0]
    frame_uid = frame_uid or ct.FrameOfReferenceUID
    ds = new_dataset(path, RTSTRUCT_CLASS, "RTSTRUCT", ct)
    ds.StructureSetLabel, ds.StructureSetDate, ds.StructureSetTime = "tumour", ds.ContentDate, ds.ContentTime
    images = Sequence(
        [item(ReferencedSOPClassUID=h.SOPClassUID, ReferencedSOPInstanceUID=h.SOPInstanceUID) for h in cts]
    )
    series = item(SeriesInstanceUID=series_uid or ct.SeriesInstanceUID, ContourImageSequence=images)
    study = item(
        ReferencedSOPClassUID="1.2.840.10008.3.1.2.3.1",
        ReferencedSOPInstanceUID=ct.StudyInstanceUID,
        RTReferencedSeriesSequence=Sequence([series]),
    )
    ds.ReferencedFrameOfReferenceSequence = Sequence(
        [item(FrameOfReferenceUID=frame_uid, RTReferencedStudySequence=Sequence([study]))]
    )
    ds.StructureSetROISequence, ds.ROIContourSequence, ds.RTROIObservationsSequence = Sequence(), Sequence(), Sequence()
    for number, (name, mask) in enumerate(structures.items(), 1):
        ds.StructureSetROISequence.append(
            item(
                ROINumber=number, ReferencedFrameOfReferenceUID=frame_uid, ROIName=name, ROIGenerationAlgorithm="MANUAL"
            )
        )
        ds.RTROIObservationsSequence.append(
            item(ObservationNumber=number, ReferencedROINumber=number, RTROIInterpretedType="GTV", ROIInterpreter="")
        )
        contours = Sequence()
        for k, plane in enumerate(sitk.GetArrayViewFromImage(mask)):
            for polygon in traced_polygons(plane) if plane.any() else []:
                points = np.array([mask.TransformContinuousIndexToPhysicalPoint((x, y, float(k))) for x, y in polygon])
                points[:, 0] += shift_mm
                image = item(ReferencedSOPClassUID=cts[k].SOPClassUID, ReferencedSOPInstanceUID=cts[k].SOPInstanceUID)
                contours.append(
                    item(
                        ContourGeometricType="CLOSED_PLANAR",
                        NumberOfContourPoints=len(points),
                        ContourData=[f"{v:.4f}" for v in points.ravel()],
                        ContourImageSequence=Sequence([image]),
                    )
                )
        ds.ROIContourSequence.append(
            item(ReferencedROINumber=number, ROIDisplayColor=[255, 0, 0], ContourSequence=contours)
        )
    ds.save_as(path, enforce_file_format=True)


def write_seg(path, ct_dir, segments, *, frame_uid=None, series_uid=None, shift_mm=0.0):
    """A binary DICOM-SEG of ``segments`` (name -> mask image on the CT grid), one frame per
    CT slice that a segment covers; arguments as for :func:`write_rtstruct`."""
    cts = ct_headers(ct_dir)
    ct = cts[0]
    ds = new_dataset(path, SEG_CLASS, "SEG", ct)
    ds.FrameOfReferenceUID = frame_uid or ct.FrameOfReferenceUID
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.ContentLabel, ds.ContentDescription, ds.ContentCreatorName = "TUMOUR", "", ""
    ds.SegmentationType = "BINARY"
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PixelRepresentation = 1, "MONOCHROME2", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.LossyImageCompression = 1, 1, 0, "00"
    ds.Rows, ds.Columns = ct.Rows, ct.Columns
    ds.SegmentSequence = Sequence(
        item(
            SegmentNumber=number,
            SegmentLabel=name,
            SegmentAlgorithmType="MANUAL",
            SegmentedPropertyCategoryCodeSequence=Sequence(
                [code("49755003", "SCT", "Morphologically Altered Structure")]
            ),
            SegmentedPropertyTypeCodeSequence=Sequence([code("4147007", "SCT", "Mass")]),
        )
        for number, name in enumerate(segments, 1)
    )
    spacing = [float(ct.SpacingBetweenSlices)]
    ds.SharedFunctionalGroupsSequence = Sequence(
        [
            item(
                PixelMeasuresSequence=Sequence(
                    [
                        item(
                            PixelSpacing=ct.PixelSpacing,
                            SliceThickness=ct.SliceThickness,
                            SpacingBetweenSlices=spacing[0],
                        )
                    ]
                ),
                PlaneOrientationSequence=Sequence([item(ImageOrientationPatient=ct.ImageOrientationPatient)]),
            )
        ]
    )
    organisation = generate_uid()
    ds.DimensionOrganizationSequence = Sequence([item(DimensionOrganizationUID=organisation)])
    ds.DimensionIndexSequence = Sequence(
        [
            item(
                DimensionOrganizationUID=organisation,
                DimensionIndexPointer=0x0062000B,
                FunctionalGroupPointer=0x0062000A,
            ),
            item(
                DimensionOrganizationUID=organisation,
                DimensionIndexPointer=0x00200032,
                FunctionalGroupPointer=0x00209113,
            ),
        ]
    )
    instances = Sequence(
        [item(ReferencedSOPClassUID=h.SOPClassUID, ReferencedSOPInstanceUID=h.SOPInstanceUID) for h in cts]
    )
    ds.ReferencedSeriesSequence = Sequence(
        [item(SeriesInstanceUID=series_uid or ct.SeriesInstanceUID, ReferencedInstanceSequence=instances)]
    )
    frames, groups = [], Sequence()
    for number, mask in enumerate(segments.values(), 1):
        for k, plane in enumerate(sitk.GetArrayViewFromImage(mask)):
            if not plane.any():
                continue
            position = [float(v) for v in cts[k].ImagePositionPatient]
            position[0] += shift_mm
            source = item(
                ReferencedSOPClassUID=cts[k].SOPClassUID,
                ReferencedSOPInstanceUID=cts[k].SOPInstanceUID,
                PurposeOfReferenceCodeSequence=Sequence(
                    [code("121322", "DCM", "Source image for image processing operation")]
                ),
            )
            derivation = item(
                SourceImageSequence=Sequence([source]),
                DerivationCodeSequence=Sequence([code("113076", "DCM", "Segmentation")]),
            )
            groups.append(
                item(
                    FrameContentSequence=Sequence([item(DimensionIndexValues=[number, k + 1])]),
                    PlanePositionSequence=Sequence([item(ImagePositionPatient=position)]),
                    SegmentIdentificationSequence=Sequence([item(ReferencedSegmentNumber=number)]),
                    DerivationImageSequence=Sequence([derivation]),
                )
            )
            frames.append(plane != 0)
    ds.PerFrameFunctionalGroupsSequence = groups
    ds.NumberOfFrames = len(frames)
    ds.PixelData = pack_bits(np.stack(frames).astype(np.uint8))
    ds.save_as(path, enforce_file_format=True)


WRITERS = {"rtstruct": (write_rtstruct, read_rtstruct_roi), "seg": (write_seg, read_seg_roi)}


def dice(a, b) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return 2.0 * (a & b).sum() / (a.sum() + b.sum())


def listing(folder) -> list:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("kind", sorted(WRITERS))
@pytest.mark.parametrize("case", CASES)
def test_real_mask_comes_back_through_the_import(shared_dir, tmp_path, case, kind):
    mask = write_case(shared_dir, case, tmp_path)
    write, read = WRITERS[kind]
    write(tmp_path / "roi.dcm", tmp_path / "ct", {"BODY": mask > 2, "GTV_primary": mask})
    label = read(tmp_path / "roi.dcm", tmp_path / "ct", pattern="gtv.*")
    assert label.GetPixelID() == sitk.sitkUInt8
    assert same_grid(label, mask, atol=1e-4)  # the CT's grid, on which the mask was drawn
    original, imported = sitk.GetArrayFromImage(mask) != 0, sitk.GetArrayFromImage(label)
    assert set(np.unique(imported)) == {0, 1}
    # the bounds; outlines at level 0.5 filled by voxel centres give the mask back exactly
    assert dice(original, imported) >= 0.95
    assert imported.sum() == pytest.approx(original.sum(), rel=0.03)


# ----------------------------------------------------------------------------- names


def test_matching_structure_takes_the_one_full_match_ignoring_case():
    names = ["BODY", "GTV", "GTV_nodes", "PTV"]
    assert matching_structure(names, "gtv", file="rs.dcm") == "GTV"
    assert matching_structure(names, "gtv_.*", file="rs.dcm") == "GTV_nodes"


def test_matching_structure_refuses_a_pattern_that_is_no_regular_expression():
    with pytest.raises(InputError) as err:
        matching_structure(["GTV"], "GTV(", file="rs.dcm")
    assert str(err.value).startswith("rs.dcm: structure pattern 'GTV(' is not a regular expression: ")


# ----------------------------------------------------------------------------- refusals


@pytest.fixture
def small_case(shared_dir, tmp_path):
    """STS_002 (the smallest case): its CT series in tmp_path / 'ct' and its mask."""
    return tmp_path, write_case(shared_dir, "STS_002", tmp_path)


def refusal(kind, folder, *, pattern="GTV", **written) -> str:
    """The message of reading what ``written`` describes; checks nothing was written."""
    write, read = WRITERS[kind]
    structures = written.pop("structures")
    write(folder / "roi.dcm", folder / "ct", structures, **written)
    before = listing(folder)
    with pytest.raises(InputError) as err:
        read(folder / "roi.dcm", folder / "ct", pattern=pattern)
    assert listing(folder) == before
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{folder / 'roi.dcm'}: ")
    return message.split(": ", 1)[1]


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_no_matching_structure_is_refused_with_the_names_found(small_case, kind):
    folder, mask = small_case
    message = refusal(kind, folder, pattern="rGTV.*", structures={"GTV": mask, "Body": mask})
    assert message == "no structure matches 'rGTV.*'; structures found: 'GTV', 'Body'"


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_two_matching_structures_are_refused_with_the_names_found(small_case, kind):
    folder, mask = small_case
    message = refusal(kind, folder, pattern="rGTV.*", structures={"rGTV1": mask, "rGTV2": mask, "PTV": mask})
    assert message == "2 structures match 'rGTV.*'; make it match one; structures found: 'rGTV1', 'rGTV2', 'PTV'"


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_another_frame_of_reference_is_refused(small_case, kind):
    folder, mask = small_case
    frame = pydicom.dcmread(next((folder / "ct").glob("*.dcm")), stop_before_pixels=True).FrameOfReferenceUID
    message = refusal(kind, folder, structures={"GTV": mask}, frame_uid=OTHER_UID)
    what = "structure 'GTV'" if kind == "rtstruct" else "the segmentation"
    assert message == f"{what} is in frame of reference {OTHER_UID}, the CT in {frame}; it was drawn on another scan"


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_another_series_is_refused(small_case, kind):
    folder, mask = small_case
    series = pydicom.dcmread(next((folder / "ct").glob("*.dcm")), stop_before_pixels=True).SeriesInstanceUID
    message = refusal(kind, folder, structures={"GTV": mask}, series_uid=OTHER_UID)
    what = "the structure set" if kind == "rtstruct" else "the segmentation"
    assert message == f"{what} references series {OTHER_UID}, not the CT series {series}"


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_a_contour_outside_the_image_is_refused(small_case, kind):
    folder, mask = small_case
    # 60 mm along x takes the tumour's right edge (at 107.9 mm, the CT's at 158.7 mm) 9.2 mm out of the volume
    message = refusal(kind, folder, structures={"GTV": mask}, shift_mm=60.0)
    what = "structure 'GTV'" if kind == "rtstruct" else "segment 'GTV'"
    extent = "[1.5, 59.1, -630.7] to [158.7, 198.7, -473.7] mm"
    assert message == f"{what} lies up to 9.2 mm outside the CT volume ({extent})"


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_a_file_of_the_other_kind_or_no_dicom_file_is_refused(small_case, kind):
    folder, mask = small_case
    other = "seg" if kind == "rtstruct" else "rtstruct"
    WRITERS[other][0](folder / "other.dcm", folder / "ct", {"GTV": mask})
    (folder / "notes.dcm").write_text("GTV drawn by Dr X")
    read, name = WRITERS[kind][1], {"rtstruct": "RTSTRUCT", "seg": "DICOM-SEG"}[kind]
    with pytest.raises(InputError) as err:
        read(folder / "other.dcm", folder / "ct", pattern="GTV")
    assert (
        str(err.value)
        == f"{folder / 'other.dcm'}: not a{'n' if kind == 'rtstruct' else ''} {name} (modality {other.upper()})"
    )
    with pytest.raises(InputError) as err:
        read(folder / "notes.dcm", folder / "ct", pattern="GTV")
    assert str(err.value) == f"{folder / 'notes.dcm'}: cannot read {name}: not a DICOM file"
