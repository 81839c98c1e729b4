"""Tumour contours from clinical DICOM: an RTSTRUCT or a DICOM-SEG, as a label on the CT grid.

:func:`read_rtstruct_roi` and :func:`read_seg_roi` pick one structure (or segment) by a
name pattern from the configuration (:func:`matching_structure`), check that it belongs to
the CT (same frame of reference, the CT's series referenced, nothing outside the CT volume)
and return it as a uint8 label image with the CT's size, origin, spacing and direction.
Each refusal is one :class:`~survsig.core.errors.InputError` line naming the file.

Libraries, and why:

- DICOM-SEG is read by highdicom (``highdicom.seg.segread`` and ``get_volume``): maintained
  by the DICOM standard's imaging community, it decodes binary and fractional, sparse and
  compressed segmentations and places each frame by its plane position.
- RTSTRUCT polygons are parsed with pydicom and filled, slice by slice, by scikit-image's
  ``skimage.draw.polygon2mask`` (a voxel is in when its centre is inside the polygon; a
  contour inside another is a hole, by even-odd filling, as RTSTRUCT exporters write
  holes). rt-utils, the RTSTRUCT library of the field, was tried and not taken: it needs
  ``opencv-python`` by name (libGL at import), its mask has the CT's rows and columns
  swapped for non-square slices, and it fills polygons with their boundary pixels after
  rounding the vertices, which grew the real tumours' volumes by 3-6 %. platipy pins
  pydicom < 3 and pydicom-seg numpy < 2, which this project's pins exclude.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from survsig.core.errors import InputError
from survsig.core.images import format_extent, label_index_box, physical_corners, physical_extent, read_image

#: How far (mm) a contour point or segment voxel may lie beyond the CT's outer voxel faces:
#: coordinates are written as decimal strings, so a contour on the boundary may round out.
OUTSIDE_TOLERANCE_MM = 0.01
#: Contour types that enclose an area; points and open lines mark, they do not delineate.
CLOSED_CONTOURS = ("CLOSED_PLANAR",)


def matching_structure(names, pattern, *, file) -> str:
    """The one name of ``names`` that ``pattern`` matches in full, ignoring case.

    Parameters
    ----------
    names : sequence of str
        Structure (ROI) or segment names as stored in the file.
    pattern : str
        Regular expression from the configuration (``GTV``, ``rGTV.*``).
    file : str or path
        The file holding the structures, for the message.

    Returns
    -------
    str
        The matching name.

    Raises
    ------
    InputError
        When the pattern is not a regular expression, or no name or more than one matches;
        the message lists the names found.
    """
    try:
        regex = re.compile(pattern, flags=re.IGNORECASE)
    except re.error as err:
        raise InputError(f"structure pattern '{pattern}' is not a regular expression: {err}", file=file) from None
    found = ", ".join(f"'{name}'" for name in names) or "none"
    matches = [name for name in names if regex.fullmatch(name)]
    if not matches:
        raise InputError(f"no structure matches '{pattern}'; structures found: {found}", file=file)
    if len(matches) > 1:
        raise InputError(
            f"{len(matches)} structures match '{pattern}'; make it match one; structures found: {found}", file=file
        )
    return matches[0]


# ----------------------------------------------------------------------------- the CT


def _ct_series(ct_series_dir):
    """The CT volume and the header of one of its files (for its UIDs)."""
    import pydicom

    ct = read_image(ct_series_dir)  # refuses a folder without exactly one series
    first = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(ct_series_dir))[0]
    header = pydicom.dcmread(first, stop_before_pixels=True)
    return ct, header


def _read_dataset(path, what):
    """A DICOM file's dataset, or one line saying the file is not one."""
    import pydicom

    try:
        return pydicom.dcmread(path)
    except OSError as err:
        raise InputError(f"cannot read {what}: {err.strerror}", file=path) from None
    except pydicom.errors.InvalidDicomError:
        raise InputError(f"cannot read {what}: not a DICOM file", file=path) from None


def _check_frame_of_reference(uid, ct_header, *, what, file):
    if uid != ct_header.FrameOfReferenceUID:
        raise InputError(
            f"{what} is in frame of reference {uid}, the CT in {ct_header.FrameOfReferenceUID}; "
            "it was drawn on another scan",
            file=file,
        )


