"""Per-patient preprocessing: CT, PET and ROI on one grid, then square ROI crops per slice.

1. CT, PET and ROI are resampled with SimpleITK onto one axis-aligned grid in physical
   space (configurable spacing; linear for images, nearest neighbour for the label). The
   grid covers only the ROI's neighbourhood, so a 512 x 512 x 150 CT costs no more than
   a small one.
2. CT is windowed to a HU range and PET (SUV) clipped at a maximum; both scaled to [0, 1].
3. For every axial slice holding ROI, a square box around the slice's ROI is cropped and
   resized to ``crop_size`` x ``crop_size``. The box either fits the ROI plus a margin
   (``box: roi``) or has a fixed physical side (``box: fixed``, enlarged when the ROI
   does not fit), which keeps tumour size visible to the network.

The result per patient is an array of slices x channels (CT, PET, ROI) x S x S.
"""

from __future__ import annotations

import functools
import logging

import numpy as np
import SimpleITK as sitk

from survsig.core.errors import InputError
from survsig.core.images import label_extent, physical_extent, read_image
from survsig.core.settings import PreprocessSettings
from survsig.imaging.slices import PatientSlices

log = logging.getLogger(__name__)


def roi_grid(roi: sitk.Image, spacing, pad_mm) -> sitk.Image:
    """An axis-aligned reference grid over the ROI's extent, padded in-plane by ``pad_mm``.

    Along z it spans the ROI's extent only: slices without ROI are never cropped.
    """
    extent = label_extent(roi)
    if extent is None:
        return None
    lo, hi = np.asarray(extent[0], float), np.asarray(extent[1], float)
    lo[:2] -= pad_mm
    hi[:2] += pad_mm
    spacing = np.asarray(spacing, float)
    size = np.maximum(1, np.ceil((hi - lo) / spacing).astype(int))
    reference = sitk.Image([int(s) for s in size], sitk.sitkUInt8)
    reference.SetSpacing([float(s) for s in spacing])
    # origin is the centre of the first voxel
    reference.SetOrigin([float(v) for v in lo + spacing / 2.0])
    return reference


def resample_onto(image: sitk.Image, reference: sitk.Image, *, label=False, default=0.0):
    """Resample ``image`` onto ``reference`` in physical space; returns a [z, y, x] array."""
    interpolator = sitk.sitkNearestNeighbor if label else sitk.sitkLinear
    pixel = sitk.sitkUInt8 if label else sitk.sitkFloat32
    if not label:
        image = sitk.Cast(image, sitk.sitkFloat32)
    resampled = sitk.Resample(image, reference, sitk.Transform(), interpolator, default, pixel)
    return sitk.GetArrayFromImage(resampled)


def square_box(mask2d: np.ndarray, *, min_side: int, margin: int):
    """Square box ``(y0, x0, side)`` in pixels around a 2-D mask's bounding box.

    The side is the larger of ``min_side`` and the mask's larger extent plus
    ``2 * margin``; the box is centred on the bounding box's centre.
    """
    ys, xs = np.nonzero(mask2d)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    side = int(max(min_side, max(y1 - y0, x1 - x0) + 2 * margin))
    cy, cx = (y0 + y1) / 2.0, (x0 + x1) / 2.0
    return int(round(cy - side / 2.0)), int(round(cx - side / 2.0)), side


def crop_square(plane: np.ndarray, y0: int, x0: int, side: int, fill: float) -> np.ndarray:
    """Crop ``plane[y0:y0+side, x0:x0+side]``, padding with ``fill`` outside the plane."""
    out = np.full((side, side), fill, dtype=np.float32)
    ys = slice(max(y0, 0), min(y0 + side, plane.shape[0]))
    xs = slice(max(x0, 0), min(x0 + side, plane.shape[1]))
    out[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0] = plane[ys, xs]
    return out


@functools.lru_cache(maxsize=16)
def resize_matrix(n: int, size: int) -> np.ndarray:
    """(size, n) matrix ``M`` such that ``M @ plane @ M.T`` resizes an n x n plane.

    Linear interpolation with pixel areas aligned (output pixel i samples input position
    (i + 0.5) * n / size - 0.5, edges repeated); when shrinking, preceded by a Gaussian
    pre-filter (sigma = half the shrink factor, truncated at 4 sigma, edges repeated)
    that stops aliasing. Equals ``scipy.ndimage.gaussian_filter`` then ``zoom(order=1,
    mode="nearest", grid_mode=True)``; as one matrix it needs no scipy import, which
    keeps the per-patient jobs quick to start, and resizes all planes in one product.
    """
    factor = n / size
    rows = np.arange(size)
    coords = np.clip((rows + 0.5) * factor - 0.5, 0, n - 1)
    lo = np.floor(coords).astype(int)
    weight = coords - lo
    matrix = np.zeros((size, n))
    np.add.at(matrix, (rows, lo), 1.0 - weight)
    np.add.at(matrix, (rows, np.minimum(lo + 1, n - 1)), weight)
    if factor > 1.0:
        sigma = 0.5 * factor
        offsets = np.arange(-int(4.0 * sigma + 0.5), int(4.0 * sigma + 0.5) + 1)
        kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
        kernel /= kernel.sum()
        smooth = np.zeros((n, n))
        columns = np.arange(n)
        for k, offset in zip(kernel, offsets):
            np.add.at(smooth, (columns, np.clip(columns + offset, 0, n - 1)), k)
        matrix = matrix @ smooth
    return matrix


