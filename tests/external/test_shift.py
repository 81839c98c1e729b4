"""The shift table of an external cohort: standardised differences checked against hand
computations, image measures of small images written here (volumes, CT means and PET maxima
known in closed form, a PET on a coarser grid resampled), refusals naming patient and
column, and the Love plot built with rows beyond its axis."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from survsig.core.errors import InputError
from survsig.external.shift import (
    IMAGE_MEASURE_COLUMNS,
    SHIFT_COLUMNS,
    SMD_THRESHOLD,
    image_measures,
    proportion_difference,
    shift_figure,
    shift_table,
    significant,
    standardised_difference,
)

# float32 resolution near the PET's values (about 4 SUV), with room for a few operations
FLOAT32_TOL = 16 * float(np.finfo(np.float32).eps)


# ------------------------------------------------------------- standardised differences
def test_continuous_smd_by_hand():
    reference = pd.DataFrame({"x": [1.0, 2.0, 3.0]})  # mean 2, SD 1
    external = pd.DataFrame({"x": [2.0, 4.0, 6.0, np.nan]})  # mean 4, SD 2, the NaN ignored
    table = shift_table(reference, external, continuous=["x"], group="image")
    assert list(table.columns) == list(SHIFT_COLUMNS)
    row = table.iloc[0]
    assert (row["group"], row["variable"], row["level"]) == ("image", "x", "")
    assert (row["reference_n"], row["external_n"]) == (3, 3)
    assert (row["reference_mean"], row["reference_sd"]) == (2.0, 1.0)
    assert (row["external_mean"], row["external_sd"]) == (4.0, 2.0)
    assert row["smd"] == pytest.approx(2.0 / math.sqrt((1.0 + 4.0) / 2.0), rel=1e-12)  # 1.2649
    assert row["reference_summary"] == "2.00 (1.00)"
    assert row["external_summary"] == "4.00 (2.00)"
    assert bool(row["shifted"]) is True


def test_categorical_smd_by_hand():
    reference = pd.DataFrame({"stage": ["a", "a", "b", "b"]})
    external = pd.DataFrame({"stage": ["b", "a", "b", "c", None]})  # None left out: n = 4
    table = shift_table(reference, external, categorical=["stage"], group="clinical")
    assert list(table["level"]) == ["a", "b", "c"]
    assert list(table["reference_n"]) == [4, 4, 4]
    assert list(table["external_n"]) == [4, 4, 4]
    assert list(table["reference_mean"]) == [0.5, 0.5, 0.0]
    assert list(table["external_mean"]) == [0.25, 0.5, 0.25]
    assert table["reference_sd"].isna().all() and table["external_sd"].isna().all()
    # a: (0.25 - 0.5) / sqrt((0.25 + 0.1875) / 2); b: equal; c: 0.25 / sqrt((0 + 0.1875) / 2)
    assert table["smd"].tolist() == pytest.approx([-0.25 / math.sqrt(0.21875), 0.0, 0.25 / math.sqrt(0.09375)])
    assert table["smd"].iloc[0] == pytest.approx(-0.534522, abs=1e-6)
    assert table["smd"].iloc[2] == pytest.approx(0.816497, abs=1e-6)
    assert list(table["reference_summary"]) == ["2 (50.0%)", "2 (50.0%)", "0 (0.0%)"]
    assert list(table["external_summary"]) == ["1 (25.0%)", "2 (50.0%)", "1 (25.0%)"]
    assert list(table["shifted"]) == [True, False, True]


def test_integer_levels_read_with_a_missing_value_are_one_level():
    reference = pd.DataFrame({"n": [1, 2, 2]})
    external = pd.DataFrame({"n": [1.0, np.nan, 2.0]})  # floats, as pandas reads a gap
    table = shift_table(reference, external, categorical=["n"], group="clinical")
    assert list(table["level"]) == ["1", "2"]
    assert list(table["external_n"]) == [2, 2]


def test_zero_pooled_sd_equal_means_is_zero_and_different_means_infinite():
    reference = pd.DataFrame({"spacing": [0.8, 0.8, 0.8], "size": [512, 512, 512]})
    external = pd.DataFrame({"spacing": [0.8] * 4, "size": [256] * 4})
    table = shift_table(reference, external, continuous=["spacing", "size"], group="image")
    assert table["smd"].tolist() == [0.0, -math.inf]
    assert list(table["shifted"]) == [False, True]
    assert list(table["reference_summary"]) == ["0.800 (0)", "512 (0)"]
    assert standardised_difference(1.0, 0.0, 1.5, 0.0) == math.inf
    assert standardised_difference(1.0, 0.0, 1.0, 0.0) == 0.0


def test_one_grid_read_from_float32_and_decimal_headers_is_no_shift():
    # NIfTI keeps 0.8 mm as float32 (0.800000011920929), DICOM as the text "0.8"
    reference = pd.DataFrame({"spacing": [float(np.float32(0.8))] * 3})
    external = pd.DataFrame({"spacing": [0.8] * 3})
    assert shift_table(reference, external, continuous=["spacing"], group="image")["smd"].iloc[0] == 0.0


def test_constant_mean_of_many_identical_floats_is_exact():
    # summing 0.1 a hundred times is not exactly 10: the SD must still be 0, the SMD infinite
    reference = pd.DataFrame({"x": [0.1] * 100})
    external = pd.DataFrame({"x": [0.2] * 100})
    row = shift_table(reference, external, continuous=["x"], group="image").iloc[0]
    assert (row["reference_mean"], row["reference_sd"]) == (0.1, 0.0)
    assert row["smd"] == math.inf


def test_zero_pooled_sd_of_proportions():
    reference = pd.DataFrame({"sex": ["M", "M"], "ebv": ["pos", "pos"]})
    external = pd.DataFrame({"sex": ["F", "F", "F"], "ebv": ["pos", "pos", "pos"]})
    table = shift_table(reference, external, categorical=["sex", "ebv"], group="clinical")
    assert list(zip(table["variable"], table["level"])) == [("sex", "F"), ("sex", "M"), ("ebv", "pos")]
    assert table["smd"].tolist() == [math.inf, -math.inf, 0.0]
    assert proportion_difference(0.0, 0.0) == 0.0
    assert proportion_difference(1.0, 0.0) == -math.inf


def test_missing_column_is_named():
    reference = pd.DataFrame({"age": [50, 60], "sex": ["M", "F"]})
    external = pd.DataFrame({"age": [55, 65]})
    with pytest.raises(InputError, match=r"column 'sex': the external cohort") as caught:
        shift_table(reference, external, continuous=["age"], categorical=["sex"], group="clinical")
    assert caught.value.column == "sex"


def test_text_in_a_continuous_column_is_refused():
    reference = pd.DataFrame({"age": [50, 60]})
    external = pd.DataFrame({"age": ["55", "old"]})
    with pytest.raises(InputError, match=r"column 'age'.*not a number: 'old'"):
        shift_table(reference, external, continuous=["age"], group="clinical")


def test_significant_digits():
    assert [significant(v) for v in (1234.0, 2.0, 0.0001234, -1000.0, 9.996, 0.0)] == [
        "1230",
        "2.00",
        "0.000123",
        "-1000",
        "10.0",
        "0",
    ]


# ---------------------------------------------------------------------- image measures
CT_SPACING = (1.0, 1.0, 2.0)
CUBE = (slice(3, 7), slice(5, 10), slice(4, 10))  # z, y, x: 4 x 5 x 6 = 120 voxels


def pet_suv(x, y, z):
    """PET linear in physical space: linear interpolation reproduces it exactly."""
    return 1.0 + 0.1 * x + 0.2 * y + 0.05 * z


def write_patient(folder, *, cube=CUBE, suffix=".nii.gz"):
    """CT 20 x 20 x 10 on the ROI's grid, PET on a coarser shifted grid, ROI a cube (label 2)."""
    z, y, x = np.meshgrid(np.arange(10), np.arange(20), np.arange(20), indexing="ij")
    ct = sitk.GetImageFromArray((10 * z + x - 500).astype(np.int16))  # HU known per voxel
    ct.SetSpacing(CT_SPACING)
    roi_voxels = np.zeros((10, 20, 20), np.uint8)
    roi_voxels[cube] = 2
    roi = sitk.GetImageFromArray(roi_voxels)
    roi.CopyInformation(ct)

    pet_origin, pet_spacing = (-1.0, -1.0, -2.0), (2.0, 2.0, 4.0)
    zp, yp, xp = np.meshgrid(np.arange(6), np.arange(11), np.arange(11), indexing="ij")
    values = pet_suv(pet_origin[0] + 2.0 * xp, pet_origin[1] + 2.0 * yp, pet_origin[2] + 4.0 * zp)
    pet = sitk.GetImageFromArray(values.astype(np.float32))
    pet.SetSpacing(pet_spacing)
    pet.SetOrigin(pet_origin)

    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / f"{name}{suffix}" for name in ("ct", "pet", "roi")}
    for name, image in (("ct", ct), ("pet", pet), ("roi", roi)):
        sitk.WriteImage(image, str(paths[name]))
    return paths


