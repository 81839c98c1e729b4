"""The synthetic cohort's images: CT and PET phantoms of the head and neck, and the tumour ROI.

A patient's tumour takes its geometry from the latent traits (:func:`tumour_shape`):
its volume, a lobulated contour (shape irregularity) and a necrotic core, seen on CT
(:func:`render_ct`, which also gives the ROI); its uptake level and texture are seen on
PET (:func:`render_pet`, with a node lesion for N1-3, and the SUV measurements).
:func:`patient_geometry` draws a patient's CT and PET grids and lesions;
:func:`lesion_margins` checks, without rendering, that a geometry's fields of view hold
every lesion.

Arrays are [z, y, x], physical coordinates in mm. The images are written by
:mod:`survsig.cohort.image_files`; everything derives from the cohort's seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage

from survsig.cohort.patients import GROUND_TRUTH_COLUMNS, SyntheticSettings, sigmoid, simulate_patients
from survsig.core import columns as col


# --------------------------------------------------------------------------- images
@dataclass(frozen=True)
class Grid:
    """An axis-aligned image grid: size (x, y, z) voxels, spacing and origin in mm."""

    size: tuple
    spacing: tuple
    origin: tuple

    def axes(self, lo=(0, 0, 0), hi=None):
        """Physical coordinates (mm) of voxel centres along x, y, z for index range [lo, hi)."""
        hi = self.size if hi is None else hi
        return [self.origin[d] + self.spacing[d] * np.arange(lo[d], hi[d], dtype=float) for d in range(3)]

    def index_box(self, centre, half_width):
        """Index bounds [lo, hi) of the voxels within ``half_width`` mm of ``centre``."""
        lo, hi = [], []
        for d in range(3):
            a = int(np.floor((centre[d] - half_width - self.origin[d]) / self.spacing[d]))
            b = int(np.ceil((centre[d] + half_width - self.origin[d]) / self.spacing[d])) + 1
            lo.append(min(max(a, 0), self.size[d]))
            hi.append(min(max(b, 0), self.size[d]))
        return tuple(lo), tuple(hi)


@dataclass(frozen=True)
class TumourShape:
    """Geometry of one tumour in physical space (mm)."""

    centre: tuple
    semi_axes: tuple
    lobulation: float
    phases: tuple
    necrotic_fraction: float

    @property
    def extent(self):
        return max(self.semi_axes) * (1.0 + self.lobulation) + 1.0

    def radius(self, x, y, z):
        """Normalised radius: <= 1 inside the tumour, <= core radius inside necrosis."""
        dx = (x - self.centre[0]) / self.semi_axes[0]
        dy = (y - self.centre[1]) / self.semi_axes[1]
        dz = (z - self.centre[2]) / self.semi_axes[2]
        rho = np.sqrt(dx * dx + dy * dy + dz * dz)
        azimuth = np.arctan2(dy, dx)
        polar = np.arccos(np.clip(dz / np.maximum(rho, 1e-9), -1.0, 1.0))
        p1, p2, p3 = self.phases
        # low-order lobulation of the surface: irregular, non-spherical contour
        bumps = np.cos(3 * azimuth + p1) * np.sin(polar) ** 2 + 0.6 * np.cos(2 * polar + p2) * np.cos(2 * azimuth + p3)
        return rho / (1.0 + self.lobulation * bumps / 1.6)

    @property
    def core_radius(self):
        return self.necrotic_fraction ** (1.0 / 3.0)


def tumour_shape(rng, traits, volume_ml=12.0, volume_spread=0.7) -> TumourShape:
    """Tumour geometry from the latent traits of one patient.

    The volume (before lobulation) is ``volume_ml`` ml at the latent volume trait 0,
    and its log changes by ``volume_spread`` per SD of the trait.
    """
    volume_mm3 = 1000.0 * np.exp(np.log(volume_ml) + volume_spread * traits["tumor_volume"])
    radius = (3.0 * volume_mm3 / (4.0 * np.pi)) ** (1.0 / 3.0)
    stretch = np.exp(rng.uniform(-0.15, 0.15, size=3))
    stretch /= np.cbrt(stretch.prod())
    centre = (rng.normal(0.0, 4.0), rng.normal(-12.0, 4.0), rng.normal(0.0, 5.0))
    return TumourShape(
        centre=tuple(float(c) for c in centre),
        semi_axes=tuple(float(radius * s) for s in stretch),
        lobulation=float(0.05 + 0.35 * sigmoid(1.6 * traits["shape_irregularity"])),
        phases=tuple(float(p) for p in rng.uniform(0, 2 * np.pi, size=3)),
        necrotic_fraction=float(0.32 * sigmoid(1.8 * traits["necrotic_core"] - 0.8)),
    )


def _body_masks(x, y):
    """Axial head-and-neck anatomy (2-D, broadcast over z): body, fat, airway, bones."""
    xx, yy = np.meshgrid(x, y, indexing="xy")  # arrays are [y, x]
    body = (xx / 70.0) ** 2 + (yy / 62.0) ** 2 <= 1.0
    fat = body & ((xx / 64.0) ** 2 + (yy / 56.0) ** 2 > 1.0)
    airway = ((xx / 9.0) ** 2 + ((yy + 32.0) / 6.0) ** 2) <= 1.0
    vertebra = (xx**2 + (yy - 26.0) ** 2) <= 11.0**2
    canal = (xx**2 + (yy - 41.0) ** 2) <= 5.5**2
    mandible = (((np.abs(xx) - 46.0) / 6.0) ** 2 + ((yy + 14.0) / 15.0) ** 2) <= 1.0
    return body, fat, airway, vertebra, canal, mandible


def _occupancy(grid: Grid, radius_fn, lo, hi, supersample=1):
    """Fraction of each voxel of the box [lo, hi) with ``radius_fn(x, y, z) <= 1``."""
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    axes = grid.axes(lo, hi)
    shape = tuple(hi[d] - lo[d] for d in (2, 1, 0))
    fraction = np.zeros(shape, dtype=np.float32)
    for ox in offsets:
        for oy in offsets:
            for oz in offsets:
                z, y, x = np.meshgrid(
                    axes[2] + oz * grid.spacing[2],
                    axes[1] + oy * grid.spacing[1],
                    axes[0] + ox * grid.spacing[0],
                    indexing="ij",
                )
                fraction += radius_fn(x, y, z) <= 1.0
    return fraction / supersample**3


def render_ct(grid: Grid, shape: TumourShape, rng):
    """CT in HU (int16, array [z, y, x]) and the tumour ROI (uint8) on the CT grid."""
    x, y, _ = grid.axes()
    body, fat, airway, vertebra, canal, mandible = _body_masks(x, y)
    plane = np.full(body.shape, -1000.0, dtype=np.float32)
    plane[body] = 40.0
    plane[fat] = -95.0
    plane[vertebra] = 700.0
    plane[canal] = 25.0
    plane[mandible] = 1100.0
    plane[airway & body] = -950.0
    ct = np.repeat(plane[None], grid.size[2], axis=0)
    roi = np.zeros(ct.shape, dtype=np.uint8)

    lo, hi = grid.index_box(shape.centre, shape.extent)
    if all(hi[d] > lo[d] for d in range(3)):
        xs, ys, zs = grid.axes(lo, hi)
        z, yy, xx = np.meshgrid(zs, ys, xs, indexing="ij")
        rho = shape.radius(xx, yy, z)
        inside = rho <= 1.0
        necrotic = rho <= shape.core_radius
        sub = ct[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]]
        sub[inside] = 72.0  # enhancing viable tumour
        sub[necrotic] = 12.0  # hypodense necrotic core
        roi[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]] = inside
    ct = ndimage.gaussian_filter(ct, sigma=0.6)
    ct += rng.normal(0.0, 12.0, size=ct.shape).astype(np.float32)
    return np.clip(np.round(ct), -1024, 3071).astype(np.int16), roi


def _lesion_uptake(grid: Grid, shape: TumourShape, level, heterogeneity, rng):
    """Activity of one lesion on the PET grid: occupancy-weighted, textured uptake."""
    lo, hi = grid.index_box(shape.centre, shape.extent + 2 * max(grid.spacing))
    if not all(hi[d] > lo[d] for d in range(3)):
        return None
    occupancy = _occupancy(grid, shape.radius, lo, hi, supersample=2)
    texture = ndimage.gaussian_filter(rng.standard_normal(occupancy.shape), sigma=0.8)
    texture /= max(texture.std(), 1e-6)
    activity = level * np.clip(1.0 + heterogeneity * texture, 0.15, None)
    return lo, hi, occupancy, activity.astype(np.float32)


def render_pet(grid: Grid, tumour: TumourShape, traits, node: TumourShape | None, rng, calibration=1.0):
    """PET in SUV (float32, [z, y, x]), with the SUV measurements of tumour and node.

    The scanner reads ``calibration`` times the true uptake (another centre's PET,
    ``synthetic.pet_calibration``): the image and the SUVs measured on it scale by it;
    the random draws do not change.
    """
    x, y, _ = grid.axes()
    body, _, airway, vertebra, _, _ = _body_masks(x, y)
    plane = np.full(body.shape, 0.02, dtype=np.float32)
    plane[body] = 0.9
    plane[vertebra] = 1.6
    plane[airway & body] = 0.1
    pet = np.repeat(plane[None], grid.size[2], axis=0)

    level = float(np.exp(np.log(6.0) + 0.45 * traits["uptake_level"]))
    heterogeneity = float(0.15 + 0.45 * sigmoid(1.5 * traits["uptake_heterogeneity"]))
    lesions = [("tumor", _lesion_uptake(grid, tumour, level, heterogeneity, rng))]
    if node is not None:
        node_level = float(np.exp(np.log(4.0) + 0.4 * rng.standard_normal()))
        lesions.append(("node", _lesion_uptake(grid, node, node_level, 0.2, rng)))
    for _, lesion in lesions:
        if lesion is not None:
            lo, hi, occupancy, activity = lesion
            sub = pet[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]]
            sub[...] = (1.0 - occupancy) * sub + occupancy * activity
    # scanner resolution (about 6 mm FWHM) and noise
    sigma_mm = 6.0 / 2.355
    pet = ndimage.gaussian_filter(pet, sigma=[sigma_mm / s for s in grid.spacing[::-1]])
    pet = pet * (1.0 + 0.06 * rng.standard_normal(pet.shape)) + 0.03 * rng.standard_normal(pet.shape)
    pet = np.clip(pet, 0.0, None).astype(np.float32)
    if calibration != 1.0:  # the study's scanner (1.0) keeps its float32 values untouched
        pet *= np.float32(calibration)

    suv = {}
    for name, lesion in lesions:
        keys = [f"{name}_suv_max", f"{name}_suv_peak", f"{name}_suv_mean"]
        if lesion is None or not (lesion[2] >= 0.5).any():
            suv.update(dict.fromkeys(keys, 0.0))
            continue
        lo, hi, occupancy, _ = lesion
        sub = pet[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]]
        mask = occupancy >= 0.5
        # peak: highest mean over a ~12 mm cube (about 1-2 mL) around a lesion voxel
        peak_width = [max(1, int(round(12.0 / s))) for s in grid.spacing[::-1]]
        local_mean = ndimage.uniform_filter(sub, size=peak_width, mode="nearest")
        suv.update(
            {
                keys[0]: float(sub[mask].max()),
                keys[1]: float(local_mean[mask].max()),
                keys[2]: float(sub[mask].mean()),
            }
        )
    if node is None:
        suv.update({"node_suv_max": 0.0, "node_suv_peak": 0.0, "node_suv_mean": 0.0})
    return pet, suv


def patient_grids(settings: SyntheticSettings, rng):
    """CT and PET grids of one patient: PET coarser, both shifted by the patient's position."""
    shift = rng.normal(0.0, 3.0, size=3)

    def centred(size, spacing, offset):
        origin = [-(n - 1) * s / 2.0 + offset[d] for d, (n, s) in enumerate(zip(size, spacing))]
        return Grid(tuple(int(n) for n in size), tuple(float(s) for s in spacing), tuple(origin))

    ct = centred(settings.ct_size, settings.ct_spacing, shift)
    pet = centred(settings.pet_size, settings.pet_spacing, shift + rng.normal(0.0, 1.5, size=3))
    return ct, pet