def _check_series(referenced, ct_header, *, what, file):
    """Refuse when the file lists the series it was drawn on and the CT is not one of them."""
    # the references are optional in both IODs: a file without them is judged by its frame
    if referenced and ct_header.SeriesInstanceUID not in referenced:
        raise InputError(
            f"{what} references series {', '.join(sorted(referenced))}, not the CT series "
            f"{ct_header.SeriesInstanceUID}",
            file=file,
        )


def _outside_mm(points, ct) -> float:
    """How far (mm) the farthest of ``points`` (n x 3, mm) lies outside the CT's voxels."""
    indices = _continuous_indices(points, ct)
    size = np.asarray(ct.GetSize(), float)
    beyond = np.maximum(-0.5 - indices, 0.0) + np.maximum(indices - (size - 0.5), 0.0)
    return float(np.max(np.linalg.norm(beyond * np.asarray(ct.GetSpacing()), axis=1), initial=0.0))


def _continuous_indices(points, ct) -> np.ndarray:
    """Continuous voxel indices (x, y, z) of physical points (n x 3, mm) on the CT grid."""
    matrix = np.asarray(ct.GetDirection()).reshape(3, 3) * np.asarray(ct.GetSpacing())
    return np.linalg.solve(matrix, (np.asarray(points, float) - np.asarray(ct.GetOrigin())).T).T


def _check_inside(points, ct, *, what, file):
    outside = _outside_mm(points, ct)
    if outside > OUTSIDE_TOLERANCE_MM:
        extent = format_extent(physical_extent(ct))
        raise InputError(f"{what} lies up to {outside:.1f} mm outside the CT volume ({extent})", file=file)


def _label_on(ct, array) -> sitk.Image:
    label = sitk.GetImageFromArray(np.asarray(array, dtype=np.uint8))
    label.CopyInformation(ct)
    return label


# ----------------------------------------------------------------------------- RTSTRUCT


def read_rtstruct_roi(rtstruct_file, ct_series_dir, *, pattern) -> sitk.Image:
    """One structure of an RTSTRUCT, filled on the grid of the CT it was drawn on.

    Parameters
    ----------
    rtstruct_file : str or path
        The RT Structure Set file.
    ct_series_dir : str or path
        Folder holding the CT series (one series).
    pattern : str
        Regular expression that the structure's name matches in full, ignoring case.

    Returns
    -------
    SimpleITK.Image
        uint8 label (1 inside, 0 outside) with the CT's size, origin, spacing and direction.

    Raises
    ------
    InputError
        When the file is not an RTSTRUCT, no structure or several match ``pattern``, the
        structure is in another frame of reference than the CT, the file references other
        series than the CT's, the structure has no closed contour, or a contour point lies
        outside the CT volume.
    """
    rtstruct_file = Path(rtstruct_file)
    ct, ct_header = _ct_series(ct_series_dir)
    ds = _read_dataset(rtstruct_file, "RTSTRUCT")
    if getattr(ds, "Modality", None) != "RTSTRUCT" or "StructureSetROISequence" not in ds:
        raise InputError(f"not an RTSTRUCT (modality {getattr(ds, 'Modality', 'missing')})", file=rtstruct_file)
    rois = {roi.ROIName: roi for roi in ds.StructureSetROISequence}
    name = matching_structure([roi.ROIName for roi in ds.StructureSetROISequence], pattern, file=rtstruct_file)
    what = f"structure '{name}'"
    _check_frame_of_reference(rois[name].ReferencedFrameOfReferenceUID, ct_header, what=what, file=rtstruct_file)
    _check_series(_rtstruct_series(ds), ct_header, what="the structure set", file=rtstruct_file)
    polygons = _closed_contours(ds, rois[name].ROINumber)
    if not polygons:
        raise InputError(f"{what} has no closed contour", file=rtstruct_file)
    _check_inside(np.concatenate(polygons), ct, what=what, file=rtstruct_file)
    return _label_on(ct, _fill(polygons, ct))


def _rtstruct_series(ds) -> set:
    """Series UIDs in Referenced Frame of Reference > RT Referenced Study > Series."""
    return {
        series.SeriesInstanceUID
        for frame in ds.get("ReferencedFrameOfReferenceSequence", [])
        for study in frame.get("RTReferencedStudySequence", [])
        for series in study.get("RTReferencedSeriesSequence", [])
    }


