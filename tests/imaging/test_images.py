"""Image I/O and physical-space geometry (survsig.core.images), on tiny SimpleITK images and
the real soft-tissue-sarcoma PET/CT cases in ../shared."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from survsig.core import images as im
from survsig.core.errors import InputError

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
STS = SHARED / "data" / "real" / "petct" / "sts"


def ct_volume(size=(12, 10, 6), spacing=(0.8, 0.9, 2.5), origin=(-10.0, 20.0, -300.0), direction=None):
    """Small int16 volume with distinct voxel values, so a round trip checks every voxel."""
    voxels = (np.arange(np.prod(size)).reshape(size[::-1]) % 2000 - 1000).astype(np.int16)
    image = sitk.GetImageFromArray(voxels)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    if direction is not None:
        image.SetDirection(direction)
    return image


def write_dicom_series(image: sitk.Image, folder: Path, *, series_uid="1.2.826.0.1.3680043.2.1125.1.1") -> None:
    """Write a 3-D image as one CT DICOM file per slice, with the tags ITK needs to
    rebuild the volume (series UID, slice position and orientation)."""
    folder.mkdir(parents=True, exist_ok=True)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()  # keep our series UID rather than a fresh one per file
    d = image.GetDirection()
    orientation = "\\".join(map(str, (d[0], d[3], d[6], d[1], d[4], d[7])))
    for z in range(image.GetDepth()):
        slice_ = image[:, :, z]
        for tag, value in (
            ("0008|0060", "CT"),
            ("0008|0008", "DERIVED\\SECONDARY"),
            ("0020|000d", "1.2.826.0.1.3680043.2.1125.1"),
            ("0020|000e", series_uid),
            ("0020|0037", orientation),
            ("0020|0032", "\\".join(map(str, image.TransformIndexToPhysicalPoint((0, 0, z))))),
            ("0020|0013", str(z + 1)),
            ("0018|0050", str(image.GetSpacing()[2])),
            ("0008|0018", f"{series_uid}.{z + 1}"),
        ):
            slice_.SetMetaData(tag, value)
        writer.SetFileName(str(folder / f"slice_{z:03d}.dcm"))
        writer.Execute(slice_)


def assert_same_image(a: sitk.Image, b: sitk.Image, *, atol=1e-4):
    assert a.GetSize() == b.GetSize()
    np.testing.assert_allclose(a.GetSpacing(), b.GetSpacing(), atol=atol)
    np.testing.assert_allclose(a.GetOrigin(), b.GetOrigin(), atol=atol)
    np.testing.assert_allclose(a.GetDirection(), b.GetDirection(), atol=atol)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(a), sitk.GetArrayViewFromImage(b))


@pytest.mark.parametrize("name", ["ct.nii", "ct.nii.gz", "ct.nrrd", "ct.nhdr", "ct.mha", "ct.mhd"])
def test_file_formats_read_back_geometry_and_voxels(tmp_path, name):
    image = ct_volume()
    path = tmp_path / name
    sitk.WriteImage(image, str(path))
    assert_same_image(im.read_image(path), image)
    header = im.read_image_header(path)  # header only; NIfTI stores float32 geometry
    assert im.same_grid(header, image, atol=1e-5)
    assert header.pixel_type == image.GetPixelIDTypeAsString()
    assert header.dimension == 3 and header.components == 1


def test_dicom_series_folder_reads_back_geometry_and_voxels(tmp_path):
    image = ct_volume()
    write_dicom_series(image, tmp_path / "ct_dicom")
    assert_same_image(im.read_image(tmp_path / "ct_dicom"), image)
    header = im.read_image_header(tmp_path / "ct_dicom")
    assert header.size == image.GetSize()
    assert im.same_grid(header, image)


def test_folder_with_two_dicom_series_is_ambiguous(tmp_path):
    write_dicom_series(ct_volume(), tmp_path / "mixed", series_uid="1.2.3.1")
    for path in (tmp_path / "mixed").iterdir():  # second series beside the first
        path.rename(path.with_name("a_" + path.name))
    write_dicom_series(ct_volume(), tmp_path / "mixed", series_uid="1.2.3.2")
    with pytest.raises(InputError, match="2 DICOM series") as info:
        im.read_image(tmp_path / "mixed")
    assert str(tmp_path / "mixed") in str(info.value)


def test_folder_without_dicom_names_the_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no DICOM series") as info:
        im.read_image_header(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(info.value)


@pytest.mark.parametrize("reader", [im.read_image, im.read_image_header])
def test_missing_and_unreadable_files_name_the_file(tmp_path, reader):
    with pytest.raises(InputError, match="not found") as info:
        reader(tmp_path / "absent.nii.gz")
    assert info.value.file == str(tmp_path / "absent.nii.gz")
    garbage = tmp_path / "garbage.nii.gz"
    garbage.write_text("not an image")
    with pytest.raises(InputError, match="cannot read image") as info:
        reader(garbage)
    assert info.value.file == str(garbage)
    assert "sitk::ERROR" not in str(info.value)  # the ITK prefix is trimmed


def test_same_grid_tolerates_rounding_only():
    image = ct_volume()
    nudged = ct_volume(origin=(-10.0 + 4e-4, 20.0, -300.0))
    assert im.same_grid(image, nudged)
    assert not im.same_grid(image, ct_volume(origin=(-10.0 + 0.01, 20.0, -300.0)))
    assert not im.same_grid(image, ct_volume(spacing=(0.8, 0.9, 2.6)))
    assert not im.same_grid(image, ct_volume(size=(12, 10, 7)))
    flipped = (-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
    assert not im.same_grid(image, ct_volume(direction=flipped))
    assert im.same_grid(im.ImageHeader.from_image(image), nudged, atol=1e-3)


def test_physical_extent_axis_aligned_covers_voxel_edges():
    image = ct_volume(size=(10, 4, 2), spacing=(2.0, 3.0, 5.0), origin=(1.0, 2.0, 3.0))
    lo, hi = im.physical_extent(image)
    # voxel centres at origin + i * spacing; the field of view reaches half a voxel beyond
    np.testing.assert_allclose(lo, [0.0, 0.5, 0.5])
    np.testing.assert_allclose(hi, [20.0, 12.5, 10.5])
    assert im.physical_corners(image).shape == (8, 3)


def test_physical_extent_honours_oblique_direction():
    angle = math.radians(30)
    c, s = math.cos(angle), math.sin(angle)
    direction = (c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0)  # rotation about z
    image = ct_volume(size=(10, 6, 3), spacing=(1.0, 2.0, 4.0), origin=(5.0, -5.0, 0.0), direction=direction)
    corners = im.physical_corners(image)
    # expected from the definition: x = origin + D @ (spacing * continuous index)
    rotation = np.asarray(direction).reshape(3, 3)
    expected = [
        np.asarray(image.GetOrigin()) + rotation @ (np.asarray(image.GetSpacing()) * np.asarray(index))
        for index in np.array(np.meshgrid([-0.5, 9.5], [-0.5, 5.5], [-0.5, 2.5], indexing="ij")).reshape(3, -1).T
    ]
    np.testing.assert_allclose(corners.min(axis=0), np.min(expected, axis=0), atol=1e-9)
    np.testing.assert_allclose(corners.max(axis=0), np.max(expected, axis=0), atol=1e-9)
    lo, hi = im.physical_extent(image)
    # the rotated box is wider in x than the unrotated 10 mm
    assert hi[0] - lo[0] == pytest.approx(10 * c + 12 * s)


def test_label_extent_and_overlap():
    roi = sitk.Image([10, 10, 5], sitk.sitkUInt8)
    roi.SetSpacing((2.0, 2.0, 3.0))
    assert im.label_index_box(roi) is None and im.label_extent(roi) is None
    roi[3, 4, 1] = 1
    roi[5, 7, 2] = 2
    assert im.label_index_box(roi) == ((3, 4, 1), (5, 7, 2))
    lo, hi = im.label_extent(roi)
    np.testing.assert_allclose(lo, [5.0, 7.0, 1.5])
    np.testing.assert_allclose(hi, [11.0, 15.0, 7.5])
    assert im.extents_overlap((lo, hi), ((10.0, 14.0, 7.0), (40.0, 40.0, 40.0)))
    assert not im.extents_overlap((lo, hi), ((12.0, 0.0, 0.0), (40.0, 40.0, 40.0)))
    assert "[5.0, 7.0, 1.5] to [11.0, 15.0, 7.5] mm" == im.format_extent((lo, hi))


@pytest.fixture
def sts_dir():
    if not STS.is_dir():
        pytest.skip(f"{STS} is absent (real PET/CT cases live in ../shared)")
    return STS


@pytest.mark.parametrize("case", ["STS_001", "STS_002", "STS_003"])
def test_real_sts_masks_sit_on_their_grids(sts_dir, case):
    ct = im.read_image_header(sts_dir / case / "CT" / "image.nii.gz")
    pet = im.read_image_header(sts_dir / case / "PET" / "image.nii.gz")
    ct_mask = im.read_image(sts_dir / case / "CT" / "mask.nii.gz")
    pet_mask = im.read_image(sts_dir / case / "PET" / "mask.nii.gz")
    assert im.same_grid(ct_mask, ct) and im.same_grid(pet_mask, pet)
    assert not im.same_grid(ct, pet)  # PET on its own, coarser grid
    assert pet.spacing[0] > 4 * ct.spacing[0]
    # the tumour lies in both fields of view, and the two masks outline the same place
    ct_tumour, pet_tumour = im.label_extent(ct_mask), im.label_extent(pet_mask)
    for tumour in (ct_tumour, pet_tumour):
        assert im.extents_overlap(tumour, im.physical_extent(ct))
        assert im.extents_overlap(tumour, im.physical_extent(pet))
    assert im.extents_overlap(ct_tumour, pet_tumour)


@pytest.mark.parametrize("suffix", im.IMAGE_SUFFIXES)
@pytest.mark.parametrize("compress", [False, True])
def test_voxel_data_is_measured_against_the_header(tmp_path, suffix, compress):
    """A complete file of every format passes; one whose voxel data (in the file itself,
    or in the .raw file a detached header names) is cut short is refused, naming it."""
    path = tmp_path / f"ct{suffix}"
    sitk.WriteImage(ct_volume(), str(path), useCompression=compress)
    im.check_voxel_data(path)
    assert_same_image(im.read_image(path), ct_volume())
    data = next((p for p in tmp_path.iterdir() if p != path), path)  # a detached header's data file
    whole = data.read_bytes()
    data.write_bytes(whole[: len(whole) - 40])
    with pytest.raises(InputError, match=r"image data is truncated: its header declares \d+ bytes") as info:
        im.read_image(path)
    assert info.value.file == str(data)


def test_gzip_trailer_that_disagrees_is_checked_by_decompressing(tmp_path):
    """Extra bytes after the gzip stream hide its trailer: the whole stream is then counted."""
    path = tmp_path / "ct.nii.gz"
    sitk.WriteImage(ct_volume(), str(path))
    path.write_bytes(path.read_bytes() + b"\0" * 8)
    im.check_voxel_data(path)


def test_fifo_is_not_read(tmp_path):
    import os

    fifo = tmp_path / "ct.nii"
    os.mkfifo(fifo)
    for read in (im.read_image, im.read_image_header):
        with pytest.raises(InputError, match="not a regular file or a DICOM folder"):
            read(fifo)
