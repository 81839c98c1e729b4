"""PET DICOM in Bq/mL or counts to SUV from the header: series written with pydicom with a
known dose, weight, half-life and times, SUV checked against the hand computation below
(written out, not the module's helpers), and every refusal one line naming file and tag."""

from __future__ import annotations

import math
import re
from datetime import datetime

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from survsig.cohort.suv import read_pet_suv, series_suv_factor
from survsig.core.errors import InputError

PET_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
DOSE = 370e6  # Bq
WEIGHT = 75.0  # kg
HALF_LIFE = 6586.2  # s, F-18
SLOPES = (0.5, 1.25, 2.0)  # one per slice: the reader must apply each slice's own
SHAPE = (3, 4, 4)  # slices, rows, columns
#: Stored integers, different in every voxel and slice
STORED = (np.arange(np.prod(SHAPE)).reshape(SHAPE) * 7 + 100).astype(np.int16)
PHILIPS = "Philips PET Private Group"


def write_pet(folder, *, edit=None, units="BQML", decay_correction="START"):
    """A 3-slice PET series in ``folder``: injection 10:00, series 11:00, acquisitions 11:00,
    11:02:30 and 11:05 on 2022-01-01; ``edit(ds, k)`` changes slice ``k`` before it is saved."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = {name: generate_uid(entropy_srcs=[str(folder), name]) for name in ("study", "series", "frame")}
    for k in range(SHAPE[0]):
        sop = generate_uid(entropy_srcs=[str(folder), "slice", str(k)])
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = PET_STORAGE
        meta.MediaStorageSOPInstanceUID = sop
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = PET_STORAGE, sop
        ds.Modality = "PT"
        ds.PatientID, ds.PatientWeight, ds.PatientSex, ds.PatientSize = "P001", WEIGHT, "M", 1.8
        ds.StudyInstanceUID, ds.SeriesInstanceUID = ids["study"], ids["series"]
        ds.FrameOfReferenceUID = ids["frame"]
        ds.SeriesDate, ds.SeriesTime = "20220101", "110000"
        ds.AcquisitionDate, ds.AcquisitionTime = "20220101", ("110000", "110230.5", "110500")[k]
        ds.Units, ds.DecayCorrection, ds.CorrectedImage = units, decay_correction, ["ATTN", "DECY"]
        drug = Dataset()
        drug.RadionuclideTotalDose, drug.RadionuclideHalfLife = DOSE, HALF_LIFE
        drug.RadiopharmaceuticalStartTime = "100000"
        drug.RadiopharmaceuticalStartDateTime = "20220101100000"
        ds.RadiopharmaceuticalInformationSequence = [drug]
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [-3.0, -3.0, 4.0 * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [2.0, 2.0], 4.0
        ds.Rows, ds.Columns = SHAPE[1:]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = SLOPES[k], 0
        ds.PixelData = STORED[k].tobytes()
        if edit is not None:
            edit(ds, k)
        ds.save_as(folder / f"{k + 1:04d}.dcm", enforce_file_format=True)
    return folder


def rescaled():
    """Voxel values as stored times each slice's slope (Bq/mL, counts or SUV)."""
    return STORED.astype(float) * np.asarray(SLOPES)[:, None, None]


def decay(seconds):
    return math.exp(-math.log(2) * seconds / HALF_LIFE)


def assert_suv(folder, expected, **kwargs):
    image = read_pet_suv(folder, **kwargs)
    assert image.GetPixelID() == sitk.sitkFloat32
    assert image.GetSize() == (4, 4, 3)
    assert image.GetSpacing() == pytest.approx((2.0, 2.0, 4.0))
    np.testing.assert_allclose(sitk.GetArrayFromImage(image), expected, rtol=1e-6)
    return image


def philips(name, value):
    """An edit adding Philips' private factor ``name`` (0x00: SUV, 0x09: Bq/mL per count)."""

    def edit(ds, k):
        ds.private_block(0x7053, PHILIPS, create=True).add_new(name, "DS", value)

    return edit


def both(*edits):
    def edit(ds, k):
        for one in edits:
            one(ds, k)

    return edit


def drug(**fields):
    """An edit setting (value) or deleting (None) fields of the radiopharmaceutical item."""

    def edit(ds, k):
        item = ds.RadiopharmaceuticalInformationSequence[0]
        for keyword, value in fields.items():
            if value is None:
                delattr(item, keyword)
            else:
                setattr(item, keyword, value)

    return edit


def header(**fields):
    """An edit setting (value) or deleting (None) top-level fields of every slice."""

    def edit(ds, k):
        for keyword, value in fields.items():
            if value is None:
                delattr(ds, keyword)
            else:
                setattr(ds, keyword, value)

    return edit


