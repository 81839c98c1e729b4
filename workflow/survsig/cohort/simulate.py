"""The built-in synthetic cohort: a stand-in for private patient data with known truth.

Shaped like the study's Table 1 (recurrent nasopharyngeal carcinoma, 420 patients).
Each patient has latent tumour traits that drive the hazard together with age and
rT3-4, with the coefficients in :data:`HAZARD`:

* tumour volume (seen on CT and PET),
* shape irregularity and necrotic core (seen on CT only: contour and a hypodense core),
* uptake level and uptake heterogeneity (seen on PET only: SUV level and texture).

So each modality carries part of the image signal and the two together all of it.
Local treatment (surgery, re-irradiation) helps low-risk patients and not high-risk
ones, as the study found. The true linear predictors are written to
``ground_truth.tsv`` so later stages can compare each C-index with its oracle.

RNA-seq raw counts for a subset of patients follow the latent risk in planted
pathways of a gene-set library (a built-in demo library, or real GMT files).

Images are written as NIfTI, NRRD, MetaImage or DICOM series, or a mix of these across
patients (``synthetic.image_format``); :func:`lesion_margins` checks, without rendering,
that a geometry's fields of view hold every lesion.

Everything derives from one seed: the same configuration gives byte-identical files.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from survsig.core import columns as col
from survsig.core.errors import InputError
from survsig.core.io import atomic_path, write_tsv
from survsig.survival.concordance import concordance_index
from survsig.survival.km import reverse_km_follow_up

log = logging.getLogger(__name__)

#: Table 1 of the study (both splits together, n = 420).
TABLE1_PROPORTIONS = {
    "sex": {"M": 306, "F": 114},
    "rT_stage": {"T0": 58, "T1": 47, "T2": 36, "T3": 180, "T4": 99},
    "N_stage": {"N0": 258, "N1": 129, "N2": 15, "N3": 18},
    "ebv_dna": {"undetectable": 189, "detectable": 231},
    "treatment": {"surgery": 124, "reirradiation": 246, "chemotherapy": 50},
}

#: Log hazard ratios of the data-generating model (per year of age, per SD of a trait).
HAZARD = {
    "age_per_year": 0.025,
    "rT3_4": 0.75,
    "tumor_volume": 0.30,
    "shape_irregularity": 0.22,
    "necrotic_core": 0.22,
    "uptake_level": 0.34,
    "uptake_heterogeneity": 0.30,
    # benefit of local treatment (surgery or re-irradiation) for a patient of lowest risk;
    # it fades out with rising latent risk (logistic in the standardised risk)
    "local_treatment_benefit": -0.8,
}

#: Weibull baseline hazard (months) and uniform administrative censoring (months).
WEIBULL_SHAPE = 1.2
WEIBULL_SCALE_MONTHS = 78.0
CENSOR_MONTHS = (10.0, 64.0)
AGE_CENTRE = 48.0

#: Planted pathways of the demo gene-set library: name -> direction in high-risk tumours.
DEMO_PLANTED = {
    "ECM_RECEPTOR_INTERACTION": 1,
    "FOCAL_ADHESION": 1,
    "POSITIVE_REGULATION_OF_CELL_MIGRATION": 1,
    "OXIDATIVE_PHOSPHORYLATION": -1,
}
DEMO_N_PATHWAYS = 80
PLANTED_LOG2_EFFECT = 1.0  # log2 fold change per SD of latent risk, planted gene average
PLANTED_RESPONDING = 0.8  # share of a planted pathway's genes that follow the risk


#: File formats the synthetic images are written in (``synthetic.image_format``); ``mixed``
#: gives each patient's CT and PET one of them in turn (:func:`image_formats`).
IMAGE_FORMATS = ("nifti", "nrrd", "mha", "dicom")
IMAGE_FORMAT_CHOICES = (*IMAGE_FORMATS, "mixed")
#: Suffix of an image file of each format; a DICOM series is a folder without one.
FORMAT_SUFFIX = {"nifti": ".nii.gz", "nrrd": ".nrrd", "mha": ".mha", "dicom": ""}
#: Format of the ROI beside a DICOM CT: a label map ships as a file (here NRRD, as 3D
#: Slicer saves segmentations), not as a DICOM image series.
ROI_FORMAT_BESIDE_DICOM = "nrrd"


@dataclass
class SyntheticSettings:
    """Settings of the synthetic cohort (the ``synthetic`` block of the config).

    Sizes are voxels (x, y, z); spacings are millimetres. A tumour's volume is
    ``tumour_volume_ml`` (ml) at the latent volume trait 0 (about the median), and its
    log changes by ``tumour_volume_spread`` per SD of the trait. ``image_format`` is one
    of :data:`IMAGE_FORMAT_CHOICES`.
    """

    seed: int = 2022
    n_patients: int = 420
    rnaseq_samples: int = 24
    n_genes: int = 3000
    genesets: list = field(default_factory=list)
    ct_size: tuple = (112, 112, 36)
    ct_spacing: tuple = (1.5, 1.5, 3.0)
    pet_size: tuple = (44, 44, 28)
    pet_spacing: tuple = (4.0, 4.0, 4.0)
    tumour_volume_ml: float = 12.0
    tumour_volume_spread: float = 0.7
    image_format: str = "nifti"

    def __post_init__(self):
        if self.image_format not in IMAGE_FORMAT_CHOICES:
            raise InputError(
                f"synthetic.image_format must be one of {', '.join(IMAGE_FORMAT_CHOICES)}, got {self.image_format!r}"
            )
        if not float(self.tumour_volume_ml) > 0:
            raise InputError(f"synthetic.tumour_volume_ml must be > 0, got {self.tumour_volume_ml!r}")
        if not float(self.tumour_volume_spread) >= 0:
            raise InputError(f"synthetic.tumour_volume_spread must be >= 0, got {self.tumour_volume_spread!r}")

    @classmethod
    def from_config(cls, block) -> SyntheticSettings:
        known = {k: v for k, v in dict(block).items() if k in cls.__dataclass_fields__}
        for key in ("ct_size", "ct_spacing", "pet_size", "pet_spacing"):
            if key in known:
                known[key] = tuple(known[key])
        known["genesets"] = list(known.get("genesets") or [])
        return cls(**known)


def patient_ids(n):
    width = max(4, len(str(n)))
    return [f"SYN{i + 1:0{width}d}" for i in range(n)]


def _categorical(rng, n, counts):
    levels = list(counts)
    p = np.array([counts[k] for k in levels], dtype=float)
    return np.array(levels, dtype=object)[rng.choice(len(levels), size=n, p=p / p.sum())]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def simulate_patients(settings: SyntheticSettings) -> pd.DataFrame:
    """Clinical variables, latent tumour traits, true linear predictors and outcomes.

    Returns one row per patient with the clinical columns (no SUV yet: those are
    measured on the rendered PET), the latent traits (standardised), the true linear
    predictors ``lp_clinical``, ``lp_image``, ``lp_image_ct``, ``lp_image_pet`` and
    ``lp_full``, and ``os_months``/``os_event``.
    """
    rng = np.random.default_rng([settings.seed, 0])
    n = settings.n_patients
    frame = pd.DataFrame({col.PATIENT_ID: patient_ids(n)})
    frame["age"] = np.clip(np.round(rng.normal(AGE_CENTRE, 10.0, n)), 16, 78).astype(int)
    frame["sex"] = _categorical(rng, n, TABLE1_PROPORTIONS["sex"])
    frame["rT_stage"] = _categorical(rng, n, TABLE1_PROPORTIONS["rT_stage"])
    frame["N_stage"] = _categorical(rng, n, TABLE1_PROPORTIONS["N_stage"])
    frame["ebv_dna"] = _categorical(rng, n, TABLE1_PROPORTIONS["ebv_dna"])

    # Larger tumours go with higher rT-stage; the other traits with volume, loosely.
    stage_index = frame["rT_stage"].map({f"T{i}": i for i in range(5)}).to_numpy()
    stage_score = (stage_index - 2.5) / 1.3
    z = rng.standard_normal((n, 5))
    latent = pd.DataFrame(index=frame.index)
    latent["tumor_volume"] = 0.55 * stage_score + np.sqrt(1 - 0.55**2) * z[:, 0]
    latent["shape_irregularity"] = 0.3 * latent["tumor_volume"] + np.sqrt(1 - 0.3**2) * z[:, 1]
    latent["necrotic_core"] = 0.4 * latent["tumor_volume"] + np.sqrt(1 - 0.4**2) * z[:, 2]
    latent["uptake_level"] = 0.3 * latent["tumor_volume"] + np.sqrt(1 - 0.3**2) * z[:, 3]
    latent["uptake_heterogeneity"] = 0.2 * latent["uptake_level"] + np.sqrt(1 - 0.2**2) * z[:, 4]

    # Treatment leans towards surgery for small recurrences and chemotherapy for T4.
    treatment_logits = np.column_stack([1.05 - 0.35 * stage_index, 1.0 + 0.0 * stage_index, -1.35 + 0.25 * stage_index])
    treatment_p = np.exp(treatment_logits)
    treatment_p /= treatment_p.sum(axis=1, keepdims=True)
    u = rng.random(n)[:, None]
    choice = (u > np.cumsum(treatment_p, axis=1)).sum(axis=1)
    frame["treatment"] = np.array(["surgery", "reirradiation", "chemotherapy"], dtype=object)[choice]

    h = HAZARD
    lp_clinical = h["age_per_year"] * (frame["age"] - AGE_CENTRE) + h["rT3_4"] * (stage_index >= 3)
    ct_part = h["shape_irregularity"] * latent["shape_irregularity"] + h["necrotic_core"] * latent["necrotic_core"]
    pet_part = h["uptake_level"] * latent["uptake_level"] + h["uptake_heterogeneity"] * latent["uptake_heterogeneity"]
    volume_part = h["tumor_volume"] * latent["tumor_volume"]
    lp_image = volume_part + ct_part + pet_part
    risk = lp_clinical + lp_image
    risk_z = (risk - risk.mean()) / risk.std()
    local = frame["treatment"].isin(["surgery", "reirradiation"]).to_numpy()
    lp_treatment = h["local_treatment_benefit"] * local * _sigmoid(-2.0 * risk_z)
    lp_full = risk + lp_treatment

    # Weibull event times by inversion; uniform administrative censoring.
    e = rng.exponential(size=n)
    event_time = WEIBULL_SCALE_MONTHS * (e / np.exp(lp_full)) ** (1.0 / WEIBULL_SHAPE)
    censor_time = rng.uniform(*CENSOR_MONTHS, size=n)
    frame[col.OS_MONTHS] = np.maximum(np.round(np.minimum(event_time, censor_time), 2), 0.1)
    frame[col.OS_EVENT] = (event_time <= censor_time).astype(int)

    frame = pd.concat([frame, latent], axis=1)
    frame["lp_clinical"] = lp_clinical
    frame["lp_image"] = lp_image
    frame["lp_image_ct"] = volume_part + ct_part
    frame["lp_image_pet"] = volume_part + pet_part
    frame["lp_treatment"] = lp_treatment
    frame["lp_full"] = lp_full
    # node lesion present with N1-3; its uptake is not prognostic (as in the study)
    frame["has_node"] = frame["N_stage"] != "N0"
    return frame


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
        lobulation=float(0.05 + 0.35 * _sigmoid(1.6 * traits["shape_irregularity"])),
        phases=tuple(float(p) for p in rng.uniform(0, 2 * np.pi, size=3)),
        necrotic_fraction=float(0.32 * _sigmoid(1.8 * traits["necrotic_core"] - 0.8)),
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


def render_pet(grid: Grid, tumour: TumourShape, traits, node: TumourShape | None, rng):
    """PET in SUV (float32, [z, y, x]), with the SUV measurements of tumour and node."""
    x, y, _ = grid.axes()
    body, _, airway, vertebra, _, _ = _body_masks(x, y)
    plane = np.full(body.shape, 0.02, dtype=np.float32)
    plane[body] = 0.9
    plane[vertebra] = 1.6
    plane[airway & body] = 0.1
    pet = np.repeat(plane[None], grid.size[2], axis=0)

    level = float(np.exp(np.log(6.0) + 0.45 * traits["uptake_level"]))
    heterogeneity = float(0.15 + 0.45 * _sigmoid(1.5 * traits["uptake_heterogeneity"]))
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


def image_formats(settings: SyntheticSettings, index) -> dict[str, str]:
    """File format of the CT, PET and ROI of patient ``index`` (0-based).

    With ``mixed`` the CT cycles through :data:`IMAGE_FORMATS` patient by patient and
    the PET too, one step further after each full cycle, so any 16 consecutive patients
    hold every pairing of CT and PET format once. The ROI is in its CT's format, or
    :data:`ROI_FORMAT_BESIDE_DICOM` beside a DICOM CT.
    """
    if settings.image_format == "mixed":
        n = len(IMAGE_FORMATS)
        ct, pet = IMAGE_FORMATS[index % n], IMAGE_FORMATS[(index + index // n) % n]
    else:
        ct = pet = settings.image_format
    return {"ct": ct, "pet": pet, "roi": ROI_FORMAT_BESIDE_DICOM if ct == "dicom" else ct}


def image_name(patient_id, modality, fmt) -> str:
    """File name of an image (a folder for a DICOM series): ``SYN0001_ct.nii.gz``, ``SYN0001_pet``."""
    return f"{patient_id}_{modality}{FORMAT_SUFFIX[fmt]}"


def _image(array, grid: Grid):
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(array)
    image.SetSpacing(grid.spacing)
    image.SetOrigin(grid.origin)
    return image


def _write_file(array, grid: Grid, path):
    """NIfTI, NRRD or MetaImage (by the suffix of ``path``), compressed, written atomically."""
    import SimpleITK as sitk

    path = Path(path)
    suffix = ".nii.gz" if path.name.endswith(".nii.gz") else path.suffix
    with atomic_path(path) as tmp:
        # the suffix tells ITK which writer to use
        target = Path(str(tmp) + suffix)
        sitk.WriteImage(_image(array, grid), str(target), useCompression=True)
        os.replace(target, tmp)


#: Study date and time of the synthetic DICOM series (fixed: the files do not depend on
#: when they are written).
DICOM_DATE, DICOM_TIME = "20220101", "120000"
#: Stored PET values span 0 to this (signed 16 bits); the rescale slope maps them to SUV.
PET_STORED_MAX = 32000


def dicom_uid(*parts) -> str:
    """A DICOM UID derived from ``parts``: ``2.25.`` and a 128-bit number (as UUID-based
    UIDs), so the same cohort gets the same UIDs and other series other ones."""
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()[:16]
    return "2.25." + str(int.from_bytes(digest, "big"))


def _ds(value) -> str:
    """A number as a DICOM decimal string (at most 16 characters), to 1e-6 mm."""
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def pet_rescale_slope(pet) -> float:
    """Rescale slope of a PET series: the highest SUV is stored as about
    :data:`PET_STORED_MAX`; the slope has 6 significant digits, as written in the file."""
    top = float(np.max(pet)) if np.size(pet) else 0.0
    return float(f"{top / PET_STORED_MAX:.6g}") if top > 0 else 1.0


def write_dicom_series(array, grid: Grid, path, *, modality, patient_id, seed):
    """Write a CT (HU, int16) or PET (SUV, float) volume as a DICOM series folder.

    One file per axial slice (``0001.dcm``, ...), written by GDCM through SimpleITK,
    with the tags a series reader needs to rebuild the volume: study, series, frame of
    reference and SOP instance UIDs (derived from ``seed``, patient and series, so the
    files are byte-stable), Image Position (Patient) per slice, Image Orientation
    (axis-aligned), Pixel Spacing, Slice Thickness and Spacing Between Slices. Values
    are stored as signed 16-bit integers with a Rescale Slope and Intercept: CT as
    HU + 1024 with intercept -1024 (as scanners store it; HU come back exactly), PET with
    the slope of :func:`pet_rescale_slope` (SUV come back within half the slope). The
    folder is written beside ``path`` and moved into place when complete.
    """
    import SimpleITK as sitk

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if modality == "CT":
        image = _image(np.asarray(array, dtype=np.int16), grid)
        rescale = {"0028|1052": "-1024", "0028|1053": "1", "0028|1054": "HU"}
        series_number, description = "1", "synthetic CT"
    elif modality == "PT":
        image = _image(np.asarray(array, dtype=np.float32), grid)
        # GDCM stores a float image as integers of the given width with this slope
        rescale = {
            "0028|1052": "0",
            "0028|1053": f"{pet_rescale_slope(array):.6g}",
            "0028|0100": "16",
            "0028|0101": "16",
            "0028|0102": "15",
            "0028|0103": "1",
            "0054|1001": "GML",  # units: SUV body weight, g/ml
        }
        series_number, description = "2", "synthetic PET SUV"
    else:
        raise ValueError(f"modality must be CT or PT, got {modality!r}")
    series = {
        "0008|0008": "DERIVED\\SECONDARY",
        "0008|0012": DICOM_DATE,
        "0008|0013": DICOM_TIME,
        "0008|0020": DICOM_DATE,
        "0008|0021": DICOM_DATE,
        "0008|0030": DICOM_TIME,
        "0008|0031": DICOM_TIME,
        "0008|0060": modality,
        "0008|103e": description,
        "0010|0010": patient_id,
        "0010|0020": patient_id,
        "0018|0050": _ds(grid.spacing[2]),  # slice thickness
        "0018|0088": _ds(grid.spacing[2]),  # spacing between slices
        "0020|000d": dicom_uid(seed, patient_id, "study"),
        "0020|000e": dicom_uid(seed, patient_id, modality, "series"),
        "0020|0011": series_number,
        "0020|0052": dicom_uid(seed, patient_id, "frame of reference"),
        "0020|0037": "1\\0\\0\\0\\1\\0",  # axis-aligned rows and columns
        **rescale,
    }
    writer = sitk.ImageFileWriter()
    writer.SetImageIO("GDCMImageIO")
    writer.KeepOriginalImageUIDOn()  # the UIDs above, not random ones
    n_slices = grid.size[2]
    width = max(4, len(str(n_slices)))
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes the folder private
        for k in range(n_slices):
            # a 3-D image of one slice: GDCM writes Spacing Between Slices from its third
            # spacing (from a 2-D slice it writes 1 once a series was read in the process)
            plane = image[:, :, k : k + 1]
            for tag, value in series.items():
                plane.SetMetaData(tag, value)
            position = image.TransformIndexToPhysicalPoint((0, 0, k))
            plane.SetMetaData("0008|0018", dicom_uid(seed, patient_id, modality, "slice", k))
            plane.SetMetaData("0020|0013", str(k + 1))
            plane.SetMetaData("0020|0032", "\\".join(_ds(v) for v in position))
            plane.SetMetaData("0020|1041", _ds(position[2]))
            writer.SetFileName(str(tmp / f"{k + 1:0{width}d}.dcm"))
            writer.Execute(plane)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_image(array, grid: Grid, path, fmt, *, modality, patient_id, seed):
    """Write one image in format ``fmt`` (of :data:`IMAGE_FORMATS`) to ``path``."""
    if fmt == "dicom":
        write_dicom_series(array, grid, path, modality=modality, patient_id=patient_id, seed=seed)
    else:
        _write_file(array, grid, path)


def patient_geometry(settings: SyntheticSettings, index, traits, has_node):
    """Random generator, CT and PET grids, tumour and node (or None) of patient ``index``,
    drawn in the order :func:`render_patient` draws them (the generator goes on to the
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


def render_patient(settings: SyntheticSettings, index, traits, has_node, out_dir):
    """Render and write one patient's CT, PET and ROI; return its SUV measurements."""
    import SimpleITK as sitk

    sitk.ProcessObject_SetGlobalDefaultNumberOfThreads(1)
    rng, ct_grid, pet_grid, tumour, node = patient_geometry(settings, index, traits, has_node)
    ct, roi = render_ct(ct_grid, tumour, rng)
    pet, suv = render_pet(pet_grid, tumour, traits, node, rng)
    pid = traits[col.PATIENT_ID]
    out_dir = Path(out_dir)
    formats = image_formats(settings, index)
    for modality, array, grid, dicom_modality in (
        ("ct", ct, ct_grid, "CT"),
        ("pet", pet, pet_grid, "PT"),
        ("roi", roi, ct_grid, None),
    ):
        fmt = formats[modality]
        path = out_dir / image_name(pid, modality, fmt)
        write_image(array, grid, path, fmt, modality=dicom_modality, patient_id=pid, seed=settings.seed)
    suv["tumor_volume_ml"] = float(roi.sum() * np.prod(ct_grid.spacing) / 1000.0)
    return suv


# --------------------------------------------------------------------------- RNA-seq
def demo_gene_sets(rng, genes) -> dict[str, list[str]]:
    """A demo library: the planted pathways among decoys of similar sizes."""
    names = list(DEMO_PLANTED) + [f"DEMO_PATHWAY_{i + 1:03d}" for i in range(DEMO_N_PATHWAYS - len(DEMO_PLANTED))]
    sizes = rng.integers(15, 61, size=len(names))
    return {
        name: sorted(rng.choice(genes, size=min(int(size), len(genes)), replace=False).tolist())
        for name, size in zip(names, sizes)
    }


def real_gene_sets(paths, rng, n_genes):
    """Gene universe, library and planted pathways drawn from real GMT files.

    Four pathways of 25-150 genes are picked by seed (three up, one down in high risk);
    the universe holds their genes plus random others up to ``n_genes``.
    """
    from survsig.core.genesets import read_gmt

    library: dict[str, list[str]] = {}
    for path in paths:
        library.update(read_gmt(path))
    candidates = sorted(name for name, genes in library.items() if 25 <= len(genes) <= 150)
    if len(candidates) < 4:
        raise InputError(
            "needs at least 4 gene sets of 25-150 genes to plant the RNA-seq signal",
            file=", ".join(str(p) for p in paths),
        )
    picked = rng.choice(candidates, size=4, replace=False).tolist()
    planted = dict(zip(picked, (1, 1, 1, -1)))
    planted_genes = sorted({g for name in picked for g in library[name]})
    others = sorted({g for genes in library.values() for g in genes} - set(planted_genes))
    n_others = max(0, min(len(others), n_genes - len(planted_genes)))
    genes = sorted(planted_genes + rng.choice(others, size=n_others, replace=False).tolist())
    return genes, library, planted


def simulate_rnaseq(settings: SyntheticSettings, patients: pd.DataFrame):
    """Raw counts (genes x samples), the gene-level truth and the gene-set library.

    Samples are drawn half from the upper and half from the lower half of latent risk,
    so both risk groups hold samples. Counts are negative binomial; in planted
    pathways the mean follows the standardised latent risk with about
    :data:`PLANTED_LOG2_EFFECT` log2 units per SD (sign = the pathway's direction).
    """
    rng = np.random.default_rng([settings.seed, 2])
    if settings.genesets:
        genes, library, planted = real_gene_sets(settings.genesets, rng, settings.n_genes)
    else:
        genes = [f"GENE{i + 1:05d}" for i in range(settings.n_genes)]
        library = demo_gene_sets(rng, genes)
        planted = dict(DEMO_PLANTED)

    risk = patients["lp_clinical"] + patients["lp_image"]
    order = np.argsort(risk.to_numpy(), kind="stable")
    half = len(order) // 2
    n_samples = min(settings.rnaseq_samples, len(order))
    n_high = (n_samples + 1) // 2
    high = rng.choice(order[half:], size=n_high, replace=False)
    low = rng.choice(order[:half], size=n_samples - n_high, replace=False)
    chosen = np.sort(np.concatenate([high, low])).astype(int)
    samples = patients[col.PATIENT_ID].to_numpy()[chosen]
    risk_z = ((risk - risk.mean()) / risk.std()).to_numpy()[chosen]

    n_genes = len(genes)
    gene_index = {g: i for i, g in enumerate(genes)}
    effect = np.zeros(n_genes)
    pathway_of = np.full(n_genes, "", dtype=object)
    for name, direction in planted.items():
        members = [gene_index[g] for g in library[name] if g in gene_index]
        responding = rng.random(len(members)) < PLANTED_RESPONDING
        for i, responds in zip(members, responding):
            if responds and effect[i] == 0:
                effect[i] = direction * PLANTED_LOG2_EFFECT * rng.uniform(0.6, 1.4)
                pathway_of[i] = name
    base_mean = np.exp(rng.normal(np.log(150.0), 1.4, size=n_genes))
    dispersion = 0.06 * np.exp(rng.normal(0.0, 0.5, size=n_genes))
    size_factor = np.exp(rng.normal(0.0, 0.2, size=len(samples)))
    mean = base_mean[:, None] * size_factor[None, :] * np.exp2(effect[:, None] * risk_z[None, :])
    shape = 1.0 / dispersion[:, None]
    counts = rng.negative_binomial(shape, shape / (shape + mean))

    count_table = pd.DataFrame(counts, columns=samples)
    count_table.insert(0, "gene", genes)
    truth = pd.DataFrame(
        {
            "gene": genes,
            "planted_pathway": pathway_of,
            "direction": np.sign(effect).astype(int),
            "log2_effect_per_sd": effect,
            "base_mean": base_mean,
            "dispersion": dispersion,
        }
    )
    if not settings.genesets:
        library = {name: genes_ for name, genes_ in library.items()}
    return count_table, truth, library, planted


# --------------------------------------------------------------------------- cohort
GROUND_TRUTH_COLUMNS = (
    col.PATIENT_ID,
    "lp_clinical",
    "lp_image",
    "lp_image_ct",
    "lp_image_pet",
    "lp_treatment",
    "lp_full",
    "tumor_volume",
    "shape_irregularity",
    "necrotic_core",
    "uptake_level",
    "uptake_heterogeneity",
    "tumor_volume_ml",
)


def simulate_cohort(settings: SyntheticSettings, out, *, threads=1):
    """Simulate the whole cohort and write it.

    Parameters
    ----------
    settings : SyntheticSettings
    out : dict
        Output paths with keys ``clinical``, ``images``, ``image_dir``, ``rnaseq``,
        ``rnaseq_truth``, ``genesets``, ``ground_truth`` (the rule's outputs).
    threads : int
        Worker processes rendering images.

    Returns
    -------
    pandas.DataFrame
        The patients with clinical columns, SUVs, latent traits and linear predictors.
    """
    patients = simulate_patients(settings)
    margins = lesion_margins(settings, patients)
    for modality in ("ct", "pet"):
        outside = margins[f"{modality}_cut"]
        if outside.any():
            log.warning(
                "%d patient(s) have a lesion reaching the border of the %s field of view "
                "(synthetic.%s_size x %s_spacing), e.g. %s: the image cuts it off",
                int(outside.sum()),
                modality.upper(),
                modality,
                modality,
                margins.loc[outside, col.PATIENT_ID].iloc[0],
            )
    image_dir = Path(out["image_dir"])
    image_dir.mkdir(parents=True, exist_ok=True)
    trait_rows = patients[[col.PATIENT_ID, *GROUND_TRUTH_COLUMNS[7:12]]].to_dict("records")
    has_node = patients["has_node"].tolist()
    n = len(patients)
    log.info("rendering CT, PET and ROI of %d patients with %d worker(s)", n, threads)
    measurements = [None] * n
    step = max(1, n // 10)
    with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, threads)) as pool:
        futures = {pool.submit(render_patient, settings, i, trait_rows[i], has_node[i], image_dir): i for i in range(n)}
        for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
            measurements[futures[future]] = future.result()
            if done % step == 0 or done == n:
                log.info("rendered %d/%d patients", done, n)
    measured = pd.DataFrame(measurements, index=patients.index)
    patients = pd.concat([patients, measured], axis=1)

    clinical = patients[[*col.CLINICAL_REQUIRED, *col.SUV_COLUMNS]].copy()
    for name in col.SUV_COLUMNS:
        clinical[name] = clinical[name].round(2)
    write_tsv(clinical, out["clinical"], float_format="%.2f")
    pid = patients[col.PATIENT_ID]
    formats = [image_formats(settings, i) for i in range(n)]
    images = pd.DataFrame(
        {
            col.PATIENT_ID: pid,
            **{
                m: [f"{image_dir.name}/{image_name(p, m, f[m])}" for p, f in zip(pid, formats)]
                for m in col.IMAGE_MODALITIES
            },
        }
    )
    write_tsv(images, out["images"])
    write_tsv(patients[list(GROUND_TRUTH_COLUMNS)], out["ground_truth"], float_format="%.6f")

    from survsig.core.genesets import write_gmt

    counts, gene_truth, library, planted = simulate_rnaseq(settings, patients)
    write_tsv(counts, out["rnaseq"])
    write_tsv(gene_truth, out["rnaseq_truth"], float_format="%.6f")
    write_gmt(library, out["genesets"], description="synthetic" if not settings.genesets else "real")
    log.info(
        "wrote %d patients, %d RNA-seq samples x %d genes, planted pathways: %s",
        n,
        counts.shape[1] - 1,
        counts.shape[0],
        ", ".join(f"{k} ({'up' if v > 0 else 'down'})" for k, v in planted.items()),
    )
    return patients


