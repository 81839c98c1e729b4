"""The synthetic cohort's patients: settings, clinical variables, latent traits and survival.

The built-in synthetic cohort is a stand-in for private patient data with known truth,
shaped like the study's Table 1 (recurrent nasopharyngeal carcinoma, 420 patients).
:func:`simulate_patients` gives each patient latent tumour traits that drive the hazard
together with age and rT3-4, with the coefficients in :data:`HAZARD`:

* tumour volume (seen on CT and PET),
* shape irregularity and necrotic core (seen on CT only: contour and a hypodense core),
* uptake level and uptake heterogeneity (seen on PET only: SUV level and texture).

So each modality carries part of the image signal and the two together all of it.
Local treatment (surgery, re-irradiation) helps low-risk patients and not high-risk
ones, as the study found. The true linear predictors (:data:`GROUND_TRUTH_COLUMNS`) are
written to ``ground_truth.tsv`` so later stages can compare each C-index with its oracle.

:class:`SyntheticSettings` (the config's ``synthetic`` block) drives every part of the
simulation: the images (:mod:`survsig.cohort.phantoms`, written by
:mod:`survsig.cohort.image_files`), the RNA-seq counts (:mod:`survsig.cohort.simulate_rnaseq`)
and the whole cohort (:mod:`survsig.cohort.simulate`).

:func:`other_centre` gives the settings of an external cohort (another centre's patients
drawn from the same biology with another seed, scanner geometry, PET calibration and case
mix, :data:`OTHER_CENTRE`), to test external validation against a known oracle.

Everything derives from one seed: the same configuration gives byte-identical files.
"""

from __future__ import annotations

import copy
import math
import numbers
import re
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from survsig.core import columns as col
from survsig.core.errors import InputError

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

#: Table 1 variables drawn with their own shares (``synthetic.case_mix`` may override
#: them); treatment is not among them: it follows the rT-stage.
CASE_MIX_VARIABLES = ("sex", "rT_stage", "N_stage", "ebv_dna")
#: A prefix of patient ids: it starts ids, so it follows the id rules (no path characters,
#: no leading ``-`` or ``.``), and stays short (DICOM's PatientID holds 64 characters).
_ID_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")

#: File formats the synthetic images are written in (``synthetic.image_format``); ``mixed``
#: gives each patient's CT and PET one of them in turn (:func:`~survsig.cohort.image_files.image_formats`).
IMAGE_FORMATS = ("nifti", "nrrd", "mha", "dicom")
#: ``dicom_rt``: no image files but a hospital's DICOM export (CT and PET series, PET in
#: Bq/mL, the ROI as an RTSTRUCT; :mod:`~survsig.cohort.dicom_export`), which the workflow imports.
DICOM_EXPORT = "dicom_rt"
IMAGE_FORMAT_CHOICES = (*IMAGE_FORMATS, "mixed", DICOM_EXPORT)


@dataclass
class SyntheticSettings:
    """Settings of the synthetic cohort (the ``synthetic`` block of the config).

    Sizes are voxels (x, y, z); spacings are millimetres. A tumour's volume is
    ``tumour_volume_ml`` (ml) at the latent volume trait 0 (about the median), and its
    log changes by ``tumour_volume_spread`` per SD of the trait. ``image_format`` is one
    of :data:`IMAGE_FORMAT_CHOICES`.

    The centre (defaults: the study's): patient ids are ``{id_prefix}0001``, ...; the
    PET scanner reads ``pet_calibration`` times the true uptake (the rendered PET and the
    SUVs measured on it; the hazard and the oracle use the latent traits); ages are drawn
    around ``age_mean`` years (the hazard still centres age on :data:`AGE_CENTRE`); and
    ``case_mix`` maps some of :data:`CASE_MIX_VARIABLES` to weights of every level of
    theirs (counts or shares, as :data:`TABLE1_PROPORTIONS`), which replace Table 1's.
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
    id_prefix: str = "SYN"
    pet_calibration: float = 1.0
    age_mean: float = AGE_CENTRE
    case_mix: dict | None = None

    def __post_init__(self):
        if self.image_format not in IMAGE_FORMAT_CHOICES:
            raise InputError(
                f"synthetic.image_format must be one of {', '.join(IMAGE_FORMAT_CHOICES)}, got {self.image_format!r}"
            )
        if not float(self.tumour_volume_ml) > 0:
            raise InputError(f"synthetic.tumour_volume_ml must be > 0, got {self.tumour_volume_ml!r}")
        if not float(self.tumour_volume_spread) >= 0:
            raise InputError(f"synthetic.tumour_volume_spread must be >= 0, got {self.tumour_volume_spread!r}")
        if not (isinstance(self.id_prefix, str) and _ID_PREFIX.fullmatch(self.id_prefix)):
            raise InputError(
                "synthetic.id_prefix must be 1 to 32 letters, digits, _ or -, starting with a letter or digit, "
                f"got {self.id_prefix!r}"
            )
        if not (_finite(self.pet_calibration) and self.pet_calibration > 0):
            raise InputError(f"synthetic.pet_calibration must be a finite number > 0, got {self.pet_calibration!r}")
        if not (_finite(self.age_mean) and 16 <= self.age_mean <= 78):
            raise InputError(f"synthetic.age_mean must be a number in [16, 78] (years), got {self.age_mean!r}")
        if self.case_mix is not None:
            _check_case_mix(self.case_mix)

    @classmethod
    def from_config(cls, block) -> SyntheticSettings:
        known = {k: v for k, v in dict(block).items() if k in cls.__dataclass_fields__}
        for key in ("ct_size", "ct_spacing", "pet_size", "pet_spacing"):
            if key in known:
                known[key] = tuple(known[key])
        known["genesets"] = list(known.get("genesets") or [])
        if known.get("case_mix") is not None:
            mix = known["case_mix"]
            known["case_mix"] = {k: dict(v) for k, v in dict(mix).items()} if _is_mapping(mix) else mix
        return cls(**known)

    def level_weights(self, name) -> dict:
        """Weights of the levels of Table 1 variable ``name``: the case mix's, else Table 1's,
        in Table 1's order of levels (the order the draw maps uniforms to levels in)."""
        mix = (self.case_mix or {}).get(name)
        if mix is None:
            return TABLE1_PROPORTIONS[name]
        return {level: mix[level] for level in TABLE1_PROPORTIONS[name]}


