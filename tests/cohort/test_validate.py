"""The validate stage: every bad input stops with one message naming file, patient or
row and column, and nothing is written; good sheets come out canonical."""

from __future__ import annotations

import logging
import os
import re
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import yaml

from survsig.cohort.validate import (
    GENE_ID,
    SCHEMA_DIR,
    validate_clinical,
    validate_cohort,
    validate_rnaseq,
    write_validated,
)
from survsig.core import columns as C
from survsig.core.errors import InputError

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(__file__).resolve().parents[2].parent / "shared"

PATIENTS = ("P001", "P002", "P003", "P004")

# CT 16x16x8 at 2x2x4 mm; PET 8x8x4 at 4x4x8 mm over the same field of view
CT_GRID = dict(size=(16, 16, 8), spacing=(2.0, 2.0, 4.0), origin=(0.0, 0.0, 0.0))
PET_GRID = dict(size=(8, 8, 4), spacing=(4.0, 4.0, 8.0), origin=(1.0, 1.0, 2.0))


def write_volume(path, *, size, spacing, origin, value=0.0, tumour=None, pixel=sitk.sitkFloat32):
    """Write a small volume; ``tumour`` = (x0, x1, y0, y1, z0, z1) voxel slice set to 1."""
    image = sitk.Image(list(size), pixel) + value
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    if tumour is not None:
        x0, x1, y0, y1, z0, z1 = tumour
        voxels = sitk.GetArrayFromImage(image)
        voxels[z0:z1, y0:y1, x0:x1] = 1
        moved = sitk.GetImageFromArray(voxels)
        moved.CopyInformation(image)
        image = moved
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path))
    return path


def clinical_rows():
    return [
        dict(
            patient_id="P001",
            os_months="24.5",
            os_event="1",
            age="51",
            sex="M",
            rT_stage="T3",
            N_stage="N1",
            ebv_dna="detectable",
            treatment="surgery",
            tumor_suv_max="12.3",
            split="train",
        ),
        dict(
            patient_id="P002",
            os_months="60",
            os_event="0",
            age="44",
            sex="F",
            rT_stage="T1",
            N_stage="N0",
            ebv_dna="undetectable",
            treatment="reirradiation",
            tumor_suv_max="5.1",
            split="train",
        ),
        dict(
            patient_id="P003",
            os_months="7.25",
            os_event="1",
            age="67",
            sex="M",
            rT_stage="T4",
            N_stage="N2",
            ebv_dna="detectable",
            treatment="chemotherapy",
            tumor_suv_max="20",
            split="test",
        ),
        dict(
            patient_id="P004",
            os_months="38",
            os_event="0",
            age="58.5",
            sex="F",
            rT_stage="T2",
            N_stage="N3",
            ebv_dna="undetectable",
            treatment="surgery",
            tumor_suv_max="0",
            split="test",
        ),
    ]


class Cohort:
    """A good tiny cohort in ``root/data``; tests break one thing and re-run."""

    def __init__(self, root: Path):
        self.root = root
        self.data = root / "data"
        self.clinical = self.data / "clinical.csv"
        self.images = self.data / "images.tsv"
        self.rnaseq = self.data / "counts.tsv"
        self.out = root / "results" / "validated"
        self.columns, self.labels = None, None
        self.clinical_rows = clinical_rows()
        self.image_rows = []
        for pid in PATIENTS:
            ct = write_volume(self.data / "scans" / f"{pid}_ct.nii.gz", **CT_GRID, value=-100.0)
            pet = write_volume(self.data / "scans" / f"{pid}_pet.nrrd", **PET_GRID, value=1.5)
            if pid == "P002":  # ROI on the PET grid
                roi = write_volume(
                    self.data / "scans" / f"{pid}_roi.mha", **PET_GRID, tumour=(3, 5, 3, 5, 1, 3), pixel=sitk.sitkUInt8
                )
            else:
                roi = write_volume(
                    self.data / "scans" / f"{pid}_roi.nii.gz",
                    **CT_GRID,
                    tumour=(6, 10, 6, 10, 3, 5),
                    pixel=sitk.sitkUInt8,
                )
            self.image_rows.append(
                dict(
                    patient_id=pid,
                    **{m: str(p.relative_to(self.data)) for m, p in zip(("ct", "pet", "roi"), (ct, pet, roi))},
                )
            )
        self.counts = pd.DataFrame(
            {"gene": ["TP53", "EGFR", "MYC", "KRT5", "CDH1"], "P001": [10, 0, 532, 7, 99], "P003": [3, 12, 48, 0, 1]}
        )
        self.write()

    def write(self):
        pd.DataFrame(self.clinical_rows).to_csv(self.clinical, index=False)
        pd.DataFrame(self.image_rows).to_csv(self.images, sep="\t", index=False)
        self.counts.to_csv(self.rnaseq, sep="\t", index=False)

    def set_clinical(self, patient, column, value):
        next(row for row in self.clinical_rows if row["patient_id"] == patient)[column] = value
        self.write()

    def set_image(self, patient, column, value):
        next(row for row in self.image_rows if row["patient_id"] == patient)[column] = value
        self.write()

    def image_path(self, patient, column) -> Path:
        row = next(row for row in self.image_rows if row["patient_id"] == patient)
        return self.data / row[column]

    def outputs(self):
        return dict(
            clinical=self.out / "clinical.tsv", images=self.out / "images.tsv", rnaseq=self.out / "rnaseq_counts.tsv"
        )

    def run(self):
        """Validate and write, as the Snakemake script does."""
        validated = validate_cohort(
            clinical=self.clinical, images=self.images, rnaseq=self.rnaseq, columns=self.columns, labels=self.labels
        )
        write_validated(validated, **self.outputs())
        return validated


