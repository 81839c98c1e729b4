"""Radiomics comparator: standard ROI features of CT and PET, and a penalised Cox signature.

The features come from pyradiomics (IBSI-compliant, the field's standard library), per
patient, from the validated images in physical space:

1. The ROI (any nonzero label) is mapped onto each modality's own grid by pyradiomics
   (``correctMask``: nearest neighbour, in physical space), so the ROI may lie on the CT
   grid, the PET grid or a grid of its own.
2. Image and mask are resampled to one isotropic spacing (``radiomics.spacing_mm``), so
   that cohorts of other scanners and voxel sizes give comparable texture features.
3. Grey levels are discretised with a fixed bin width per modality (HU for CT, SUV for
   PET), as IBSI recommends for calibrated intensities.

Shape features depend on the ROI alone and are computed once (on the first modality);
first-order and texture features once per modality. Names are
``{modality}_{class}_{feature}`` (``pet_glcm_Contrast``) and ``shape_{feature}``.

:class:`RadiomicsSignature` is the signature: an elastic-net Cox model (scikit-survival's
``CoxnetSurvivalAnalysis``) on features mapped to normal scores by their training-set
quantiles, its penalty chosen by cross-validated C-index on the training set alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from survsig.core.errors import InputError
from survsig.core.images import read_image

log = logging.getLogger(__name__)

#: The pyradiomics feature classes of the comparator, in output order.
FEATURE_CLASSES = ("shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")
#: Image columns the features may be computed on.
MODALITIES = ("ct", "pet")


@dataclass
class RadiomicsSettings:
    """Settings of the radiomics comparator (the ``radiomics`` block of the config).

    ``spacing_mm`` is the isotropic grid both modalities are resampled to; ``bin_width``
    maps a modality to its grey-level bin width (HU, SUV). The model's ``l1_ratio`` mixes
    the lasso (1) and ridge (0) penalties; ``alphas`` penalties on a log scale down to
    ``alpha_min_ratio`` of the largest are tried in ``folds``-fold cross-validation on the
    training set; ``selection`` ``min`` keeps the penalty of the best mean C-index,
    ``1se`` the largest penalty within one standard error of it.
    """

    enabled: bool = True
    modalities: tuple = ("ct", "pet")
    feature_classes: tuple = FEATURE_CLASSES
    spacing_mm: tuple = (2.0, 2.0, 2.0)
    bin_width: dict = field(default_factory=lambda: {"ct": 25.0, "pet": 0.5})
    l1_ratio: float = 0.5
    alphas: int = 30
    alpha_min_ratio: float = 0.01
    folds: int = 5
    selection: str = "min"
    seed: int = 2022

    @classmethod
    def from_config(cls, block) -> RadiomicsSettings:
        known = {k: v for k, v in dict(block or {}).items() if k in cls.__dataclass_fields__}
        for key in ("modalities", "feature_classes"):
            if key in known:
                known[key] = tuple(known[key])
        if "spacing_mm" in known:
            known["spacing_mm"] = tuple(float(v) for v in known["spacing_mm"])
        settings = cls(**known)
        unknown = [m for m in settings.modalities if m not in MODALITIES]
        if unknown or not settings.modalities:
            raise InputError(
                f"radiomics.modalities: unknown {unknown or 'none'}; modalities are {', '.join(MODALITIES)}"
            )
        missing = [m for m in settings.modalities if m not in settings.bin_width]
        if missing:
            raise InputError(f"radiomics.bin_width: no bin width for {', '.join(missing)}")
        unknown = [c for c in settings.feature_classes if c not in FEATURE_CLASSES]
        if unknown:
            raise InputError(f"radiomics.feature_classes: unknown {unknown}; classes are {', '.join(FEATURE_CLASSES)}")
        if settings.selection not in ("min", "1se"):
            raise InputError(f"radiomics.selection must be 'min' or '1se', got {settings.selection!r}")
        if not 0.0 < float(settings.l1_ratio) <= 1.0:
            raise InputError(f"radiomics.l1_ratio must be in (0, 1], got {settings.l1_ratio!r}")
        return settings


def feature_extractor(modality: str, settings: RadiomicsSettings, *, shape: bool):
    """The pyradiomics extractor of one modality, with the comparator's settings."""
    import radiomics
    from radiomics import featureextractor

    # pyradiomics warns once per patient that GLCM Sum Average equals twice Joint Average
    # (the IBSI feature set keeps both): errors only
    radiomics.setVerbosity(logging.ERROR)
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    extractor = featureextractor.RadiomicsFeatureExtractor(
        binWidth=float(settings.bin_width[modality]),
        resampledPixelSpacing=[float(v) for v in settings.spacing_mm],
        correctMask=True,
        label=1,
    )
    extractor.disableAllFeatures()
    for name in settings.feature_classes:
        if name != "shape" or shape:
            extractor.enableFeatureClassByName(name)
    return extractor