# ----------------------------------------------------------------------------- SUV values


def test_bqml_start_decays_the_dose_from_injection_to_series_time(tmp_path):
    folder = write_pet(tmp_path / "pet")
    factor = WEIGHT * 1000 / (DOSE * decay(3600))  # 10:00 to 11:00
    image = assert_suv(folder, rescaled() * factor)
    assert float(image.GetMetaData("suv_factor")) == pytest.approx(factor, rel=1e-12)
    suv = series_suv_factor(folder)
    assert (suv.units, suv.decay_correction, suv.kind) == ("BQML", "START", "bw")
    assert suv.decay_factor == pytest.approx(math.exp(-math.log(2) * 3600 / 6586.2), rel=1e-12)
    assert suv.scan_time == datetime(2022, 1, 1, 11, 0, 0)
    assert suv.injection_time == datetime(2022, 1, 1, 10, 0, 0)
    assert "SeriesDate/SeriesTime" in suv.method


def test_bqml_admin_is_already_decay_corrected_to_the_injection(tmp_path):
    folder = write_pet(tmp_path / "pet", decay_correction="ADMIN")
    assert_suv(folder, rescaled() * WEIGHT * 1000 / DOSE)
    assert series_suv_factor(folder).decay_factor == 1.0


def test_a_series_made_after_acquisition_decays_to_the_earliest_acquisition(tmp_path):
    # a post-processed series stamped 15:00: the scan is still the 11:00 acquisition
    folder = write_pet(tmp_path / "pet", edit=header(SeriesTime="150000"))
    assert_suv(folder, rescaled() * WEIGHT * 1000 / (DOSE * decay(3600)))
    assert series_suv_factor(folder).scan_time == datetime(2022, 1, 1, 11, 0, 0)


def test_a_scan_after_midnight_decays_over_the_dates(tmp_path):
    def edit(ds, k):
        ds.SeriesDate, ds.SeriesTime = "20220102", "003000"
        ds.AcquisitionDate, ds.AcquisitionTime = "20220102", f"0030{k:02d}"
        drug(RadiopharmaceuticalStartDateTime="20220101233000", RadiopharmaceuticalStartTime="233000")(ds, k)

    folder = write_pet(tmp_path / "pet", edit=edit)
    assert_suv(folder, rescaled() * WEIGHT * 1000 / (DOSE * decay(3600)))


def test_a_start_time_alone_is_dated_by_the_scan(tmp_path):
    folder = write_pet(tmp_path / "pet", edit=drug(RadiopharmaceuticalStartDateTime=None))
    assert_suv(folder, rescaled() * WEIGHT * 1000 / (DOSE * decay(3600)))


def test_an_injection_in_another_time_zone_is_moved_into_the_series_zone(tmp_path):
    # 10:00 at UTC+01:00 is 09:00 at UTC, where the series was stamped
    edit = both(header(TimezoneOffsetFromUTC="+0000"), drug(RadiopharmaceuticalStartDateTime="20220101100000+0100"))
    folder = write_pet(tmp_path / "pet", edit=edit)
    assert_suv(folder, rescaled() * WEIGHT * 1000 / (DOSE * decay(7200)))


def test_philips_counts_take_the_suv_scale_factor(tmp_path):
    folder = write_pet(tmp_path / "pet", units="CNTS", edit=philips(0x00, "0.000123456"))
    assert_suv(folder, rescaled() * 0.000123456)


def test_philips_counts_without_suv_factor_go_through_bq_per_ml(tmp_path):
    folder = write_pet(tmp_path / "pet", units="CNTS", edit=philips(0x09, "3.5"))
    assert_suv(folder, rescaled() * 3.5 * WEIGHT * 1000 / (DOSE * decay(3600)))


def test_gml_is_suv_already_and_left_as_it_is(tmp_path):
    folder = write_pet(tmp_path / "pet", units="GML", edit=header(PatientWeight=None, DecayCorrection=None))
    assert_suv(folder, rescaled())
    assert series_suv_factor(folder).factor == 1.0


def test_suv_by_lean_body_mass_uses_james_formula(tmp_path):
    folder = write_pet(tmp_path / "pet")
    lean = 1.10 * 75.0 - 128.0 * (75.0 / 180.0) ** 2  # male, 75 kg, 180 cm
    assert_suv(folder, rescaled() * lean * 1000 / (DOSE * decay(3600)), kind="lbm")
    female = write_pet(tmp_path / "female", edit=header(PatientSex="F"))
    lean = 1.07 * 75.0 - 148.0 * (75.0 / 180.0) ** 2
    assert_suv(female, rescaled() * lean * 1000 / (DOSE * decay(3600)), kind="lbm")