def resize_square(planes: np.ndarray, size: int) -> np.ndarray:
    """Resize square planes (..., n, n) to (..., size, size), clipped to [0, 1]."""
    matrix = resize_matrix(planes.shape[-1], size)
    return np.clip(matrix @ planes @ matrix.T, 0.0, 1.0).astype(np.float32)


def crop_roi_slices(ct, pet, roi, settings: PreprocessSettings, spacing_xy):
    """Square crops of every ROI-holding slice, resized to S x S.

    Parameters
    ----------
    ct, pet : numpy.ndarray
        [z, y, x] arrays already scaled to [0, 1].
    roi : numpy.ndarray
        [z, y, x] label array (nonzero = ROI).
    spacing_xy : (float, float)
        In-plane pixel spacing of the arrays (mm).

    Returns
    -------
    slices : numpy.ndarray
        float32 (n, 3, S, S).
    index : numpy.ndarray
        z index of each slice.
    boxes : numpy.ndarray
        (n, 4): x0, y0, side in pixels, ROI area in pixels.
    """
    pixel = float(min(spacing_xy))
    margin = int(round(settings.margin_mm / pixel))
    min_side = int(round(settings.box_mm / pixel)) if settings.box == "fixed" else 1
    size = settings.crop_size
    slices, index, boxes = [], [], []
    for z in range(roi.shape[0]):
        mask = roi[z] > 0
        if not mask.any():
            continue
        y0, x0, side = square_box(mask, min_side=min_side, margin=margin)
        planes = np.stack(
            [
                crop_square(ct[z], y0, x0, side, 0.0),
                crop_square(pet[z], y0, x0, side, 0.0),
                crop_square(mask.astype(np.float32), y0, x0, side, 0.0),
            ]
        )
        slices.append(resize_square(planes, size))
        index.append(z)
        boxes.append((x0, y0, side, int(mask.sum())))
    if not slices:
        return np.zeros((0, 3, size, size), np.float32), np.zeros(0, int), np.zeros((0, 4))
    return np.stack(slices), np.asarray(index), np.asarray(boxes, float)


def preprocess_patient(patient_id, ct_path, pet_path, roi_path, settings: PreprocessSettings) -> PatientSlices:
    """Read one patient's CT, PET and ROI and return its preprocessed slices.

    Raises
    ------
    InputError
        When an image cannot be read or is cut short, the ROI is empty, extends outside
        the PET field of view, or no axial slice of the common grid holds ROI (naming
        the file, the patient and the image column).
    """
    images = {}
    for column, path in (("ct", ct_path), ("pet", pet_path), ("roi", roi_path)):
        try:
            images[column] = read_image(path)
        except InputError as err:  # the job is the patient's: say whose image it is
            raise InputError(err.reason, file=path, patient=patient_id, column=column) from None
    ct, pet, roi = images["ct"], images["pet"], images["roi"]
    extent = label_extent(roi)
    if extent is None:
        raise InputError("ROI is empty (no nonzero voxel)", file=roi_path, patient=patient_id, column="roi")
    pet_lo, pet_hi = physical_extent(pet)
    tolerance = 1e-3
    if np.any(extent[0] < pet_lo - tolerance) or np.any(extent[1] > pet_hi + tolerance):
        raise InputError(
            "ROI extends outside the PET field of view "
            f"(ROI {np.round(extent[0], 1).tolist()} to {np.round(extent[1], 1).tolist()} mm, "
            f"PET {np.round(pet_lo, 1).tolist()} to {np.round(pet_hi, 1).tolist()} mm)",
            file=roi_path,
            patient=patient_id,
            column="roi",
        )
    pad = max(settings.box_mm if settings.box == "fixed" else 0.0, settings.margin_mm) + 2 * max(settings.spacing)
    reference = roi_grid(roi, settings.spacing, pad)
    lo_hu, hi_hu = settings.ct_window
    ct_array = resample_onto(ct, reference, default=-1024.0)
    ct_array = np.clip((ct_array - lo_hu) / (hi_hu - lo_hu), 0.0, 1.0)
    pet_array = np.clip(resample_onto(pet, reference) / settings.pet_max_suv, 0.0, 1.0)
    roi_array = resample_onto(roi, reference, label=True)
    slices, index, boxes = crop_roi_slices(ct_array, pet_array, roi_array, settings, reference.GetSpacing()[:2])
    if len(slices) == 0:
        raise InputError(
            f"no axial slice of the {settings.spacing[2]:g} mm grid holds ROI (ROI thinner than a slice?)",
            file=roi_path,
            patient=patient_id,
            column="roi",
        )
    origin, spacing = np.asarray(reference.GetOrigin()), np.asarray(reference.GetSpacing())
    z_mm = origin[2] + spacing[2] * index
    boxes_mm = np.column_stack(
        [
            origin[0] + spacing[0] * (boxes[:, 0] - 0.5),
            origin[1] + spacing[1] * (boxes[:, 1] - 0.5),
            boxes[:, 2] * spacing[0],
            boxes[:, 3] * spacing[0] * spacing[1],
        ]
    )
    return PatientSlices(str(patient_id), slices.astype(np.float16), z_mm, boxes_mm)