def feature_name(modality: str, key: str) -> str | None:
    """pyradiomics' ``original_glcm_Contrast`` -> ``{modality}_glcm_Contrast``, shape
    features without the modality; diagnostics (``diagnostics_...``) -> None."""
    if not key.startswith("original_"):
        return None
    name = key[len("original_") :]
    return name if name.startswith("shape_") else f"{modality}_{name}"


def binary_roi(roi: sitk.Image) -> sitk.Image:
    """The ROI as a 0/1 label image: any nonzero voxel is tumour, as in the preprocessing."""
    return sitk.Cast(sitk.NotEqual(roi, 0), sitk.sitkUInt8)


def extract_patient_features(patient_id, images: dict, roi_path, settings: RadiomicsSettings, extractors=None) -> dict:
    """Radiomic features of one patient.

    Parameters
    ----------
    patient_id : str
        Named in errors.
    images : dict
        Modality (``ct``, ``pet``) -> image path, for every modality of ``settings``.
    roi_path : str or path
        The ROI (label) image; any nonzero voxel is tumour.
    settings : RadiomicsSettings
    extractors : dict, optional
        Modality -> extractor of :func:`feature_extractor`, to reuse across patients.

    Returns
    -------
    dict
        Feature name -> value (float), shape features first.

    Raises
    ------
    InputError
        When an image cannot be read, or pyradiomics refuses the ROI (empty, a single
        voxel, outside the image), naming the file, the patient and the column.
    """
    extractors = extractors or {
        m: feature_extractor(m, settings, shape=i == 0) for i, m in enumerate(settings.modalities)
    }
    try:
        roi = binary_roi(read_image(roi_path))
    except InputError as err:
        raise InputError(err.reason, file=roi_path, patient=patient_id, column="roi") from None
    features = {}
    for modality in settings.modalities:
        try:
            image = read_image(images[modality])
        except InputError as err:
            raise InputError(err.reason, file=images[modality], patient=patient_id, column=modality) from None
        try:
            result = extractors[modality].execute(image, roi)
        except (ValueError, RuntimeError) as err:  # pyradiomics' check of the mask
            reason = " ".join(str(err).split())
            raise InputError(
                f"no {modality.upper()} radiomic features from this ROI: {reason}",
                file=roi_path,
                patient=patient_id,
                column="roi",
            ) from None
        for key, value in result.items():
            name = feature_name(modality, key)
            if name is not None:
                features[name] = float(value)
    return features


def extract_features(patients, images: dict, rois, settings: RadiomicsSettings, *, progress=None):
    """Features of several patients as a table (one row per patient, ``patient_id`` first).

    ``images`` maps a modality to the patients' image paths, in the order of ``patients``.
    """
    import pandas as pd

    extractors = {m: feature_extractor(m, settings, shape=i == 0) for i, m in enumerate(settings.modalities)}
    rows = []
    for number, patient in enumerate(patients):
        paths = {m: images[m][number] for m in settings.modalities}
        rows.append(
            {"patient_id": patient, **extract_patient_features(patient, paths, rois[number], settings, extractors)}
        )
        if progress is not None:
            progress(patient, number + 1, len(patients))
    return pd.DataFrame(rows)