@pytest.fixture
def cohort(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # validated image paths are relative to the working directory
    return Cohort(tmp_path)


def expect_error(cohort, *, file, column, patient=None, row=None, match=None) -> InputError:
    """Run the stage, expect one InputError naming file, patient/row and column, and
    check that nothing (not even a temporary file) was written."""
    with pytest.raises(InputError) as info:
        cohort.run()
    message = str(info.value)
    assert str(file) in message, message
    assert f"column '{column}'" in message, message
    if patient is not None:
        assert f"patient {patient}" in message, message
    if row is not None:
        assert f"row {row}" in message, message
    if match is not None:
        assert re.search(match, message), message
    assert not cohort.out.exists() or not any(cohort.out.iterdir()), list(cohort.out.iterdir())
    return info.value


# ----------------------------------------------------------------------------- good input


def test_good_cohort_validates_and_writes_canonical_sheets(cohort, caplog):
    with caplog.at_level(logging.INFO, logger="survsig"):
        cohort.run()
    assert "checked images of 4/4 patients" in caplog.text

    clinical = pd.read_csv(cohort.outputs()["clinical"], sep="\t", dtype={"patient_id": str})
    assert list(clinical.columns) == [*C.CLINICAL_REQUIRED, "tumor_suv_max", "split"]
    assert clinical["patient_id"].tolist() == list(PATIENTS)
    assert clinical["os_event"].tolist() == [1, 0, 1, 0]
    assert clinical["os_months"].tolist() == [24.5, 60.0, 7.25, 38.0]
    assert clinical["age"].tolist() == [51, 44, 67, 58.5]
    assert clinical["split"].tolist() == ["train", "train", "test", "test"]

    images = pd.read_csv(cohort.outputs()["images"], sep="\t")
    assert list(images.columns) == list(C.IMAGE_COLUMNS)
    # relative to the working directory (tmp_path), not to the sheet's folder
    assert images.loc[0, "ct"] == "data/scans/P001_ct.nii.gz"
    assert images.loc[1, "roi"] == "data/scans/P002_roi.mha"
    assert all(Path(p).is_file() for p in images[["ct", "pet", "roi"]].to_numpy().ravel())

    counts = pd.read_csv(cohort.outputs()["rnaseq"], sep="\t")
    assert list(counts.columns) == [GENE_ID, "P001", "P003"]  # P002, P004 without counts: fine
    assert counts["P001"].tolist() == [10, 0, 532, 7, 99]
    assert sorted(p.name for p in cohort.out.iterdir()) == ["clinical.tsv", "images.tsv", "rnaseq_counts.tsv"]


def test_returned_frames_have_canonical_types(cohort):
    clinical, images, counts = cohort.run()
    assert clinical["os_event"].dtype == np.int64
    assert clinical["os_months"].dtype == float and clinical["age"].dtype == float
    assert clinical["patient_id"].map(type).eq(str).all()
    assert counts["P003"].dtype == np.int64
    assert images["patient_id"].tolist() == list(PATIENTS)


def test_column_and_label_mapping(cohort):
    rename = {"patient_id": "ID", "os_months": "OS_time", "os_event": "Status", "sex": "Gender", "rT_stage": "T"}
    sheet = pd.DataFrame(cohort.clinical_rows).rename(columns=rename)
    sheet["Gender"] = [" Male ", "female", "m", "F"]  # user labels and canonical ones, any case
    sheet["Status"] = ["Dead", "alive", "1", "0"]
    sheet["T"] = ["rT3", "rT1", "t4", "rT2"]
    sheet["ebv_dna"] = ["Positive", "negative", "POSITIVE", "Undetectable"]
    sheet["extra_note"] = "ignored"
    sheet.to_csv(cohort.clinical, index=False)
    pd.DataFrame(cohort.image_rows).rename(columns={"patient_id": "ID"}).to_csv(cohort.images, sep="\t", index=False)
    cohort.columns = {key: value for key, value in rename.items()}
    cohort.labels = {
        "sex": {"M": ["male"], "F": ["Female"]},
        "os_event": {1: ["dead"], 0: ["alive"]},
        "rT_stage": {f"T{k}": [f"rT{k}"] for k in range(5)},
        "ebv_dna": {"detectable": "positive", "undetectable": ["negative"]},
    }
    clinical, images, _ = cohort.run()
    # the image sheet may also keep the canonical patient_id
    pd.DataFrame(cohort.image_rows).to_csv(cohort.images, sep="\t", index=False)
    assert cohort.run().images["patient_id"].tolist() == list(PATIENTS)
    assert list(clinical.columns[:5]) == ["patient_id", "os_months", "os_event", "age", "sex"]
    assert "extra_note" not in clinical.columns
    assert clinical["sex"].tolist() == ["M", "F", "M", "F"]
    assert clinical["os_event"].tolist() == [1, 0, 1, 0]
    assert clinical["rT_stage"].tolist() == ["T3", "T1", "T4", "T2"]
    assert clinical["ebv_dna"].tolist() == ["detectable", "undetectable", "detectable", "undetectable"]
    assert images["patient_id"].tolist() == list(PATIENTS)


def test_dicom_series_folder_in_the_image_sheet(cohort):
    from test_images import write_dicom_series

    ct = sitk.Cast(sitk.ReadImage(str(cohort.image_path("P001", "ct"))), sitk.sitkInt16)
    write_dicom_series(ct, cohort.data / "scans" / "P001_ct_dicom")
    cohort.set_image("P001", "ct", "scans/P001_ct_dicom")
    _, images, _ = cohort.run()
    assert images.loc[0, "ct"] == "data/scans/P001_ct_dicom"


def test_rnaseq_is_optional(cohort):
    validated = validate_cohort(clinical=cohort.clinical, images=cohort.images)
    assert validated.rnaseq is None
    outputs = cohort.outputs()
    write_validated(validated, clinical=outputs["clinical"], images=outputs["images"])
    assert sorted(p.name for p in cohort.out.iterdir()) == ["clinical.tsv", "images.tsv"]


def test_schemas_are_the_written_contract():
    clinical = yaml.safe_load((SCHEMA_DIR / "clinical.schema.yaml").read_text())
    images = yaml.safe_load((SCHEMA_DIR / "images.schema.yaml").read_text())
    for schema in (clinical, images):
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert all(prop.get("description") for prop in schema["properties"].values())
    for column, levels in C.CATEGORY_LEVELS.items():
        assert tuple(clinical["properties"][column]["enum"]) == levels
    assert tuple(clinical["properties"]["split"]["enum"]) == C.SPLIT_LEVELS
    assert tuple(clinical["required"]) == C.CLINICAL_REQUIRED
    assert set(clinical["properties"]) == {*C.CLINICAL_REQUIRED, *C.SUV_COLUMNS, C.SPLIT}
    assert "months" in clinical["properties"]["os_months"]["description"]
    assert tuple(images["required"]) == C.IMAGE_COLUMNS


# ----------------------------------------------------------------------------- clinical sheet


def test_missing_required_column(cohort):
    for row in cohort.clinical_rows:
        del row["age"]
    cohort.write()
    error = expect_error(cohort, file=cohort.clinical, column="age", match="missing required column; columns present")
    assert error.patient is None and error.row is None  # a whole column: no row to name


def test_missing_mapped_column_names_the_users_column(cohort):
    cohort.columns = {"os_months": "OS_time"}
    expect_error(
        cohort,
        file=cohort.clinical,
        column="OS_time",
        match=r"column 'OS_time': missing required column \(canonical 'os_months'\)",
    )


@pytest.mark.parametrize(
    ("pid", "match"),
    [
        ("../../evil", "holds '/'"),
        (".hidden", "starts with '.'"),
        ("a\\b", "holds '\\\\'"),
        ("--help", "starts with '-'"),
        ("pat{patient}", "holds '{'"),
        ("<script>", "holds '<'"),
        ("x" * 201, "201 bytes long; at most 200"),
        ("\u00e9" * 101, "202 bytes long; at most 200"),
    ],
)
def test_unsafe_patient_ids_are_refused(cohort, pid, match):
    """Ids name files and Snakemake jobs: no path parts, option look-alikes, wildcard
    braces, path variables or names too long for a file system."""
    cohort.set_clinical("P003", "patient_id", pid)
    expect_error(cohort, file=cohort.clinical, row=3, column="patient_id", match=re.escape(match))


@pytest.mark.parametrize("pid", ["HN 003", "Pat\u00efent-\u00e9\u00e8", "a;b$(touch x)`id`", "x" * 200, "3"])
def test_ids_with_spaces_unicode_and_punctuation_are_kept(cohort, pid):
    cohort.set_clinical("P003", "patient_id", pid)
    cohort.set_image("P003", "patient_id", pid)
    cohort.counts = cohort.counts.rename(columns={"P003": pid})
    cohort.write()
    validated = cohort.run()
    assert pid in validated.clinical["patient_id"].tolist() and pid in validated.rnaseq.columns


def test_repeated_header_column_is_refused(cohort):
    text = cohort.clinical.read_text().splitlines()
    cohort.clinical.write_text("\n".join([text[0] + ",age"] + [line + ",99" for line in text[1:]]) + "\n")
    expect_error(cohort, file=cohort.clinical, column="age", match="column appears twice in the header")


def test_missing_patient_id(cohort):
    cohort.set_clinical("P003", "patient_id", "  ")
    expect_error(cohort, file=cohort.clinical, row=3, column="patient_id", match="missing patient id")


def test_duplicate_patient_id(cohort):
    cohort.set_clinical("P003", "patient_id", "P001")
    expect_error(
        cohort,
        file=cohort.clinical,
        patient="P001",
        row=3,
        column="patient_id",
        match=r"duplicate patient id \(first on row 1\)",
    )


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("abc", "not a number: 'abc'"),
        ("", "is missing"),
        ("NA", "is missing"),
        ("0", "must be > 0, got 0"),
        ("-3.5", "must be > 0, got -3.5"),
        ("inf", "not a finite number"),
    ],
)
def test_bad_survival_time(cohort, value, match):
    cohort.set_clinical("P002", "os_months", value)
    expect_error(cohort, file=cohort.clinical, patient="P002", row=2, column="os_months", match=match)


