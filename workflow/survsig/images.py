"""Medical image I/O and geometry in physical space, with SimpleITK.

Images are read from NIfTI (``.nii``, ``.nii.gz``), NRRD (``.nrrd``, ``.nhdr``),
MetaImage (``.mha``, ``.mhd``) files or a folder holding one DICOM series. Geometry
(grids, fields of view, ROI boxes) is compared in physical space (mm), so spacing,
origin and oblique direction cosines are honoured rather than voxel indices.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .errors import InputError

#: File suffixes read by :func:`read_image` (a folder is read as a DICOM series).
IMAGE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")


@dataclass(frozen=True)
class ImageHeader:
    """Geometry and pixel type of an image, without its voxels.

    Attributes
    ----------
    size : tuple of int
        Voxels along each image axis (x, y, z).
    spacing : tuple of float
        Voxel spacing along each image axis, in mm.
    origin : tuple of float
        Physical position of the centre of voxel (0, 0, 0), in mm.
    direction : tuple of float
        Direction cosines, row-major ``dimension x dimension`` matrix.
    pixel_type : str
        SimpleITK pixel type, e.g. ``"16-bit signed integer"``.
    components : int
        Components per voxel (1 for a scalar image).
    """

    size: tuple
    spacing: tuple
    origin: tuple
    direction: tuple
    pixel_type: str
    components: int = 1

    @property
    def dimension(self) -> int:
        """Number of image axes."""
        return len(self.size)

    @classmethod
    def from_image(cls, image: sitk.Image) -> ImageHeader:
        """Header of a loaded :class:`SimpleITK.Image`."""
        return cls(
            size=tuple(image.GetSize()),
            spacing=tuple(image.GetSpacing()),
            origin=tuple(image.GetOrigin()),
            direction=tuple(image.GetDirection()),
            pixel_type=image.GetPixelIDTypeAsString(),
            components=image.GetNumberOfComponentsPerPixel(),
        )

    def geometry_image(self) -> sitk.Image:
        """A one-voxel image with this header's spacing, origin and direction.

        SimpleITK's index-to-physical transforms work for any continuous index, so this
        proxy maps indices of the full grid without holding its voxels.
        """
        proxy = sitk.Image([1] * self.dimension, sitk.sitkUInt8)
        proxy.SetSpacing(self.spacing)
        proxy.SetOrigin(self.origin)
        proxy.SetDirection(self.direction)
        return proxy

    def describe(self) -> str:
        """Short human-readable grid description for error messages."""
        return f"size {_fmt(self.size)}, spacing {_fmt(self.spacing)} mm, origin {_fmt(self.origin)} mm"


def _fmt(values) -> str:
    return "(" + ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in values) + ")"


def _sitk_reason(err: Exception) -> str:
    """The informative last line of a SimpleITK/ITK exception, without its prefix."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    return re.sub(r"^(sitk|itk)::ERROR:\s*(\w+\(0x[0-9a-fA-F]+\):\s*)?", "", lines[-1])


def _dicom_series_files(folder: Path) -> list[str]:
    """File names of the single DICOM series in ``folder``, sorted by slice position."""
    series_ids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    if not series_ids:
        raise InputError("folder holds no DICOM series", file=folder)
    if len(series_ids) > 1:
        # CT and PET in one folder would be ambiguous; ask for one series per folder
        raise InputError(
            f"folder holds {len(series_ids)} DICOM series ({', '.join(series_ids)}); "
            "give one series per folder",
            file=folder,
        )
    return list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series_ids[0]))