def test_image_measures_of_known_images(tmp_path):
    rows = []
    for patient, suffix in (("P1", ".nii.gz"), ("P2", ".nrrd"), ("P3", ".mha")):
        paths = write_patient(tmp_path / patient, suffix=suffix)
        rows.append({"patient_id": patient, **{k: str(v) for k, v in paths.items()}})
    calls = []
    measures = image_measures(pd.DataFrame(rows), progress=lambda *args: calls.append(args))
    assert list(measures.columns) == list(IMAGE_MEASURE_COLUMNS)
    assert list(measures["patient_id"]) == ["P1", "P2", "P3"]
    assert calls == [(1, 3, "P1"), (2, 3, "P2"), (3, 3, "P3")]

    # 120 voxels of 1 x 1 x 2 mm: 0.24 mL
    assert measures["roi_volume_ml"].tolist() == [120 * 2.0 / 1000.0] * 3
    # CT on the ROI's grid: mean of 10 z + x - 500 over z 3..6, x 4..9
    assert measures["ct_mean_hu"].tolist() == [10 * 4.5 + 6.5 - 500] * 3
    # PET resampled: voxel centres of the cube at x 4..9, y 5..9, z 6..12 mm
    expected_max, expected_mean = pet_suv(9.0, 9.0, 12.0), pet_suv(6.5, 7.0, 9.0)
    assert measures["pet_max_suv"].to_numpy() == pytest.approx(expected_max, rel=FLOAT32_TOL)
    assert measures["pet_mean_suv"].to_numpy() == pytest.approx(expected_mean, rel=FLOAT32_TOL)
    assert expected_max == pytest.approx(4.3) and expected_mean == pytest.approx(3.5)

    row = measures.iloc[0]
    assert [row[f"ct_spacing_{a}_mm"] for a in "xyz"] == [1.0, 1.0, 2.0]
    assert [row[f"pet_spacing_{a}_mm"] for a in "xyz"] == [2.0, 2.0, 4.0]
    assert [row[f"ct_size_{a}"] for a in "xyz"] == [20, 20, 10]
    assert [row[f"pet_size_{a}"] for a in "xyz"] == [11, 11, 6]