def test_survival_beyond_a_century_is_refused(cohort):
    cohort.set_clinical("P003", "os_months", "1e6")
    expect_error(
        cohort,
        file=cohort.clinical,
        patient="P003",
        row=3,
        column="os_months",
        match="survival time of 1e\\+06 months is over 100 years: is the column in months",
    )


@pytest.mark.parametrize("value", ["2", "yes", "0.5", ""])
def test_event_not_0_or_1(cohort, value):
    cohort.set_clinical("P004", "os_event", value)
    expect_error(
        cohort,
        file=cohort.clinical,
        patient="P004",
        row=4,
        column="os_event",
        match="event must be 0 .* or 1|event is missing",
    )


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("fifty", "age is not a number"),
        ("", "age is missing"),
        ("300", "age must be between 0 and 120 years, got 300"),
        ("1e308", "age must be between 0 and 120 years"),
        ("-1", "age must be between 0 and 120"),
    ],
)
def test_bad_age(cohort, value, match):
    cohort.set_clinical("P001", "age", value)
    expect_error(cohort, file=cohort.clinical, patient="P001", row=1, column="age", match=match)


@pytest.mark.parametrize(
    ("column", "value"),
    [("sex", "X"), ("rT_stage", "T5"), ("N_stage", "N4"), ("ebv_dna", "positive"), ("treatment", "radiotherapy")],
)
def test_unknown_category_label_lists_accepted_labels(cohort, column, value):
    cohort.set_clinical("P002", column, value)
    error = expect_error(
        cohort, file=cohort.clinical, patient="P002", row=2, column=column, match=f"unknown {column} label '{value}'"
    )
    assert f"accepted labels: {', '.join(C.CATEGORY_LEVELS[column])}" in str(error)