class RadiomicsSignature:
    """Elastic-net Cox signature of radiomic features, fit on the training set alone.

    Each feature is mapped to normal scores through its training-set quantiles (robust to
    the heavy tails of volumes and texture sums, and to another cohort's units); features
    that are not finite for every patient, or constant on the training set, are left out.
    The penalty is picked by ``folds``-fold cross-validation (folds stratified by event)
    of the C-index over one path of penalties.

    Parameters
    ----------
    settings : RadiomicsSettings

    Attributes
    ----------
    features_ : list of str
        The features the model saw (after dropping unusable ones).
    dropped_ : dict
        Feature -> why it was left out.
    alphas_ : ndarray
        The penalty path.
    cv_cindex_ : ndarray, shape (folds, n_alphas)
        Validation C-index per fold and penalty.
    alpha_ : float
        The chosen penalty.
    coef_ : pandas.Series
        Coefficients (per normal score) of the features with a nonzero one.
    """

    def __init__(self, settings: RadiomicsSettings):
        self.settings = settings

    def _usable(self, features):
        """Features finite for every patient and not constant (``dropped_`` says why not)."""
        self.dropped_ = {}
        finite = np.isfinite(features.to_numpy(float))
        for name, ok in zip(features.columns, finite.all(axis=0), strict=True):
            if not ok:
                self.dropped_[name] = "not finite for every patient"
        kept = [c for c in features.columns if c not in self.dropped_]
        spread = features[kept].nunique()
        for name in spread.index[spread < 2]:
            self.dropped_[name] = "constant on the training set"
        return [c for c in kept if c not in self.dropped_]

    def fit(self, features, time, event):
        """Fit on the training patients: ``features`` (rows = patients), ``time``, ``event``."""
        from sklearn.model_selection import StratifiedKFold
        from sklearn.preprocessing import QuantileTransformer
        from sksurv.linear_model import CoxnetSurvivalAnalysis
        from sksurv.metrics import concordance_index_censored
        from sksurv.util import Surv

        settings = self.settings
        time = np.asarray(time, float)
        event = np.asarray(event, bool)
        if event.sum() < settings.folds:
            raise InputError(
                f"the radiomics signature needs at least {settings.folds} deaths on the training set "
                f"(radiomics.folds), got {int(event.sum())}"
            )
        self.features_ = self._usable(features)
        if not self.features_:
            raise InputError("no radiomic feature is finite and varies on the training set")
        x = features[self.features_].to_numpy(float)
        y = Surv.from_arrays(event, time)
        n_quantiles = min(1000, len(x))
        self.scaler_ = QuantileTransformer(n_quantiles=n_quantiles, output_distribution="normal").fit(x)
        path = CoxnetSurvivalAnalysis(
            l1_ratio=settings.l1_ratio, n_alphas=settings.alphas, alpha_min_ratio=settings.alpha_min_ratio
        ).fit(self.scaler_.transform(x), y)
        self.alphas_ = path.alphas_
        folds = StratifiedKFold(n_splits=settings.folds, shuffle=True, random_state=settings.seed)
        self.cv_cindex_ = np.full((settings.folds, len(self.alphas_)), np.nan)
        for k, (inner, outer) in enumerate(folds.split(x, event)):
            scaler = QuantileTransformer(n_quantiles=min(1000, len(inner)), output_distribution="normal").fit(x[inner])
            model = CoxnetSurvivalAnalysis(l1_ratio=settings.l1_ratio, alphas=self.alphas_).fit(
                scaler.transform(x[inner]), y[inner]
            )
            held = scaler.transform(x[outer])
            for j, alpha in enumerate(model.alphas_):
                risk = model.predict(held, alpha=alpha)
                if np.ptp(risk) > 0:  # all coefficients zero: no ranking (C = 0.5 by convention)
                    self.cv_cindex_[k, j] = concordance_index_censored(event[outer], time[outer], risk)[0]
                else:
                    self.cv_cindex_[k, j] = 0.5
        mean = self.cv_cindex_.mean(axis=0)
        nonzero = np.abs(path.coef_).sum(axis=0) > 0
        candidates = np.flatnonzero(nonzero)
        if not candidates.size:
            raise InputError("the radiomics signature selected no feature at any penalty of the path")
        best = candidates[np.argmax(mean[candidates])]
        if settings.selection == "1se":
            se = self.cv_cindex_[:, best].std(ddof=1) / np.sqrt(settings.folds)
            # the path runs from the largest penalty down: the first within 1 SE is the largest
            best = next(j for j in candidates if mean[j] >= mean[best] - se)
        self.alpha_ = float(self.alphas_[best])
        self.coef_all_ = path.coef_[:, best]
        import pandas as pd

        coef = pd.Series(self.coef_all_, index=self.features_)
        self.coef_ = coef[coef != 0].sort_values(key=np.abs, ascending=False)
        log.info(
            "radiomics signature: penalty %.4g (CV C-index %.3f), %d of %d features",
            self.alpha_,
            mean[best],
            len(self.coef_),
            len(self.features_),
        )
        return self

    def predict(self, features) -> np.ndarray:
        """Linear predictor (log relative hazard) of each row of ``features``."""
        x = features[self.features_].to_numpy(float)
        return self.scaler_.transform(x) @ self.coef_all_

    def summary(self) -> dict:
        """The fit as plain data (saved as the signature's JSON)."""
        return {
            "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(self.settings).items()},
            "features_used": len(self.features_),
            "dropped": self.dropped_,
            "alpha": self.alpha_,
            "alphas": self.alphas_.tolist(),
            "cv_cindex_mean": self.cv_cindex_.mean(axis=0).tolist(),
            "cv_cindex_folds": self.cv_cindex_.tolist(),
            "coefficients": {name: float(value) for name, value in self.coef_.items()},
        }