def test_ct_on_another_grid_than_the_roi_is_resampled(tmp_path):
    paths = write_patient(tmp_path / "P1")
    # a CT of 2 x 2 x 4 mm voxels, linear in space: HU = 3 x + 2 y - z - 100
    z, y, x = np.meshgrid(np.arange(6), np.arange(11), np.arange(11), indexing="ij")
    ct = sitk.GetImageFromArray((3 * 2.0 * x + 2 * 2.0 * y - 4.0 * z - 100).astype(np.float32))
    ct.SetSpacing((2.0, 2.0, 4.0))
    sitk.WriteImage(ct, str(paths["ct"]))
    sheet = pd.DataFrame([{"patient_id": "P1", **{k: str(v) for k, v in paths.items()}}])
    measures = image_measures(sheet)
    # cube centres: mean x 6.5, y 7, z 9 mm
    assert measures["ct_mean_hu"].iloc[0] == pytest.approx(3 * 6.5 + 2 * 7.0 - 9.0 - 100, rel=FLOAT32_TOL)
    assert measures["ct_size_x"].iloc[0] == 11


def test_empty_roi_is_refused_naming_the_patient(tmp_path):
    paths = write_patient(tmp_path / "P7", cube=(slice(0, 0), slice(0, 0), slice(0, 0)))
    sheet = pd.DataFrame([{"patient_id": "P7", **{k: str(v) for k, v in paths.items()}}])
    with pytest.raises(InputError, match=r"patient P7.*column 'roi'.*empty") as caught:
        image_measures(sheet)
    assert caught.value.patient == "P7"
    assert caught.value.column == "roi"


def test_image_sheet_without_a_column_is_refused():
    with pytest.raises(InputError, match=r"column 'roi'"):
        image_measures(pd.DataFrame({"patient_id": ["P1"], "ct": ["a.nii"], "pet": ["b.nii"]}))


# -------------------------------------------------------------------------- the figure
def test_figure_with_rows_beyond_the_axis(tmp_path):
    image = shift_table(
        pd.DataFrame({"ct_spacing_z_mm": [3.0, 3.0], "pet_max_suv": [10.0, 12.0], "size": [512, 512]}),
        pd.DataFrame({"ct_spacing_z_mm": [2.0, 2.0], "pet_max_suv": [8.0, 9.0], "size": [768, 768]}),
        continuous=["ct_spacing_z_mm", "pet_max_suv", "size"],
        group="image",
    )
    clinical = shift_table(
        pd.DataFrame({"age": [50.0, 60.0, 70.0], "sex": ["M", "F", "M"]}),
        pd.DataFrame({"age": [52.0, 61.0, 75.0], "sex": ["M", "M", "M"]}),
        continuous=["age"],
        categorical=["sex"],
        group="clinical",
    )
    table = pd.concat([clinical, image], ignore_index=True)  # clinical first: the figure reorders
    assert list(table["smd"].iloc[-3:]) == [-math.inf, pytest.approx(-2.5 / math.sqrt(1.25)), math.inf]
    fig = shift_figure(table, external_label="Centre B")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == len(table)
    assert labels == ["ct_spacing_z_mm", "pet_max_suv", "size", "age", "sex: F", "sex: M"]
    low, high = ax.get_xlim()
    largest = float(np.abs(table["smd"][np.isfinite(table["smd"])]).max())
    assert high >= max(3.0, 1.1 * largest) and low == -high
    texts = [t.get_text() for t in fig.texts] + [t.get_text() for t in fig.legends[0].get_texts()]
    assert "Centre B against Training" in texts
    assert any("beyond the axis" in t for t in texts)
    assert ax.get_xlabel() == "Standardised difference (external - training)"
    assert SMD_THRESHOLD == 0.1
    fig.savefig(tmp_path / "shift.png", dpi=50)