def test_unknown_label_lists_the_configured_labels_too(cohort):
    cohort.labels = {"sex": {"M": ["male", "man"], "F": ["female"]}}
    cohort.set_clinical("P001", "sex", "unknown")
    expect_error(
        cohort,
        file=cohort.clinical,
        patient="P001",
        row=1,
        column="sex",
        match="accepted labels: M, F, male, man, female",
    )


def test_bad_split_label(cohort):
    cohort.set_clinical("P003", "split", "validation")
    expect_error(
        cohort,
        file=cohort.clinical,
        patient="P003",
        row=3,
        column="split",
        match="unknown split label 'validation'; accepted labels: train, test",
    )


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("-1.2", "SUV must be between 0 and 200"),
        ("500", "SUV must be between 0 and 200"),
        ("high", "SUV is not a number"),
    ],
)
def test_bad_suv(cohort, value, match):
    cohort.set_clinical("P004", "tumor_suv_max", value)
    expect_error(cohort, file=cohort.clinical, patient="P004", row=4, column="tumor_suv_max", match=match)


def test_bad_label_config_is_reported(cohort):
    cohort.labels = {"sex": {"Male": ["m"]}}
    with pytest.raises(InputError, match=r"cohort.labels.sex: unknown level 'Male'; levels are M, F"):
        cohort.run()
    cohort.labels = {"sex": {"M": ["x"], "F": ["x"]}}
    with pytest.raises(InputError, match="maps to both"):
        cohort.run()
    cohort.labels, cohort.columns = None, {"survival": "OS"}
    with pytest.raises(InputError, match="unknown canonical column"):
        cohort.run()
    assert not cohort.out.exists()


