"""Preprocessing: physical-space resampling, ROI crops per slice, bad input."""

import json
import pathlib

import numpy as np
import pytest
import SimpleITK as sitk

from conftest import write_real_size_petct
from survsig.core.errors import InputError
from survsig.core.settings import PreprocessSettings
from survsig.imaging.preprocess import preprocess_patient, resample_onto, resize_square, roi_grid
from survsig.imaging.slices import load_patient_slices, save_patient_slices


def image(array, spacing, origin, pixel=None):
    img = sitk.GetImageFromArray(array)
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    return img if pixel is None else sitk.Cast(img, pixel)


def write(img, path):
    sitk.WriteImage(img, str(path))
    return path


@pytest.fixture
def case(tmp_path):
    """CT 40x40x10 (1 x 1 x 3 mm), PET 16x16x8 (3 x 3 x 4 mm, other origin), ROI on CT slice 4."""
    ct = np.full((10, 40, 40), 40, np.int16)
    roi = np.zeros((10, 40, 40), np.uint8)
    roi[4, 15:25, 10:20] = 1  # rows are y, columns x
    ct[roi > 0] = 100
    pet = np.ones((8, 16, 16), np.float32)
    paths = {
        "ct": write(image(ct, (1.0, 1.0, 3.0), (-20.0, -20.0, -15.0)), tmp_path / "ct.nii.gz"),
        "roi": write(image(roi, (1.0, 1.0, 3.0), (-20.0, -20.0, -15.0)), tmp_path / "roi.nii.gz"),
        "pet": write(image(pet, (3.0, 3.0, 4.0), (-22.0, -23.0, -17.0)), tmp_path / "pet.nii.gz"),
    }
    return paths


def test_crop_returns_the_roi_box_on_its_slice(case):
    settings = PreprocessSettings(
        spacing=(1.0, 1.0, 3.0), box="roi", margin_mm=0.0, crop_size=10, ct_window=(0.0, 100.0)
    )
    patient = preprocess_patient("P1", case["ct"], case["pet"], case["roi"], settings)
    assert patient.slices.shape == (1, 3, 10, 10)
    # the box is exactly the ROI: ROI channel all ones, CT window maps tumour (100 HU) to 1
    np.testing.assert_array_equal(patient.slices[0, 2], 1.0)
    np.testing.assert_allclose(patient.slices[0, 0].astype(float), 1.0, atol=1e-3)
    np.testing.assert_allclose(patient.z_mm, [-15.0 + 3.0 * 4])
    x0, y0, side, area = patient.boxes_mm[0]
    assert (x0, y0, side, area) == pytest.approx((-20.0 + 10 - 0.5, -20.0 + 15 - 0.5, 10.0, 100.0))


def test_fixed_box_keeps_tumour_size_visible(case):
    settings = PreprocessSettings(spacing=(1.0, 1.0, 3.0), box="fixed", box_mm=20.0, margin_mm=0.0, crop_size=20)
    patient = preprocess_patient("P1", case["ct"], case["pet"], case["roi"], settings)
    roi = patient.slices[0, 2].astype(float)
    # a 10 x 10 mm ROI fills a quarter of a 20 mm box
    assert roi.sum() == pytest.approx(100.0, abs=2.0)
    assert patient.boxes_mm[0, 2] == 20.0


def test_resampling_keeps_physical_positions(case):
    ct, pet, roi = (sitk.ReadImage(str(case[k])) for k in ("ct", "pet", "roi"))
    reference = roi_grid(roi, (0.7, 0.7, 1.5), pad_mm=4.0)
    roi_array = resample_onto(roi, reference, label=True)
    # a point inside the ROI stays inside, one outside stays outside
    inside = roi.TransformIndexToPhysicalPoint((14, 19, 4))
    outside = roi.TransformIndexToPhysicalPoint((22, 19, 4))
    for point, expected in ((inside, 1), (outside, 0)):
        i, j, k = reference.TransformPhysicalPointToIndex(point)
        assert roi_array[k, j, i] == expected
    # images are interpolated at the same physical points as the originals
    pet_gradient = sitk.GetImageFromArray(np.arange(8 * 16 * 16, dtype=np.float32).reshape(8, 16, 16))
    pet_gradient.CopyInformation(pet)
    pet_array = resample_onto(pet_gradient, reference)
    i, j, k = reference.TransformPhysicalPointToIndex(inside)
    point = reference.TransformIndexToPhysicalPoint((i, j, k))
    assert pet_array[k, j, i] == pytest.approx(pet_gradient.EvaluateAtPhysicalPoint(point, sitk.sitkLinear), rel=1e-5)