# --------------------------------------------------------------------------- summary
ORACLES = {
    "clinical": "lp_clinical",
    "image": "lp_image",
    "image_ct": "lp_image_ct",
    "image_pet": "lp_image_pet",
    "full": "lp_full",
}


def cohort_summary(clinical: pd.DataFrame, ground_truth: pd.DataFrame) -> pd.DataFrame:
    """The synthetic cohort's figures beside the study's (Table 1 and the text).

    Rows of ``(quantity, value, paper)``: patients, deaths (%), median follow-up
    (months, reverse Kaplan-Meier), each category's share (%), SUV medians and the
    oracle Harrell C-index of each true linear predictor (higher = higher risk).
    """
    n = len(clinical)
    time = clinical[col.OS_MONTHS].to_numpy(float)
    event = clinical[col.OS_EVENT].to_numpy(int)
    rows = [
        ("patients", n, 420),
        ("deaths (%)", 100.0 * event.mean(), 100.0 * 178 / 420),
        ("median follow-up (months, reverse KM)", reverse_km_follow_up(time, event)[0], 36.0),
        ("age median (years)", clinical["age"].median(), 48.0),
    ]
    for name, counts in TABLE1_PROPORTIONS.items():
        total = sum(counts.values())
        for level, count in counts.items():
            share = 100.0 * (clinical[name] == level).mean()
            rows.append((f"{name} = {level} (%)", share, 100.0 * count / total))
    paper_suv = {"tumor_suv_max": 8.88, "tumor_suv_peak": 6.10, "tumor_suv_mean": 3.99}
    for name, paper in paper_suv.items():
        if name in clinical:
            rows.append((f"{name} median", clinical[name].median(), paper))
    truth = ground_truth.set_index(col.PATIENT_ID).loc[clinical[col.PATIENT_ID]]
    paper_c = {"clinical": 0.673, "image": 0.722, "full": 0.741}
    for name, column in ORACLES.items():
        c_index = concordance_index(time, event, truth[column].to_numpy())
        rows.append((f"oracle C-index {name}", c_index, paper_c.get(name, np.nan)))
    summary = pd.DataFrame(rows, columns=["quantity", "value", "paper"])
    summary["value"] = summary["value"].astype(float)
    return summary