def test_philips_suv_factor_by_lean_body_mass_scales_by_the_mass_ratio(tmp_path):
    folder = write_pet(tmp_path / "pet", units="CNTS", edit=philips(0x00, "0.0002"))
    lean = 1.10 * 75.0 - 128.0 * (75.0 / 180.0) ** 2
    assert_suv(folder, rescaled() * 0.0002 * lean / 75.0, kind="lbm")


# ----------------------------------------------------------------------------- refusals


def refusal(folder, *, kind="bw"):
    """The one-line message of reading ``folder``; the folder is left as it was."""
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(InputError) as caught:
        read_pet_suv(folder, kind=kind)
    message = str(caught.value)
    assert "\n" not in message
    assert sorted(p.name for p in folder.iterdir()) == before
    return message


def after_first(edit):
    """``edit`` applied to every slice but the first."""

    def on_later(ds, k):
        if k > 0:
            edit(ds, k)

    return on_later


def two_drugs(ds, k):
    ds.RadiopharmaceuticalInformationSequence.append(Dataset())


REFUSALS = {
    "no weight": (header(PatientWeight=None), {}, r"PatientWeight \(0010,1030\) is missing; SUV needs the patient's"),
    "zero weight": (header(PatientWeight=0), {}, r"PatientWeight \(0010,1030\) is 0; SUV needs the patient's weight"),
    "no dose": (drug(RadionuclideTotalDose=None), {}, r"RadionuclideTotalDose \(0018,1074\) is missing; SUV needs"),
    "zero dose": (drug(RadionuclideTotalDose=0), {}, r"RadionuclideTotalDose \(0018,1074\) is 0; SUV needs"),
    "negative dose": (drug(RadionuclideTotalDose=-5), {}, r"RadionuclideTotalDose \(0018,1074\) is -5; SUV needs"),
    "no half-life": (drug(RadionuclideHalfLife=None), {}, r"RadionuclideHalfLife \(0018,1075\) is missing"),
    "no drug": (header(RadiopharmaceuticalInformationSequence=None), {}, r"Sequence \(0054,0016\) is missing or"),
    "two drugs": (two_drugs, {}, r"RadiopharmaceuticalInformationSequence \(0054,0016\) holds 2 radiopharmaceuticals"),
    "injection after scan": (
        drug(RadiopharmaceuticalStartDateTime="20220101113000", RadiopharmaceuticalStartTime="113000"),
        {},
        r"RadiopharmaceuticalStartDateTime \(0018,1078\) gives injection at 2022-01-01 11:30:00, after the scan "
        r"at 2022-01-01 11:00:00 \(SeriesDate/SeriesTime\)$",
    ),
    "start time alone before midnight": (
        both(
            header(SeriesDate="20220102", SeriesTime="003000", AcquisitionDate="20220102", AcquisitionTime="003000"),
            drug(RadiopharmaceuticalStartDateTime=None, RadiopharmaceuticalStartTime="233000"),
        ),
        {},
        r"RadiopharmaceuticalStartTime \(0018,1072\) gives injection at 2022-01-02 23:30:00 \(dated by the scan",
    ),
    "contradictory start times": (
        drug(RadiopharmaceuticalStartTime="093000"),
        {},
        r"RadiopharmaceuticalStartTime \(0018,1072\) '093000' contradicts RadiopharmaceuticalStartDateTime",
    ),
    "no injection time": (
        drug(RadiopharmaceuticalStartDateTime=None, RadiopharmaceuticalStartTime=None),
        {},
        r"RadiopharmaceuticalStartDateTime \(0018,1078\) and RadiopharmaceuticalStartTime \(0018,1072\) are missing",
    ),
    "no series time": (header(SeriesTime=None), {}, r"SeriesTime \(0008,0031\) is missing; SUV needs the scan's"),
    "no acquisition date": (header(AcquisitionDate=None), {}, r"AcquisitionDate \(0008,0022\) is missing"),
    "bad time": (header(SeriesTime="2561"), {}, r"SeriesTime \(0008,0031\) is not a DICOM time .*: '2561'$"),
    "bad date": (header(SeriesDate="20221301"), {}, r"SeriesDate \(0008,0021\) is not a DICOM date .*'20221301'$"),
    "unknown units": (header(Units="PROPCNTS"), {}, r"Units \(0054,1001\) is 'PROPCNTS'; SUV needs BQML, CNTS"),
    "no units": (header(Units=None), {}, r"Units \(0054,1001\) is missing; SUV needs BQML"),
    "counts without philips": (
        header(Units="CNTS"),
        {},
        r"Units \(0054,1001\) is CNTS without Philips' SUV scale factor \(7053,1000\) or activity concentration",
    ),
    "no decay correction": (header(DecayCorrection="NONE"), {}, r"DecayCorrection \(0054,1102\) is 'NONE'; SUV from"),
    "decay correction missing": (header(DecayCorrection=None), {}, r"DecayCorrection \(0054,1102\) is missing"),
    "not decay corrected": (
        header(CorrectedImage=["ATTN", "SCAT"]),
        {},
        r"CorrectedImage \(0028,0051\) 'ATTN\\SCAT' lacks DECY, contradicting DecayCorrection \(0054,1102\) START",
    ),
    "not attenuation corrected": (
        header(CorrectedImage=["DECY"]),
        {},
        r"CorrectedImage \(0028,0051\) 'DECY' lacks ATTN",
    ),
    "not PET": (header(Modality="CT"), {}, r"Modality \(0008,0060\) is 'CT'; SUV needs a PET \(PT\) series"),
    "lbm without sex": (header(PatientSex="O"), {"kind": "lbm"}, r"PatientSex \(0010,0040\) is 'O'; SUV by lean"),
    "lbm without height": (header(PatientSize=None), {"kind": "lbm"}, r"PatientSize \(0010,1020\) is missing; SUV by"),
    "lbm past james": (
        header(PatientWeight=200, PatientSize=1.5),
        {"kind": "lbm"},
        r"PatientWeight \(0010,1030\) 200 kg with PatientSize \(0010,1020\) 1.5 m gives no positive lean body mass",
    ),
    "lbm of gml": (header(Units="GML"), {"kind": "lbm"}, r"Units \(0054,1001\) is GML, SUV of an unstated kind"),
    "philips factor zero": (
        both(header(Units="CNTS"), philips(0x00, "0")),
        {},
        r"^Philips scale factor \(7053,1000\) is 0; SUV needs a positive value$",
    ),
}


