"""Medical image I/O and geometry in physical space, with SimpleITK.

Images are read from NIfTI (``.nii``, ``.nii.gz``), NRRD (``.nrrd``, ``.nhdr``),
MetaImage (``.mha``, ``.mhd``) files or a folder holding one DICOM series. Geometry
(grids, fields of view, ROI boxes) is compared in physical space (mm), so spacing,
origin and oblique direction cosines are honoured rather than voxel indices.
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import locale
import math
import os
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from survsig.core.errors import InputError
from survsig.core.paths import checked_input_path

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


@contextlib.contextmanager
def locale_kept():
    """Keep the process's locale across GDCM's DICOM writer, which switches it to C: text
    opened later without an explicit encoding would otherwise be taken as ASCII."""
    saved = locale.setlocale(locale.LC_ALL)
    try:
        yield
    finally:
        locale.setlocale(locale.LC_ALL, saved)


def dicom_series_files(folder: Path) -> list[str]:
    """File names of the single DICOM series in ``folder``, sorted by slice position."""
    series_ids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    if not series_ids:
        raise InputError("folder holds no DICOM series", file=folder)
    if len(series_ids) > 1:
        # CT and PET in one folder would be ambiguous; ask for one series per folder
        raise InputError(
            f"folder holds {len(series_ids)} DICOM series ({', '.join(series_ids)}); give one series per folder",
            file=folder,
        )
    return list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series_ids[0]))


def _check_path(path) -> Path:
    """``path`` once it is an image file or a DICOM folder that may be read.

    A missing path keeps its own message ("image file not found"); anything else goes
    through :func:`~survsig.core.paths.checked_input_path`: a named pipe or a device
    would block or stream forever instead of holding an image.
    """
    if not os.path.lexists(path):
        raise InputError("image file not found", file=path)
    return checked_input_path(path, what="the image", kinds=("file", "dicom"))


# ----------------------------------------------------------------------------- voxel data
# ITK's NIfTI reader pads a short file with zeros, and NRRD's gzip reader fails only when
# the voxels are decoded; so each file's voxel data is measured against what its header
# declares before anything reads it.

#: Bytes per value of NRRD ``type`` names.
_NRRD_BYTES = {
    **dict.fromkeys(("signed char", "int8", "int8_t", "uchar", "unsigned char", "uint8", "uint8_t"), 1),
    **dict.fromkeys(
        (
            "short",
            "short int",
            "signed short",
            "signed short int",
            "int16",
            "int16_t",
            "ushort",
            "unsigned short",
            "unsigned short int",
            "uint16",
            "uint16_t",
        ),
        2,
    ),
    **dict.fromkeys(
        ("int", "signed int", "int32", "int32_t", "uint", "unsigned int", "uint32", "uint32_t", "float"), 4
    ),
    **dict.fromkeys(
        (
            "longlong",
            "long long",
            "long long int",
            "signed long long",
            "signed long long int",
            "int64",
            "int64_t",
            "ulonglong",
            "unsigned long long",
            "unsigned long long int",
            "uint64",
            "uint64_t",
            "double",
        ),
        8,
    ),
}
#: Bytes per value of MetaImage ``ElementType`` names.
_META_BYTES = {
    "MET_CHAR": 1,
    "MET_UCHAR": 1,
    "MET_SHORT": 2,
    "MET_USHORT": 2,
    "MET_INT": 4,
    "MET_UINT": 4,
    "MET_FLOAT": 4,
    "MET_LONG_LONG": 8,
    "MET_ULONG_LONG": 8,
    "MET_DOUBLE": 8,
}


def _truncated(path, declared, held) -> InputError:
    return InputError(
        f"image data is truncated: its header declares {declared} bytes of voxels, the file holds {held}",
        file=path,
    )


def _gzip_length(path, offset=0, *, at_least=0) -> int:
    """Uncompressed length of the gzip stream starting at ``offset`` of ``path``.

    The stream's trailer records that length (modulo 2**32); only when it disagrees with
    ``at_least`` is the whole stream decompressed to count it, so a complete file is
    checked in two small reads and a cut one fails however it was cut.
    """
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        end = handle.tell()
        if end - offset >= 18:  # a gzip member's header and trailer
            handle.seek(end - 4)
            if struct.unpack("<I", handle.read(4))[0] == at_least % 2**32:
                return at_least
        handle.seek(offset)
        count = 0
        try:
            with gzip.GzipFile(fileobj=handle) as stream:
                while chunk := stream.read(1 << 22):
                    count += len(chunk)
        except (EOFError, OSError, zlib.error):
            return count  # cut off mid-stream: what came before the cut
        return count


def _nifti_declared(head: bytes, path) -> int:
    """Bytes a single-file NIfTI-1 or NIfTI-2 holds up to the end of its voxels."""
    for endian in "<>":
        if len(head) >= 348 and struct.unpack(endian + "i", head[:4])[0] == 348:
            dim = struct.unpack(endian + "8h", head[40:56])
            bitpix = struct.unpack(endian + "h", head[72:74])[0]
            vox_offset = struct.unpack(endian + "f", head[108:112])[0]
            break
        if len(head) >= 540 and struct.unpack(endian + "i", head[:4])[0] == 540:
            bitpix = struct.unpack(endian + "h", head[14:16])[0]
            dim = struct.unpack(endian + "8q", head[16:80])
            vox_offset = struct.unpack(endian + "q", head[168:176])[0]
            break
    else:
        raise InputError("cannot read image: its header is neither NIfTI-1 nor NIfTI-2", file=path)
    if not 1 <= dim[0] <= 7 or min(dim[1 : 1 + dim[0]]) < 1 or bitpix < 1:
        raise InputError(
            f"cannot read image: NIfTI header declares dimensions {dim[1 : 1 + max(dim[0], 0)]} of {bitpix} bits",
            file=path,
        )
    return int(vox_offset) + math.prod(dim[1 : 1 + dim[0]]) * bitpix // 8


def _text_header(path, separator: str, last_key=None):
    """Fields of a NRRD (``key: value`` up to a blank line) or MetaImage (``Key = Value``
    up to ``last_key``) header, and the byte offset where the data begins."""
    fields = {}
    offset = 0
    with open(path, "rb") as handle:
        for raw in handle:
            offset += len(raw)
            line = raw.decode("latin-1").strip()
            if not line and last_key is None:
                break
            if line.startswith("#") or separator not in line:
                continue
            key, value = (part.strip() for part in line.split(separator, 1))
            fields[key.lower()] = value
            if last_key is not None and key.lower() == last_key:
                break
            if offset > 1 << 20:  # no header is a megabyte long: this is not one
                return {}, 0
    return fields, offset


def _data_file(path, name) -> Path | None:
    """A detached data file named in a header; None for lists and patterns (not checked)."""
    if not name or " " in name.strip() or name.upper().startswith("LIST") or "%" in name:
        return None
    data = Path(name)
    return data if data.is_absolute() else path.parent / data


def check_voxel_data(path) -> None:
    """Refuse an image file that holds fewer voxel bytes than its header declares.

    NIfTI (``.nii``, ``.nii.gz``), NRRD (``.nrrd``, ``.nhdr`` with raw or gzip data) and
    MetaImage (``.mha``, ``.mhd`` with raw data or ``CompressedDataSize``) are measured;
    other encodings and DICOM series are left to the reader.

    Raises
    ------
    InputError
        Naming the file: data cut short, or a header that cannot be the format's.
    """
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".nii.gz"):
        try:
            with gzip.open(path, "rb") as handle:
                head = handle.read(540)
        except EOFError:
            raise InputError("image data is truncated: the file ends inside its header", file=path) from None
        except (OSError, zlib.error) as err:
            raise InputError(f"cannot read image: not a gzip-compressed NIfTI file ({err})", file=path) from None
        declared = _nifti_declared(head, path)
        held = _gzip_length(path, at_least=declared)
    elif name.endswith(".nii"):
        with open(path, "rb") as handle:
            declared = _nifti_declared(handle.read(540), path)
        held = path.stat().st_size
    elif name.endswith((".nrrd", ".nhdr")):
        fields, offset = _text_header(path, ":")
        size = _NRRD_BYTES.get(fields.get("type", "").lower())
        encoding = fields.get("encoding", "").lower()
        if (
            size is None
            or "sizes" not in fields
            or encoding not in ("raw", "gzip", "gz")
            or ("byte skip" in fields or "line skip" in fields)
        ):
            return
        declared = math.prod(int(v) for v in fields["sizes"].split()) * size
        detached = fields.get("data file", fields.get("datafile"))
        if detached is not None:
            path, offset = _data_file(path, detached), 0
            if path is None:
                return
            _check_path(path)
        held = _gzip_length(path, offset, at_least=declared) if encoding != "raw" else path.stat().st_size - offset
    elif name.endswith((".mha", ".mhd")):
        fields, offset = _text_header(path, "=", last_key="elementdatafile")
        size = _META_BYTES.get(fields.get("elementtype", "").upper())
        if size is None or "dimsize" not in fields:
            return
        data_file = fields.get("elementdatafile", "LOCAL")
        if data_file.upper() != "LOCAL":
            path, offset = _data_file(path, data_file), 0
            if path is None:
                return
            _check_path(path)
        if fields.get("compresseddata", "false").lower() == "true":
            if "compresseddatasize" not in fields:
                return
            declared = int(fields["compresseddatasize"])
        else:
            channels = int(fields.get("elementnumberofchannels", "1"))
            declared = math.prod(int(v) for v in fields["dimsize"].split()) * size * channels
        held = path.stat().st_size - offset
    else:
        return
    if held < declared:
        raise _truncated(path, declared, held)


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
    if not path.is_dir():
        check_voxel_data(path)
    try:
        if path.is_dir():
            reader = sitk.ImageSeriesReader()
            reader.SetFileNames(dicom_series_files(path))
            return reader.Execute()
        return sitk.ReadImage(str(path))
    except RuntimeError as err:
        raise InputError(f"cannot read image: {_sitk_reason(err)}", file=path) from None


def read_image_header(path) -> ImageHeader:
    """Read size, spacing, origin, direction and pixel type of an image.

    Files are read header-only (``ImageFileReader.ReadImageInformation``), and their
    voxel data is measured against the header (:func:`check_voxel_data`); a DICOM
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
    check_voxel_data(path)
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
    return bool(
        np.all(np.asarray(a_lo) <= np.asarray(b_hi) + atol) and np.all(np.asarray(b_lo) <= np.asarray(a_hi) + atol)
    )


def format_extent(extent) -> str:
    """Format a physical box as ``[x0, y0, z0] to [x1, y1, z1] mm`` for messages."""
    lo, hi = extent
    return f"[{', '.join(f'{v:.1f}' for v in lo)}] to [{', '.join(f'{v:.1f}' for v in hi)}] mm"