# ----------------------------------------------------------------------------- image sheet


def test_image_sheet_missing_column(cohort):
    for row in cohort.image_rows:
        del row["pet"]
    cohort.write()
    expect_error(
        cohort, file=cohort.images, column="pet", match=f"{re.escape(str(cohort.images))}, column 'pet': missing"
    )


def test_image_patient_not_in_clinical_sheet(cohort):
    cohort.image_rows.append(dict(cohort.image_rows[0], patient_id="P999"))
    cohort.write()
    expect_error(
        cohort, file=cohort.images, patient="P999", row=5, column="patient_id", match="not in the clinical sheet"
    )


def test_clinical_patient_without_image_row(cohort):
    cohort.image_rows = [row for row in cohort.image_rows if row["patient_id"] != "P003"]
    cohort.write()
    expect_error(cohort, file=cohort.images, patient="P003", column="patient_id", match="has no image row")


def test_missing_image_file(cohort):
    cohort.set_image("P002", "pet", "scans/absent_pet.nrrd")
    expect_error(
        cohort,
        file=cohort.images,
        patient="P002",
        row=2,
        column="pet",
        match=re.escape(f"image file not found: {cohort.data / 'scans' / 'absent_pet.nrrd'}"),
    )


def test_missing_image_path(cohort):
    cohort.set_image("P004", "ct", "")
    expect_error(cohort, file=cohort.images, patient="P004", row=4, column="ct", match="CT image path is missing")


def test_unreadable_image(cohort):
    (cohort.data / "scans" / "broken_ct.nii.gz").write_bytes(b"\x00 not a nifti")
    cohort.set_image("P003", "ct", "scans/broken_ct.nii.gz")
    expect_error(cohort, file=cohort.images, patient="P003", row=3, column="ct", match="cannot read image.*broken_ct")