def test_empty_roi_is_an_error(case, tmp_path):
    empty = sitk.ReadImage(str(case["roi"])) * 0
    path = write(empty, tmp_path / "empty.nii.gz")
    with pytest.raises(InputError, match="ROI is empty") as err:
        preprocess_patient("P7", case["ct"], case["pet"], path, PreprocessSettings())
    assert "P7" in str(err.value) and "empty.nii.gz" in str(err.value)


def test_cut_image_names_the_patient_and_column_and_writes_nothing(case, tmp_path):
    """An image cut after validation (or preprocessed by hand) still never becomes zeros."""
    pet = tmp_path / "pet_cut.nii.gz"
    data = pathlib.Path(case["pet"]).read_bytes()
    pet.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="image data is truncated") as err:
        preprocess_patient("P6", case["ct"], pet, case["roi"], PreprocessSettings())
    assert err.value.patient == "P6" and err.value.column == "pet" and err.value.file == str(pet)


def test_roi_outside_the_pet_field_of_view_is_an_error(case, tmp_path):
    pet = sitk.ReadImage(str(case["pet"]))
    pet.SetOrigin((0.0, -23.0, -17.0))  # PET now starts at x = -1.5 mm; the ROI at x = -10.5 mm
    path = write(pet, tmp_path / "pet_shifted.nii.gz")
    with pytest.raises(InputError, match="outside the PET field of view") as err:
        preprocess_patient("P8", case["ct"], path, case["roi"], PreprocessSettings())
    assert "P8" in str(err.value) and "column 'roi'" in str(err.value)


def test_roi_thinner_than_a_slice_is_an_error(case):
    # the common grid's 12 mm slices step over the single 3 mm ROI slice
    settings = PreprocessSettings(spacing=(1.0, 1.0, 12.0))
    roi = sitk.ReadImage(str(case["roi"]))
    reference = roi_grid(roi, settings.spacing, pad_mm=0.0)
    if resample_onto(roi, reference, label=True).any():
        pytest.skip("grid happens to hit the ROI slice")
    with pytest.raises(InputError, match="no axial slice"):
        preprocess_patient("P9", case["ct"], case["pet"], case["roi"], settings)


def test_real_size_ct_with_coarser_pet(tmp_path):
    """512 x 512 x 150 CT at 0.98 mm with a 200 x 200 x 150 PET: only the ROI's neighbourhood is resampled."""
    paths = write_real_size_petct(tmp_path, np.s_[70:80, 250:270, 240:262])
    patient = preprocess_patient("BIG", paths["ct"], paths["pet"], paths["roi"], PreprocessSettings())
    assert patient.slices.shape[1:] == (3, 64, 64)
    assert 6 <= len(patient.slices) <= 8  # 20 mm of ROI on a 3 mm grid