def read_feature_tables(paths):
    """The per-job feature tables as one table indexed by patient (``results/radiomics``)."""
    import pandas as pd

    from survsig.core.io import read_table

    tables = [read_table(path, dtype={"patient_id": str}).set_index("patient_id") for path in paths]
    features = pd.concat(tables)
    repeated = features.index[features.index.duplicated()]
    if len(repeated):
        raise InputError(f"patient {repeated[0]} has radiomic features in two tables", file=paths[0])
    return features


def modality_features(features, modalities):
    """The columns of ``features`` that a signature of ``modalities`` may use.

    The ROI's shape features (``shape_*``) and the first-order and texture features of
    each modality of ``modalities`` (``{modality}_*``): the radiomics comparator matched to
    a network that sees only those images and the ROI. No modality leaves the shape
    features alone.

    Parameters
    ----------
    features : pandas.DataFrame
        :func:`read_feature_tables`.
    modalities : sequence of str
        Modalities of :data:`MODALITIES`.
    """
    unknown = [m for m in modalities if m not in MODALITIES]
    if unknown:
        raise InputError(
            f"radiomic features of unknown modality {unknown[0]!r}; modalities are {', '.join(MODALITIES)}"
        )
    prefixes = ("shape_", *(f"{m}_" for m in modalities))
    keep = [name for name in features.columns if name.startswith(prefixes)]
    absent = [m for m in ("shape", *modalities) if not any(name.startswith(f"{m}_") for name in keep)]
    if absent:
        raise InputError(f"the radiomic feature tables have no {absent[0]} features (columns '{absent[0]}_*')")
    return features[keep]


def radiomics_signature(features, clinical, split, settings: RadiomicsSettings):
    """Fit :class:`RadiomicsSignature` on the training patients and score everyone.

    Parameters
    ----------
    features : pandas.DataFrame
        Radiomic features, indexed by patient.
    clinical : pandas.DataFrame
        The validated clinical sheet (``patient_id``, ``os_months``, ``os_event``).
    split : pandas.DataFrame
        ``patient_id`` and ``split`` of every patient.

    Returns
    -------
    risk : numpy.ndarray
        Raw linear predictor of every patient of ``split``, in its order (to be
        standardised on train, as every signature is).
    model : RadiomicsSignature
    """
    from survsig.core import columns as col

    ids = split[col.PATIENT_ID].astype(str)
    missing = sorted(set(ids) - set(features.index))
    if missing:
        raise InputError(f"patient {missing[0]} has no radiomic features ({len(missing)} patient(s) missing)")
    outcome = clinical.set_index(clinical[col.PATIENT_ID].astype(str)).loc[ids]
    features = features.loc[ids]
    # a feature missing for a test patient could not score that patient: left out as well
    gaps = [name for name, ok in zip(features.columns, np.isfinite(features.to_numpy(float)).all(axis=0)) if not ok]
    train = (split[col.SPLIT] == "train").to_numpy()
    model = RadiomicsSignature(settings).fit(
        features.drop(columns=gaps)[train],
        outcome[col.OS_MONTHS].to_numpy(float)[train],
        outcome[col.OS_EVENT].to_numpy(int)[train],
    )
    model.dropped_ = {**{name: "not finite for every patient" for name in gaps}, **model.dropped_}
    return model.predict(features), model