def truncate(path: Path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize(
    ("patient", "column", "suffix", "keep"),
    [
        ("P001", "ct", ".nii", 0.6),
        ("P003", "ct", ".nii.gz", 0.7),
        ("P002", "pet", ".nrrd", 0.8),
        ("P002", "roi", ".mha", 0.9),
    ],
)
def test_truncated_image_is_refused_before_any_work(cohort, patient, column, suffix, keep):
    """ITK pads a cut NIfTI with zeros and reads a cut gzip NRRD's header happily; the
    voxel data is measured against the header instead."""
    path = cohort.image_path(patient, column)
    if not path.name.endswith(suffix):
        image = sitk.ReadImage(str(path))
        path = path.with_name(f"{patient}_{column}_cut{suffix}")
        sitk.WriteImage(image, str(path), useCompression=suffix != ".nii")
        cohort.set_image(patient, column, str(path.relative_to(cohort.data)))
    truncate(path, keep)
    row = int(patient[1:])
    expect_error(
        cohort,
        file=cohort.images,
        patient=patient,
        row=row,
        column=column,
        match=rf"image data is truncated: .*{re.escape(path.name)}",
    )


def test_fifo_as_image_path_is_refused_without_waiting(cohort):
    import os

    fifo = cohort.data / "scans" / "pipe.nii.gz"
    os.mkfifo(fifo)
    cohort.set_image("P004", "pet", "scans/pipe.nii.gz")
    expect_error(
        cohort, file=cohort.images, patient="P004", row=4, column="pet", match="not a regular file or a DICOM folder"
    )


def test_empty_roi(cohort):
    write_volume(cohort.image_path("P004", "roi"), **CT_GRID, pixel=sitk.sitkUInt8)
    expect_error(
        cohort, file=cohort.images, patient="P004", row=4, column="roi", match=r"ROI is empty \(no nonzero voxel\)"
    )


def test_roi_on_neither_grid(cohort):
    write_volume(
        cohort.image_path("P001", "roi"),
        size=(16, 16, 8),
        spacing=(2.0, 2.0, 3.0),
        origin=(0.0, 0.0, 0.0),
        tumour=(6, 10, 6, 10, 3, 5),
        pixel=sitk.sitkUInt8,
    )
    expect_error(
        cohort,
        file=cohort.images,
        patient="P001",
        row=1,
        column="roi",
        match=r"ROI grid matches neither the CT nor the PET grid.*spacing \(2, 2, 3\)",
    )


def test_roi_outside_pet_field_of_view(cohort):
    # PET shifted 500 mm: the tumour lies in the CT but not the PET field of view
    write_volume(
        cohort.image_path("P003", "pet"),
        size=PET_GRID["size"],
        spacing=PET_GRID["spacing"],
        origin=(501.0, 1.0, 2.0),
        value=1.0,
    )
    expect_error(
        cohort,
        file=cohort.images,
        patient="P003",
        row=3,
        column="roi",
        match=r"ROI does not overlap the PET field of view",
    )


def test_roi_outside_ct_field_of_view(cohort):
    # P002's ROI sits on the PET grid; move the CT away along z
    write_volume(
        cohort.image_path("P002", "ct"),
        size=CT_GRID["size"],
        spacing=CT_GRID["spacing"],
        origin=(0.0, 0.0, -400.0),
        value=0.0,
    )
    expect_error(
        cohort,
        file=cohort.images,
        patient="P002",
        row=2,
        column="roi",
        match=r"ROI does not overlap the CT field of view",
    )


def test_image_sheet_column_names_are_mapped(cohort):
    pd.DataFrame(cohort.image_rows).rename(columns={"roi": "GTV"}).to_csv(cohort.images, sep="\t", index=False)
    cohort.columns = {"roi": "GTV"}
    write_volume(cohort.image_path("P004", "roi"), **CT_GRID, pixel=sitk.sitkUInt8)
    expect_error(cohort, file=cohort.images, patient="P004", row=4, column="GTV", match="ROI is empty")


# ----------------------------------------------------------------------------- RNA-seq counts


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("many", "count is not a number: 'many'"),
        (-4, "count must be >= 0, got -4"),
        (2.5, r"count must be a whole number .*got 2.5"),
        ("", "count is missing"),
        ("NA", "count is missing"),
    ],
)
def test_bad_count(cohort, value, match):
    cohort.counts["P003"] = cohort.counts["P003"].astype(object)
    cohort.counts.loc[2, "P003"] = value  # gene MYC, data row 3
    cohort.write()
    expect_error(cohort, file=cohort.rnaseq, row=3, column="P003", match=f"gene 'MYC': {match}")


def test_duplicate_gene_id(cohort):
    cohort.counts.loc[3, "gene"] = "TP53"
    cohort.write()
    expect_error(cohort, file=cohort.rnaseq, row=4, column="gene", match=r"duplicate gene id 'TP53' \(first on row 1\)")


def test_rnaseq_sample_not_in_clinical_sheet(cohort):
    cohort.counts["P777"] = 1
    cohort.write()
    expect_error(cohort, file=cohort.rnaseq, patient="P777", column="P777", match="not a patient of the clinical sheet")


def test_duplicate_sample_column(tmp_path):
    path = tmp_path / "counts.csv"
    path.write_text("gene,P001,P001\nTP53,1,2\n")
    with pytest.raises(InputError, match="duplicate sample column 'P001'") as info:
        validate_rnaseq(path, ["P001"])
    assert info.value.column == "P001" and info.value.file == str(path)


@pytest.mark.parametrize("sheet", ["clinical", "rnaseq"])
def test_row_longer_than_header_is_named(cohort, sheet):
    # pandas would shift such a row by a column or drop its extra fields
    path = getattr(cohort, sheet)
    sep = "," if path.suffix == ".csv" else "\t"
    lines = path.read_text().splitlines()
    lines[2] += sep + "7"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=f"^{re.escape(str(path))}, row 2: row has more fields than the header"):
        cohort.run()
    assert not cohort.out.exists()


# ----------------------------------------------------------------------------- the script


class Namedlist(list):
    """Enough of Snakemake's named lists for the script: attributes, keys(), indexing."""

    def __init__(self, **named):
        super().__init__(named.values())
        self._names = list(named)
        self.__dict__.update(named)

    def keys(self):
        return list(self._names)