def patient_geometry(settings: SyntheticSettings, index, traits, has_node):
    """Random generator, CT and PET grids, tumour and node (or None) of patient ``index``,
    drawn in the order :func:`~survsig.cohort.simulate.render_patient` draws them (the generator goes on to the
    images)."""
    rng = np.random.default_rng([settings.seed, 1, index])
    ct_grid, pet_grid = patient_grids(settings, rng)
    tumour = tumour_shape(rng, traits, settings.tumour_volume_ml, settings.tumour_volume_spread)
    node = None
    if has_node:
        side = 1.0 if rng.random() < 0.5 else -1.0
        node_radius = float(rng.uniform(5.0, 11.0))
        node = TumourShape(
            centre=(side * rng.uniform(36.0, 46.0), rng.uniform(8.0, 16.0), rng.normal(0.0, 6.0)),
            semi_axes=(node_radius,) * 3,
            lobulation=0.05,
            phases=(0.0, 0.0, 0.0),
            necrotic_fraction=0.0,
        )
    return rng, ct_grid, pet_grid, tumour, node


def _margin(grid: Grid, shape: TumourShape) -> float:
    """Smallest distance (mm) from the box around ``shape`` to the border of the grid's
    field of view (voxel edges), over all axes and sides; negative when it sticks out."""
    margins = []
    for d in range(3):
        lo = grid.origin[d] - grid.spacing[d] / 2.0
        hi = grid.origin[d] + (grid.size[d] - 0.5) * grid.spacing[d]
        margins += [shape.centre[d] - shape.extent - lo, hi - shape.centre[d] - shape.extent]
    return float(min(margins))