def _closed_contours(ds, roi_number) -> list:
    """The closed contours of ROI ``roi_number``: one (n x 3, mm) array each."""
    polygons = []
    for item in ds.get("ROIContourSequence", []):
        if item.ReferencedROINumber != roi_number:
            continue
        for contour in item.get("ContourSequence", []):
            if contour.get("ContourGeometricType", "").upper() in CLOSED_CONTOURS and contour.get("ContourData"):
                polygons.append(np.asarray(contour.ContourData, float).reshape(-1, 3))
    return polygons


def _fill(polygons, ct) -> np.ndarray:
    """Fill each polygon on the CT slice it lies in; overlaps toggle (a contour in a contour is a hole)."""
    from skimage.draw import polygon2mask

    size = ct.GetSize()
    array = np.zeros(size[::-1], dtype=bool)
    for points in polygons:
        indices = _continuous_indices(points, ct)
        # a contour is drawn on a CT plane; its mean z absorbs rounding of the points
        k = int(np.clip(np.rint(indices[:, 2].mean()), 0, size[2] - 1))
        array[k] ^= polygon2mask((size[1], size[0]), indices[:, [1, 0]])
    return array


# ----------------------------------------------------------------------------- DICOM-SEG


def read_seg_roi(seg_file, ct_series_dir, *, pattern) -> sitk.Image:
    """One segment of a DICOM-SEG, on the grid of the CT it was drawn on.

    Parameters
    ----------
    seg_file : str or path
        The DICOM Segmentation file.
    ct_series_dir : str or path
        Folder holding the CT series (one series).
    pattern : str
        Regular expression that the segment's label matches in full, ignoring case.

    Returns
    -------
    SimpleITK.Image
        uint8 label (1 inside, 0 outside) with the CT's size, origin, spacing and direction;
        a fractional segment counts from one half.

    Raises
    ------
    InputError
        When the file is not a DICOM-SEG, no segment or several match ``pattern``, the
        segmentation is in another frame of reference than the CT, it references other
        series than the CT's, or a labelled voxel lies outside the CT volume.
    """
    import highdicom

    seg_file = Path(seg_file)
    ct, ct_header = _ct_series(ct_series_dir)
    ds = _read_dataset(seg_file, "DICOM-SEG")
    if getattr(ds, "Modality", None) != "SEG":
        raise InputError(f"not a DICOM-SEG (modality {getattr(ds, 'Modality', 'missing')})", file=seg_file)
    try:
        seg = highdicom.seg.Segmentation.from_dataset(ds, copy=False)
    except (ValueError, AttributeError, TypeError) as err:
        raise InputError(f"cannot read DICOM-SEG: {err}", file=seg_file) from None
    labels = {item.SegmentLabel: item.SegmentNumber for item in seg.SegmentSequence}
    name = matching_structure([item.SegmentLabel for item in seg.SegmentSequence], pattern, file=seg_file)
    _check_frame_of_reference(seg.FrameOfReferenceUID, ct_header, what="the segmentation", file=seg_file)
    referenced = {series.SeriesInstanceUID for series in seg.get("ReferencedSeriesSequence", [])}
    _check_series(referenced, ct_header, what="the segmentation", file=seg_file)
    segment = _segment_image(seg, labels[name])
    _check_inside(_labelled_corners(segment), ct, what=f"segment '{name}'", file=seg_file)
    # on the CT grid already, this only copies; a SEG on its own grid is sampled at CT voxels
    return sitk.Resample(segment, ct, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)


def _segment_image(seg, number) -> sitk.Image:
    """Segment ``number`` as a SimpleITK image on the segmentation's own grid."""
    volume = seg.get_volume(segment_numbers=[number], combine_segments=True, rescale_fractional=True)
    # highdicom's axes are (slice, row, column), SimpleITK's (x = column, y = row, z = slice)
    image = sitk.GetImageFromArray((np.asarray(volume.array) >= 0.5).astype(np.uint8))
    image.SetSpacing([float(s) for s in volume.spacing[::-1]])
    image.SetOrigin([float(p) for p in volume.position])
    image.SetDirection([float(d) for d in np.asarray(volume.direction)[:, ::-1].ravel()])
    return image


def _labelled_corners(segment) -> np.ndarray:
    """Physical corners of the labelled voxels' box (their outer faces); none when empty."""
    box = label_index_box(segment)
    return np.zeros((0, 3)) if box is None else physical_corners(segment, *box)