def run_script(cohort, *, with_rnaseq=True):
    inputs = dict(clinical=str(cohort.clinical), images=str(cohort.images))
    outputs = {k: str(v) for k, v in cohort.outputs().items()}
    if with_rnaseq:
        inputs["rnaseq"] = str(cohort.rnaseq)
    else:
        del outputs["rnaseq"]
    log = cohort.root / "logs" / "validate.log"
    log.parent.mkdir(exist_ok=True)
    snakemake = SimpleNamespace(
        input=Namedlist(**inputs),
        output=Namedlist(**outputs),
        log=[str(log)],
        params=SimpleNamespace(columns={}, labels={}),
    )
    runpy.run_path(str(REPO / "workflow" / "scripts" / "cohort" / "validate.py"), init_globals={"snakemake": snakemake})
    return log


@pytest.mark.parametrize("with_rnaseq", [True, False])
def test_script_writes_validated_sheets(cohort, with_rnaseq):
    log = run_script(cohort, with_rnaseq=with_rnaseq)
    expected = ["clinical.tsv", "images.tsv"] + (["rnaseq_counts.tsv"] if with_rnaseq else [])
    assert sorted(p.name for p in cohort.out.iterdir()) == expected
    assert "cohort valid: 4 patients" in log.read_text()


def test_script_reports_bad_input_in_one_line_and_writes_nothing(cohort):
    cohort.set_clinical("P002", "os_event", "maybe")
    with pytest.raises(SystemExit) as info:
        run_script(cohort)
    assert info.value.code == 1
    assert not cohort.out.exists()
    text = cohort.root.joinpath("logs", "validate.log").read_text()
    assert f"{cohort.clinical}, patient P002, row 2, column 'os_event'" in text
    assert "Traceback" not in text


@pytest.mark.parametrize("sheet", ["clinical", "images", "rnaseq"])
@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("fifo", "it is a named pipe (FIFO), not a regular file; reading it would wait for a writer"),
        ("/dev/zero", "it is a character device, not a regular file; reading it could go on without end"),
        ("folder", "it is a folder, not a regular file"),
        ("missing parent", "(No such file or directory)"),
    ],
)
def test_a_sheet_that_is_no_regular_file_is_one_line_without_waiting(cohort, deadline, sheet, kind, expected):
    what = {"clinical": "the clinical sheet", "images": "the image sheet", "rnaseq": "the RNA-seq counts"}[sheet]
    path = {"fifo": cohort.data / "pipe.tsv", "folder": cohort.data / "scans", "/dev/zero": Path("/dev/zero")}.get(
        kind, cohort.data / "absent" / "sheet.tsv"
    )
    if kind == "fifo":
        os.mkfifo(path)
    setattr(cohort, sheet, path)
    with pytest.raises(InputError) as info:
        cohort.run()
    assert str(info.value) == f"{path}: cannot read {what}" + (" " if kind == "missing parent" else ": ") + expected
    assert not cohort.out.exists()


def test_script_stops_at_a_fifo_sheet_in_one_line_and_writes_nothing(cohort, deadline):
    pipe = cohort.data / "clinical_pipe.csv"
    os.mkfifo(pipe)
    cohort.clinical = pipe
    with pytest.raises(SystemExit) as info:
        run_script(cohort)
    assert info.value.code == 1
    assert not cohort.out.exists()
    text = cohort.root.joinpath("logs", "validate.log").read_text()
    assert f"{pipe}: cannot read the clinical sheet: it is a named pipe (FIFO), not a regular file" in text
    assert "Traceback" not in text and text.count("ERROR") == 1


# ----------------------------------------------------------------------------- real data


@pytest.fixture
def shared_data():
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (real data lives in ../shared)")
    return SHARED / "data" / "real"


@pytest.mark.parametrize("roi_on", ["CT", "PET"])
def test_real_sts_petct_cases_validate(shared_data, tmp_path, monkeypatch, roi_on):
    """3 real soft-tissue-sarcoma cases: CT, PET on its coarser grid, mask on either grid."""
    monkeypatch.chdir(tmp_path)
    sts = shared_data / "petct" / "sts"
    cases = ["STS_001", "STS_002", "STS_003"]
    rows = [r | {"patient_id": pid} for r, pid in zip(clinical_rows(), cases)]
    pd.DataFrame(rows).to_csv(tmp_path / "clinical.tsv", sep="\t", index=False)
    sheet = tmp_path / "sheets" / "images.csv"
    sheet.parent.mkdir()
    relative = Path("..") / Path(*[".."] * (len(tmp_path.parts) - 1)) / sts.relative_to("/")
    pd.DataFrame(
        [
            dict(
                patient_id=pid,
                ct=f"{relative}/{pid}/CT/image.nii.gz",
                pet=f"{relative}/{pid}/PET/image.nii.gz",
                roi=f"{relative}/{pid}/{roi_on}/mask.nii.gz",
            )
            for pid in cases
        ]
    ).to_csv(sheet, index=False)
    clinical, images, _ = validate_cohort(clinical=tmp_path / "clinical.tsv", images=sheet)
    assert images["patient_id"].tolist() == cases
    for path in images[["ct", "pet", "roi"]].to_numpy().ravel():
        assert (tmp_path / path).resolve().is_file()
    assert (tmp_path / images.loc[2, "roi"]).resolve() == (sts / "STS_003" / roi_on / "mask.nii.gz").resolve()