def _finite(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_mapping(value) -> bool:
    return hasattr(value, "keys") and hasattr(value, "__getitem__")


def _check_case_mix(case_mix):
    """Raise :class:`InputError` (one line) unless ``case_mix`` maps variables of
    :data:`CASE_MIX_VARIABLES` to finite weights >= 0 of exactly their levels, not all 0."""
    if not _is_mapping(case_mix):
        raise InputError(f"synthetic.case_mix must be a mapping of variable -> level weights, got {case_mix!r}")
    for name in case_mix:
        if name not in CASE_MIX_VARIABLES:
            why = " (treatment follows the rT-stage)" if name == "treatment" else ""
            raise InputError(f"synthetic.case_mix: {name!r} is not one of {', '.join(CASE_MIX_VARIABLES)}{why}")
        weights, levels = case_mix[name], list(TABLE1_PROPORTIONS[name])
        if not _is_mapping(weights) or set(weights) != set(levels):
            got = sorted(map(str, weights)) if _is_mapping(weights) else weights
            raise InputError(
                f"synthetic.case_mix.{name} must give a weight to each of {', '.join(levels)}, got {got!r}"
            )
        values = [weights[level] for level in levels]
        if not all(_finite(v) and v >= 0 for v in values) or sum(values) <= 0:
            raise InputError(
                f"synthetic.case_mix.{name}: weights must be finite numbers >= 0, not all 0, got {values!r}"
            )


#: An external cohort (:func:`other_centre`): another seed and prefix, config/geometry2.yaml's
#: CT and PET grids, a PET reading 15 % high, and older patients with more advanced,
#: more often node-positive and EBV DNA-detectable recurrences than Table 1 (rT3-4 75 %
#: instead of 66 %, N1-3 55 % instead of 39 %, detectable EBV DNA 65 % instead of 55 %).
OTHER_CENTRE = dict(
    seed=7919,
    id_prefix="EXT",
    ct_size=(176, 176, 72),
    ct_spacing=(0.977, 0.977, 2.0),
    pet_size=(64, 64, 46),
    pet_spacing=(2.734, 2.734, 3.27),
    pet_calibration=1.15,
    age_mean=52.0,
    case_mix={
        "rT_stage": {"T0": 0.05, "T1": 0.08, "T2": 0.12, "T3": 0.40, "T4": 0.35},
        "N_stage": {"N0": 0.45, "N1": 0.35, "N2": 0.10, "N3": 0.10},
        "ebv_dna": {"undetectable": 0.35, "detectable": 0.65},
    },
)


def other_centre(settings: SyntheticSettings, **changes) -> SyntheticSettings:
    """Settings of another centre's cohort beside the cohort of ``settings``.

    What stays is the biology: the latent traits and how they follow the rT-stage, the
    treatment's dependence on stage, :data:`HAZARD`, the Weibull baseline and censoring,
    the oracle's definition (the true linear predictors of :data:`GROUND_TRUTH_COLUMNS`),
    how traits shape the tumour (``tumour_volume_ml``, ``tumour_volume_spread``) and the
    number of patients, RNA-seq samples, genes and the image format. What changes is
    :data:`OTHER_CENTRE` (seed, id prefix, scanner grids, PET calibration, age and case
    mix), then ``changes`` on top (any field, e.g. smaller grids in a test).

    Raises
    ------
    InputError
        When the result would share the seed or the id prefix of ``settings``: the other
        centre must hold other patients under other ids.
    """
    # a deep copy, so that no cohort's settings share (and could change) the preset's case mix
    external = replace(settings, **copy.deepcopy({**OTHER_CENTRE, **changes}))
    for name in ("seed", "id_prefix"):
        if getattr(external, name) == getattr(settings, name):
            raise InputError(f"the other centre needs another {name} than the cohort's ({getattr(settings, name)!r})")
    return external


def patient_ids(n, prefix="SYN"):
    """Ids ``{prefix}0001`` to ``{prefix}{n}`` (at least 4 digits, zero-padded)."""
    width = max(4, len(str(n)))
    return [f"{prefix}{i + 1:0{width}d}" for i in range(n)]


def _categorical(rng, n, counts):
    levels = list(counts)
    p = np.array([counts[k] for k in levels], dtype=float)
    return np.array(levels, dtype=object)[rng.choice(len(levels), size=n, p=p / p.sum())]


def sigmoid(x):
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
    frame = pd.DataFrame({col.PATIENT_ID: patient_ids(n, settings.id_prefix)})
    frame["age"] = np.clip(np.round(rng.normal(settings.age_mean, 10.0, n)), 16, 78).astype(int)
    for name in CASE_MIX_VARIABLES:
        frame[name] = _categorical(rng, n, settings.level_weights(name))

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
    lp_treatment = h["local_treatment_benefit"] * local * sigmoid(-2.0 * risk_z)
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


# --------------------------------------------------------------------------- ground truth
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