def _cut_off(grid: Grid, shape: TumourShape) -> bool:
    """Whether ``shape`` covers the centre of a voxel on the border of the grid (so the
    image cuts it off there; on CT: the ROI touches the border)."""
    lo, hi = grid.index_box(shape.centre, shape.extent)
    for d in range(3):
        for face in (0, grid.size[d] - 1):
            if not lo[d] <= face < hi[d]:
                continue
            face_lo, face_hi = list(lo), list(hi)
            face_lo[d], face_hi[d] = face, face + 1
            xs, ys, zs = grid.axes(face_lo, face_hi)
            z, y, x = np.meshgrid(zs, ys, xs, indexing="ij")
            if (shape.radius(x, y, z) <= 1.0).any():
                return True
    return False


def lesion_margins(settings: SyntheticSettings, patients: pd.DataFrame | None = None) -> pd.DataFrame:
    """Whether each patient's lesions lie inside the CT and PET fields of view.

    Cheap (no image is rendered), to check a geometry before simulating it. One row per
    patient with, for CT (the tumour: the only lesion on CT, and the ROI) and PET
    (tumour and node, if any):

    * ``ct_margin_mm``, ``pet_margin_mm``: smallest distance (mm) along any axis between
      a lesion's bounding box (centre +- :attr:`TumourShape.extent`, a loose bound:
      largest semi-axis at full lobulation) and the border of the field of view;
      negative when a lesion may be cut off;
    * ``ct_cut``, ``pet_cut``: whether a lesion covers a voxel centre on the border,
      i.e. the image does cut it off.
    """
    if patients is None:
        patients = simulate_patients(settings)
    traits = patients[[col.PATIENT_ID, *GROUND_TRUTH_COLUMNS[7:12]]].to_dict("records")
    rows = []
    for i, (row, has_node) in enumerate(zip(traits, patients["has_node"])):
        _, ct_grid, pet_grid, tumour, node = patient_geometry(settings, i, row, has_node)
        lesions = [tumour] if node is None else [tumour, node]
        rows.append(
            {
                col.PATIENT_ID: row[col.PATIENT_ID],
                "ct_margin_mm": _margin(ct_grid, tumour),
                "pet_margin_mm": min(_margin(pet_grid, lesion) for lesion in lesions),
                "ct_cut": _cut_off(ct_grid, tumour),
                "pet_cut": any(_cut_off(pet_grid, lesion) for lesion in lesions),
            }
        )
    return pd.DataFrame(rows)