def test_saved_slices_round_trip_byte_identically(case, tmp_path):
    patient = preprocess_patient("P1", case["ct"], case["pet"], case["roi"], PreprocessSettings(crop_size=16))
    save_patient_slices(patient, tmp_path / "a.npz")
    save_patient_slices(patient, tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    loaded = load_patient_slices(tmp_path / "a.npz")
    assert loaded.patient_id == "P1"
    np.testing.assert_array_equal(loaded.slices, patient.slices)


def test_manifest_lists_every_patient_file(tmp_path):
    from survsig.imaging.slices import read_manifest, write_manifest

    files = [tmp_path / "batch0002" / "SYN0002.npz", tmp_path / "batch0001" / "SYN0001.npz"]
    for path in files:
        path.parent.mkdir()
        path.touch()
    write_manifest(files, tmp_path / "manifest.tsv")
    assert read_manifest(tmp_path / "manifest.tsv") == [str(files[1]), str(files[0])]
    assert (tmp_path / "manifest.tsv").read_text().splitlines()[1].startswith("SYN0001\t")


def test_manifest_of_a_missing_file_names_the_patient_and_writes_nothing(tmp_path):
    from survsig.imaging.slices import write_manifest

    (tmp_path / "SYN0001.npz").touch()
    with pytest.raises(InputError, match="wrote no slices") as err:
        write_manifest([tmp_path / "SYN0001.npz", tmp_path / "SYN0002.npz"], tmp_path / "manifest.tsv")
    assert err.value.patient == "SYN0002" and err.value.file == str(tmp_path / "SYN0002.npz")
    assert not (tmp_path / "manifest.tsv").exists()


def preprocess_command(patients, case, output_dir, log, settings):
    from survsig.cli import main

    images = {name: [str(case[name])] * len(patients) for name in ("ct", "pet", "roi")}
    main(
        ["preprocess", "--patients", *patients]
        + [arg for name in ("ct", "pet", "roi") for arg in (f"--{name}", *images[name])]
        + ["--settings", json.dumps(settings.__dict__), "--output-dir", str(output_dir), "--log", str(log)]
    )


def test_preprocess_command_writes_each_patient_of_its_job_to_a_file(case, tmp_path):
    """One job of the workflow's preprocessing rule: each patient's file equals the one
    preprocessing that patient alone writes, and the log counts the patients."""
    settings = PreprocessSettings(crop_size=16)
    preprocess_command(["P1", "P2", "P3"], case, tmp_path / "batch0001", tmp_path / "job.log", settings)
    alone = tmp_path / "alone.npz"
    for patient in ("P1", "P2", "P3"):
        save_patient_slices(preprocess_patient(patient, case["ct"], case["pet"], case["roi"], settings), alone)
        assert (tmp_path / "batch0001" / f"{patient}.npz").read_bytes() == alone.read_bytes(), patient
    assert sorted(path.name for path in (tmp_path / "batch0001").iterdir()) == ["P1.npz", "P2.npz", "P3.npz"]
    log = (tmp_path / "job.log").read_text()
    assert "preprocessed P1 (1/3)" in log and "preprocessed P3 (3/3)" in log


def test_preprocess_command_with_a_bad_patient_names_it(case, tmp_path):
    empty = write(sitk.ReadImage(str(case["roi"])) * 0, tmp_path / "empty.nii.gz")
    bad = {**case, "roi": empty}
    with pytest.raises(SystemExit) as exit_:
        preprocess_command(["P9"], bad, tmp_path / "batch0001", tmp_path / "job.log", PreprocessSettings())
    assert exit_.value.code == 1
    log = (tmp_path / "job.log").read_text()
    assert "ROI is empty" in log and "P9" in log and "empty.nii.gz" in log
    assert not list((tmp_path / "batch0001").glob("*.npz"))


def test_preprocess_command_needs_one_image_of_each_kind_per_patient(case, tmp_path):
    from survsig.cli import main

    args = ["preprocess", "--patients", "P1", "P2", "--ct", str(case["ct"]), "--pet", str(case["pet"])]
    args += ["--roi", str(case["roi"]), "--settings", "{}", "--output-dir", str(tmp_path / "out")]
    args += ["--log", str(tmp_path / "job.log")]
    with pytest.raises(SystemExit):
        main(args)
    assert "one CT, PET and ROI per patient" in (tmp_path / "job.log").read_text()
    assert not (tmp_path / "out").exists()


def test_real_petct_case(shared_dir):
    case = shared_dir / "data/real/petct/sts/STS_001"
    patient = preprocess_patient(
        "STS_001", case / "CT/image.nii.gz", case / "PET/image.nii.gz", case / "CT/mask.nii.gz", PreprocessSettings()
    )
    assert patient.slices.shape[1:] == (3, 64, 64) and len(patient.slices) > 5
    slices = patient.slices.astype(float)
    assert (slices[:, 2].reshape(len(slices), -1).max(axis=1) > 0.5).all()  # ROI on every slice
    # the tumour is hotter than the box around it on PET
    tumour = slices[:, 1][slices[:, 2] > 0.5].mean()
    around = slices[:, 1][slices[:, 2] < 0.01].mean()
    assert tumour > around


@pytest.mark.parametrize("n, size", [(80, 64), (64, 64), (40, 64), (150, 64), (81, 64), (90, 224)])
def test_resize_equals_scipy_gaussian_then_linear_zoom(n, size):
    # the matrix form replaces scipy.ndimage (slow to import in per-patient jobs)
    from scipy import ndimage

    plane = np.random.default_rng(n * size).random((n, n)).astype(np.float32)
    expected = plane
    if n > size:
        expected = ndimage.gaussian_filter(plane, sigma=0.5 * n / size, mode="nearest")
    expected = np.clip(ndimage.zoom(expected, size / n, order=1, mode="nearest", grid_mode=True), 0, 1)
    resized = resize_square(np.stack([plane, plane[::-1]]), size)
    assert resized.shape == (2, size, size)
    np.testing.assert_allclose(resized[0], expected, atol=1e-6)
    np.testing.assert_allclose(resized[1], resize_square(plane[::-1], size), atol=0)


def test_patient_batches_are_sorted_patients_so_many_to_a_job():
    from survsig.core.settings import patient_batches

    batches = patient_batches([f"P{i:02d}" for i in (5, 1, 3, 2, 4)], 2)
    assert batches == {"batch0001": ["P01", "P02"], "batch0002": ["P03", "P04"], "batch0003": ["P05"]}
    assert patient_batches([], 25) == {}