@pytest.mark.filterwarnings("ignore:Invalid value for VR:UserWarning")  # the bad time and date, as written
@pytest.mark.parametrize("case", REFUSALS)
def test_each_refusal_is_one_line_naming_the_file_and_the_tag(tmp_path, case):
    edit, kwargs, pattern = REFUSALS[case]
    folder = write_pet(tmp_path / "pet", edit=edit)
    message = refusal(folder, **kwargs)
    prefix = f"{folder / '0001.dcm'}: "
    assert message.startswith(prefix)
    assert re.search(pattern, message[len(prefix) :]), message


DISAGREEMENTS = {
    "dose": (
        drug(RadionuclideTotalDose=185e6),
        "RadionuclideTotalDose (0018,1074) is '185000000.0' here but '370000000.0'",
    ),
    "units": (header(Units="CNTS"), "Units (0054,1001) is 'CNTS' here but 'BQML'"),
    "injection": (
        drug(RadiopharmaceuticalStartDateTime="20220101100500"),
        "RadiopharmaceuticalStartDateTime (0018,1078) is '20220101100500' here but '20220101100000'",
    ),
    "series time": (header(SeriesTime="110001"), "SeriesTime (0008,0031) is '110001' here but '110000'"),
    "weight": (header(PatientWeight=None), "PatientWeight (0010,1030) is None here but '75.0'"),
    "philips": (philips(0x00, "0.5"), "Philips scale factor (7053,1000) is '0.5' here but None"),
}


@pytest.mark.parametrize("case", DISAGREEMENTS)
def test_slices_that_disagree_are_refused_naming_the_slice(tmp_path, case):
    edit, problem = DISAGREEMENTS[case]
    folder = write_pet(tmp_path / "pet", edit=after_first(edit))
    message = refusal(folder)
    assert message == f"{folder / '0002.dcm'}: {problem} in 0001.dcm; the slices of a series must agree"


def test_a_folder_without_a_series_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    assert refusal(tmp_path / "empty") == f"{tmp_path / 'empty'}: folder holds no DICOM series"


def test_headers_are_read_without_pixel_data(tmp_path, monkeypatch):
    folder = write_pet(tmp_path / "pet")
    seen = []
    real = pydicom.dcmread

    def spy(*args, **kwargs):
        seen.append(kwargs.get("stop_before_pixels"))
        return real(*args, **kwargs)

    monkeypatch.setattr(pydicom, "dcmread", spy)
    series_suv_factor(folder)
    assert seen == [True, True, True]