def _check_path(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError("image file not found", file=path)
    return path


def read_image(path) -> sitk.Image:
    """Read a medical image with its physical geometry.

    Parameters
    ----------
    path : str or path
        A NIfTI, NRRD or MetaImage file, or a folder holding one DICOM series.

    Returns
    -------
    SimpleITK.Image
        The image, with spacing, origin and direction as stored.

    Raises
    ------
    InputError
        When the path is missing, is not a readable image, or a folder does not hold
        exactly one DICOM series; the message names the file.
    """
    path = _check_path(path)
    try:
        if path.is_dir():
            reader = sitk.ImageSeriesReader()
            reader.SetFileNames(_dicom_series_files(path))
            return reader.Execute()
        return sitk.ReadImage(str(path))
    except RuntimeError as err:
        raise InputError(f"cannot read image: {_sitk_reason(err)}", file=path) from None


def read_image_header(path) -> ImageHeader:
    """Read size, spacing, origin, direction and pixel type of an image.

    Files are read header-only (``ImageFileReader.ReadImageInformation``); a DICOM
    series folder is read fully because its geometry comes from all slices.

    Parameters
    ----------
    path : str or path
        As for :func:`read_image`.

    Returns
    -------
    ImageHeader

    Raises
    ------
    InputError
        As for :func:`read_image`.
    """
    path = _check_path(path)
    if path.is_dir():
        return ImageHeader.from_image(read_image(path))
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as err:
        raise InputError(f"cannot read image: {_sitk_reason(err)}", file=path) from None
    return ImageHeader(
        size=tuple(reader.GetSize()),
        spacing=tuple(reader.GetSpacing()),
        origin=tuple(reader.GetOrigin()),
        direction=tuple(reader.GetDirection()),
        pixel_type=sitk.GetPixelIDValueAsString(reader.GetPixelID()),
        components=reader.GetNumberOfComponents(),
    )


def _header(image) -> ImageHeader:
    return image if isinstance(image, ImageHeader) else ImageHeader.from_image(image)


def same_grid(a, b, *, atol=1e-3) -> bool:
    """Whether two images share one voxel grid.

    Parameters
    ----------
    a, b : SimpleITK.Image or ImageHeader
    atol : float
        Absolute tolerance on spacing and origin (mm) and direction cosines; headers
        written by different tools differ by float rounding.

    Returns
    -------
    bool
        True when size matches exactly and spacing, origin and direction within ``atol``.
    """
    a, b = _header(a), _header(b)
    if a.size != b.size:
        return False
    return all(
        np.allclose(x, y, rtol=0.0, atol=atol)
        for x, y in ((a.spacing, b.spacing), (a.origin, b.origin), (a.direction, b.direction))
    )


def physical_corners(image, index_min=None, index_max=None) -> np.ndarray:
    """Physical positions of the corners of a box of voxels.

    The box runs from the outer face of voxel ``index_min`` to the outer face of voxel
    ``index_max`` (continuous indices ``min - 0.5`` and ``max + 0.5``), so a one-voxel
    box has that voxel's full physical size.

    Parameters
    ----------
    image : SimpleITK.Image or ImageHeader
    index_min, index_max : sequence of int, optional
        First and last voxel of the box; default the whole image.

    Returns
    -------
    numpy.ndarray
        ``(2**dimension, dimension)`` corner coordinates in mm.
    """
    header = _header(image)
    lo = np.zeros(header.dimension) if index_min is None else np.asarray(index_min, float)
    hi = np.asarray(header.size, float) - 1 if index_max is None else np.asarray(index_max, float)
    proxy = header.geometry_image()
    corners = [
        proxy.TransformContinuousIndexToPhysicalPoint([float(c) for c in corner])
        for corner in itertools.product(*zip(lo - 0.5, hi + 0.5))
    ]
    return np.asarray(corners, dtype=float)


def physical_extent(image, index_min=None, index_max=None) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned physical bounding box of an image's field of view (or a voxel box).

    Parameters
    ----------
    image : SimpleITK.Image or ImageHeader
    index_min, index_max : sequence of int, optional
        As for :func:`physical_corners`.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Lower and upper corners in mm. With oblique direction cosines this box encloses
        the rotated field of view.
    """
    corners = physical_corners(image, index_min, index_max)
    return corners.min(axis=0), corners.max(axis=0)


def label_index_box(label: sitk.Image):
    """Voxel index box of the nonzero voxels of a label image.

    Parameters
    ----------
    label : SimpleITK.Image
        Label (mask) image; any nonzero voxel counts as labelled.

    Returns
    -------
    (tuple of int, tuple of int) or None
        First and last labelled voxel index along each image axis (x, y, z order), or
        None when no voxel is labelled.
    """
    voxels = sitk.GetArrayViewFromImage(label)  # axes reversed: (z, y, x)
    if voxels.ndim > label.GetDimension():  # vector pixels: labelled if any component
        voxels = voxels.any(axis=-1)
    nonzero = voxels != 0
    if not nonzero.any():
        return None
    lo, hi = [], []
    for axis in range(nonzero.ndim):
        others = tuple(a for a in range(nonzero.ndim) if a != axis)
        hits = np.flatnonzero(nonzero.any(axis=others))
        lo.append(int(hits[0]))
        hi.append(int(hits[-1]))
    return tuple(reversed(lo)), tuple(reversed(hi))


def label_extent(label: sitk.Image):
    """Physical bounding box of the nonzero voxels of a label image.

    Parameters
    ----------
    label : SimpleITK.Image

    Returns
    -------
    (numpy.ndarray, numpy.ndarray) or None
        Lower and upper corners in mm, or None when no voxel is labelled.
    """
    box = label_index_box(label)
    if box is None:
        return None
    return physical_extent(label, *box)


def extents_overlap(a, b, *, atol=1e-3) -> bool:
    """Whether two axis-aligned physical boxes overlap (touching within ``atol`` counts).

    Parameters
    ----------
    a, b : (array-like, array-like)
        Lower and upper corners, as returned by :func:`physical_extent`.
    atol : float
        Tolerance in mm.

    Returns
    -------
    bool
    """
    (a_lo, a_hi), (b_lo, b_hi) = a, b
    return bool(np.all(np.asarray(a_lo) <= np.asarray(b_hi) + atol) and np.all(np.asarray(b_lo) <= np.asarray(a_hi) + atol))


def format_extent(extent) -> str:
    """Format a physical box as ``[x0, y0, z0] to [x1, y1, z1] mm`` for messages."""
    lo, hi = extent
    return f"[{', '.join(f'{v:.1f}' for v in lo)}] to [{', '.join(f'{v:.1f}' for v in hi)}] mm"