def test_real_hnscc_clinical_sheet_with_mapped_columns(shared_data, tmp_path):
    """156 real head-and-neck patients under their own column names and labels: the first
    real gap (missing HPV status, standing in for EBV DNA) is named, then a complete subset
    validates."""
    source = shared_data / "clinical" / "hnscc_mda_clinical.csv"
    raw = pd.read_csv(source, dtype=str, keep_default_na=False)
    columns = {
        "patient_id": "TCIA code",
        "os_months": "Survival  (months)",
        "os_event": "Overall Survival Censor",
        "age": "Age",
        "sex": "Sex",
        "rT_stage": "T",
        "N_stage": "N",
        "ebv_dna": "HPV status",
        "treatment": "Oncologic Treatment Summary",
    }
    treatments = raw["Oncologic Treatment Summary"].unique()
    labels = {
        "sex": {"M": ["Male"], "F": ["Female"]},
        "rT_stage": {"T0": ["In situ"], "T1": ["1"], "T2": ["2"], "T3": ["3", "3a"], "T4": ["4", "4a", "4b"]},
        "N_stage": {"N0": ["0"], "N1": ["1"], "N2": ["2", "2a", "2b", "2c"], "N3": ["3"]},
        "ebv_dna": {"detectable": ["positive"], "undetectable": ["negative"]},
        # stand-ins: surgery first if any, else chemotherapy-led, else radiotherapy
        "treatment": {
            "surgery": [t for t in treatments if "Surgery" in t],
            "chemotherapy": [t for t in treatments if "Surgery" not in t and "CMT" in t],
            "reirradiation": [t for t in treatments if "Surgery" not in t and "CMT" not in t],
        },
    }
    first_gap = int(np.flatnonzero(raw["HPV status"].str.strip() == "")[0])
    with pytest.raises(InputError) as info:
        validate_clinical(source, columns=columns, labels=labels)
    assert str(info.value).startswith(
        f"{source}, patient {raw.loc[first_gap, 'TCIA code']}, row {first_gap + 1}, column 'HPV status': "
        "ebv_dna is missing; accepted labels:"
    )

    complete = tmp_path / "hnscc_hpv_known.csv"
    raw[raw["HPV status"].str.strip() != ""].to_csv(complete, index=False)
    clinical = validate_clinical(complete, columns=columns, labels=labels)
    assert len(clinical) == 40
    assert list(clinical.columns) == list(C.CLINICAL_REQUIRED)
    assert set(clinical["os_event"]) == {0, 1}
    assert set(clinical["rT_stage"]) <= set(C.CATEGORY_LEVELS["rT_stage"])
    assert (clinical["os_months"] > 0).all()


def test_real_airway_counts_validate(shared_data):
    """Real raw counts (8 samples x 64,102 Ensembl genes) pass; a sample missing from the
    clinical patients is named."""
    path = shared_data / "rnaseq" / "airway_counts.csv"
    samples = pd.read_csv(path, nrows=0).columns[1:].tolist()
    counts = validate_rnaseq(path, samples + ["no_counts_patient"])
    assert counts.shape == (64102, 9)
    assert counts.columns[0] == GENE_ID and counts[GENE_ID].is_unique
    assert (counts[samples].dtypes == np.int64).all()
    with pytest.raises(InputError, match=f"column '{samples[1]}': sample '{samples[1]}' is not a patient"):
        validate_rnaseq(path, samples[:1])


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            OSError(28, "No space left on device", "results/tables/t.tsv"),
            "cannot write results/tables/t.tsv: the disk is full (No space left on device)",
        ),
        (
            PermissionError(13, "Permission denied", "results/x.png"),
            "cannot write results/x.png: permission denied (Permission denied)",
        ),
    ],
)
def test_full_disk_and_denied_writes_are_one_line_even_under_another_error(tmp_path, error, expected):
    """A library that trips over the failed write may raise something else on top of it
    (an AttributeError of a half-closed stream over ENOSPC): the log names the cause."""
    from survsig.core.logs import stage_logging

    log = tmp_path / "stage.log"
    with pytest.raises(SystemExit) as info:
        with stage_logging(log, console=False):
            try:
                raise error
            except OSError:
                raise AttributeError("'Stream' object has no attribute 'pos'") from None
    assert info.value.code == 1
    text = log.read_text()
    assert expected in text and "Traceback" not in text
