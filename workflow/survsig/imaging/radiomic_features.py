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
:func:`frozen_radiomics` freezes it as JSON data (features, quantile transform,
coefficients, training scale) and :class:`FrozenRadiomics` scores another cohort's
patients with that data, each to the bits the training run gave its own patients.
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


#: How the feature tables (``results/radiomics/features/{batch}.tsv``) write a value: a
#: signature scored from features held otherwise would differ in the last digits
FEATURE_TABLE_FORMAT = "%.10g"


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


def linear_predictor(scores, coef) -> np.ndarray:
    """``scores @ coef`` added up column by column, in column order, over the nonzero
    coefficients.

    A BLAS matrix-vector product rounds a row's sum differently depending on how many rows
    are multiplied together (its kernels block rows); this sum gives each row the same bits
    whichever other rows are scored with it, so a patient scored alone (another cohort's,
    :class:`FrozenRadiomics`) gets the value the training run gave that patient.

    Parameters
    ----------
    scores : ndarray, shape (n, p)
    coef : ndarray, shape (p,)
    """
    scores = np.asarray(scores, dtype=float)
    coef = np.asarray(coef, dtype=float)
    lp = np.zeros(scores.shape[0])
    for j in np.flatnonzero(coef):
        lp += scores[:, j] * coef[j]
    return lp


def usable_features(features) -> tuple[list[str], dict[str, str]]:
    """The columns of ``features`` finite for every row and not constant, and why each
    other column was left out (column -> reason)."""
    dropped = {}
    finite = np.isfinite(features.to_numpy(float))
    for name, ok in zip(features.columns, finite.all(axis=0), strict=True):
        if not ok:
            dropped[name] = "not finite for every patient"
    kept = [c for c in features.columns if c not in dropped]
    spread = features[kept].nunique()
    for name in spread.index[spread < 2]:
        dropped[name] = "constant on the training set"
    return [c for c in kept if c not in dropped], dropped


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
        kept, self.dropped_ = usable_features(features)
        return kept

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
        """Linear predictor (log relative hazard) of each row of ``features``
        (:func:`linear_predictor`: a row's value depends on that row alone)."""
        x = features[self.features_].to_numpy(float)
        return linear_predictor(self.scaler_.transform(x), self.coef_all_)

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


# --------------------------------------------------------------------------- frozen signature
#: Format of a frozen radiomics signature file (:func:`frozen_radiomics`).
FROZEN_FORMAT = "survsig-frozen-radiomics/1"
#: Output distributions of scikit-learn's ``QuantileTransformer``.
QUANTILE_OUTPUTS = ("normal", "uniform")
#: Keys of a frozen radiomics file; ``versions`` may be left out.
FROZEN_KEYS = (
    "format",
    "modalities",
    "features",
    "coef_all",
    "quantile_transformer",
    "train_mean",
    "train_sd",
    "settings",
    "versions",
)
#: Keys of its ``quantile_transformer`` object.
QUANTILE_KEYS = ("output_distribution", "n_quantiles", "references", "quantiles")


def frozen_radiomics(features, clinical, split, settings: RadiomicsSettings, *, modalities=None) -> dict:
    """The radiomics signature of the workflow, fit as its rules fit it, as JSON-ready data.

    Everything :class:`FrozenRadiomics` needs to score another cohort's patients as the
    training run scored its own, without refitting: the features in the model's order,
    the fitted quantile transform (normal scores), the coefficients and the training
    patients' mean and SD of the raw risk. Floats are Python floats, which :mod:`json`
    writes and reads back exactly.

    Parameters
    ----------
    features : pandas.DataFrame
        :func:`read_feature_tables`.
    clinical, split : pandas.DataFrame
        As for :func:`radiomics_signature`.
    settings : RadiomicsSettings
    modalities : sequence of str, optional
        The matched comparator's modalities (:func:`modality_features`); None: every
        feature (rule ``radiomics_signature``).

    Returns
    -------
    dict
        ``format`` (:data:`FROZEN_FORMAT`); ``modalities``; ``features`` (the columns the
        model saw, in its order); ``coef_all`` (one coefficient per feature, most zero);
        ``quantile_transformer``: ``output_distribution``, ``n_quantiles``,
        ``references`` (the quantiles' levels, ``n_quantiles`` values from 0 to 1) and
        ``quantiles`` (``n_quantiles`` rows of one value per feature: scikit-learn's
        ``quantiles_``); ``train_mean`` and ``train_sd`` of the raw risk (the
        signature is ``(raw - train_mean) / train_sd``); ``settings`` (the radiomics
        block, as :meth:`RadiomicsSignature.summary` gives it); ``versions`` of the
        libraries whose arithmetic the scores depend on.
    """
    import scipy
    import sklearn

    from survsig.core import columns as col

    if modalities is not None:
        features = modality_features(features, modalities)
    risk, model = radiomics_signature(features, clinical, split, settings)
    import pandas as pd

    from survsig.imaging.signature import training_scale

    train_mean, train_sd = training_scale(pd.Series(np.asarray(risk, dtype=float)), split[col.SPLIT])
    scaler = model.scaler_
    return {
        "format": FROZEN_FORMAT,
        "modalities": list(settings.modalities if modalities is None else modalities),
        "features": list(model.features_),
        "coef_all": [float(v) for v in model.coef_all_],
        "quantile_transformer": {
            "output_distribution": str(scaler.output_distribution),
            "n_quantiles": int(scaler.n_quantiles_),
            "references": [float(v) for v in scaler.references_],
            "quantiles": np.asarray(scaler.quantiles_, dtype=float).tolist(),
        },
        "train_mean": train_mean,
        "train_sd": train_sd,
        "settings": model.summary()["settings"],
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "scikit-learn": sklearn.__version__},
    }


class FrozenRadiomics:
    """A frozen radiomics signature: scores new patients' feature rows without refitting.

    Built by :meth:`from_dict` (the data of :func:`frozen_radiomics`) or :meth:`load`.
    Only the features with a nonzero coefficient (``used``) are read: the quantile
    transform maps each feature on its own, so leaving the others out changes no bit.

    Parameters
    ----------
    features : sequence of str
        The model's features, in its order.
    coef : array-like
        One coefficient per feature.
    quantiles : array-like, shape (n_quantiles, len(features))
        The training set's quantiles of each feature (scikit-learn's ``quantiles_``).
    references : array-like, shape (n_quantiles,)
        Their levels, from 0 to 1.
    train_mean, train_sd : float
        Mean and SD of the training patients' raw risk.
    output_distribution : str
    modalities : sequence of str
    settings : dict, optional
    versions : dict, optional
    """

    def __init__(
        self,
        features,
        coef,
        quantiles,
        references,
        train_mean,
        train_sd,
        *,
        output_distribution="normal",
        modalities=(),
        settings=None,
        versions=None,
    ):
        from sklearn.preprocessing import QuantileTransformer

        self.features = tuple(features)
        self.coef = np.asarray(coef, dtype=float)
        used = np.flatnonzero(self.coef)
        self.used = tuple(self.features[j] for j in used)
        self.coef_used = self.coef[used]
        references = np.asarray(references, dtype=float)
        quantiles = np.asarray(quantiles, dtype=float)
        # the fitted state QuantileTransformer.transform reads (scikit-learn 1.x): the
        # quantiles and their levels, the number of features and the output distribution
        scaler = QuantileTransformer(n_quantiles=len(references), output_distribution=output_distribution)
        scaler.n_quantiles_ = len(references)
        scaler.references_ = references
        scaler.quantiles_ = np.ascontiguousarray(quantiles[:, used])
        scaler.n_features_in_ = len(used)
        self.scaler = scaler
        self.train_mean = float(train_mean)
        self.train_sd = float(train_sd)
        self.modalities = tuple(modalities)
        self.settings = dict(settings or {})
        self.versions = dict(versions or {})

    def raw(self, features) -> np.ndarray:
        """Raw risk (linear predictor) of each row of ``features``, refusing gaps.

        Parameters
        ----------
        features : pandas.DataFrame
            Radiomic features, one row per patient, indexed by patient
            (:func:`read_feature_tables`); columns other than ``used`` are ignored.

        Raises
        ------
        InputError
            A feature of ``used`` has no column (naming it) or two; a patient's value of
            one is missing, not a number or not finite (naming the patient and the column).
        """
        import pandas as pd

        columns = pd.Index(features.columns)
        absent = [name for name in self.used if name not in columns]
        if absent:
            raise InputError(
                f"the radiomic features lack a feature of the frozen signature "
                f"({len(absent)} of {len(self.used)} missing)",
                column=absent[0],
            )
        repeated = [name for name in self.used if (columns == name).sum() > 1]
        if repeated:
            raise InputError("the radiomic features hold this feature in two columns", column=repeated[0])
        values = features[list(self.used)]
        if not len(values):
            return np.zeros(0)
        x = values.apply(pd.to_numeric, errors="coerce").to_numpy(float)
        bad = ~np.isfinite(x)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise InputError(
                f"radiomic feature is missing or not finite ({values.iat[i, j]!r}): "
                "the frozen signature cannot score this patient",
                patient=values.index[i],
                column=self.used[j],
            )
        return linear_predictor(self.scaler.transform(x), self.coef_used)

    def signature(self, features) -> np.ndarray:
        """The standardised signature ``(raw - train_mean) / train_sd`` of each row of
        ``features`` (:meth:`raw`), the floating-point operations of
        :func:`~survsig.imaging.signature.standardise_signature`: a training patient's
        row gives the bits of the run's signature."""
        return (self.raw(features) - self.train_mean) / self.train_sd

    @classmethod
    def from_dict(cls, data, *, file=None) -> FrozenRadiomics:
        """The frozen signature of :func:`frozen_radiomics`'s data, every key checked.

        Parameters
        ----------
        data : dict
        file : str or path, optional
            The file the data came from, named in error messages.

        Raises
        ------
        InputError
            Naming the file and the key (``coef_all[3]``,
            ``quantile_transformer.quantiles[2][5]``): not this format; a key missing,
            unknown or of the wrong type; an unknown modality; a feature repeated;
            coefficients not one per feature, not finite or all
            zero; quantile levels not increasing from 0 to 1; quantiles not
            ``n_quantiles`` rows of one finite value per feature, or decreasing; a
            training SD not above 0; settings that are not a valid radiomics block.
        """
        from survsig.core.jsonkeys import JsonKeys, json_type, show

        keys = JsonKeys(file, kind="frozen radiomics")
        what = "not a survsig frozen radiomics signature file"
        if not isinstance(data, dict):
            raise InputError(f"{what}: the JSON holds {json_type(data)}, not an object", file=file)
        if data.get("format") != FROZEN_FORMAT:
            raise InputError(f"{what} (format {data.get('format')!r}, expected {FROZEN_FORMAT})", file=file)
        for name in data:
            if name not in FROZEN_KEYS:
                raise keys.error(name, f"is not a key of this format (keys: {', '.join(FROZEN_KEYS)})")

        modalities = keys.texts(keys.get(data, "modalities"), "modalities", min_length=0)
        for i, modality in enumerate(modalities):
            if modality not in MODALITIES:
                raise keys.error(f"modalities[{i}]", f"must be one of {', '.join(MODALITIES)}, got {show(modality)}")
        features = keys.texts(keys.get(data, "features"), "features")
        seen = set()
        for i, name in enumerate(features):
            if name in seen:
                raise keys.error(f"features[{i}]", f"repeats the feature {name!r}")
            seen.add(name)
        coef = keys.numbers(keys.get(data, "coef_all"), "coef_all", length=len(features))
        if not coef.any():
            raise keys.error("coef_all", "holds no nonzero coefficient: the signature would use no feature")

        where = "quantile_transformer"
        block = keys.mapping(keys.get(data, where), where)
        for name in block:
            if name not in QUANTILE_KEYS:
                raise keys.error(f"{where}.{name}", f"is not a key of this format (keys: {', '.join(QUANTILE_KEYS)})")
        output = keys.text(keys.get(block, "output_distribution", where), f"{where}.output_distribution")
        if output not in QUANTILE_OUTPUTS:
            raise keys.error(
                f"{where}.output_distribution", f"must be one of {', '.join(QUANTILE_OUTPUTS)}, got {show(output)}"
            )
        n_quantiles = keys.number(keys.get(block, "n_quantiles", where), f"{where}.n_quantiles", low=2, integer=True)
        references = keys.numbers(
            keys.get(block, "references", where), f"{where}.references", length=n_quantiles, low=0, high=1
        )
        if references[0] != 0 or references[-1] != 1:
            raise keys.error(f"{where}.references", "must run from 0 to 1")
        step = np.flatnonzero(np.diff(references) <= 0)
        if len(step):
            i = int(step[0]) + 1
            raise keys.error(
                f"{where}.references[{i}]", f"is not above {where}.references[{i - 1}]: levels must increase"
            )
        rows = keys.array(keys.get(block, "quantiles", where), f"{where}.quantiles", length=n_quantiles)
        quantiles = np.array(
            [keys.numbers(row, f"{where}.quantiles[{i}]", length=len(features)) for i, row in enumerate(rows)]
        )
        down = np.argwhere(np.diff(quantiles, axis=0) < 0)
        if len(down):
            i, j = int(down[0][0]) + 1, int(down[0][1])
            raise keys.error(
                f"{where}.quantiles[{i}][{j}]",
                f"({quantiles[i, j]!r}) is below {where}.quantiles[{i - 1}][{j}] ({quantiles[i - 1, j]!r}): "
                f"the quantiles of feature {features[j]!r} must not decrease",
            )

        train_mean = keys.number(keys.get(data, "train_mean"), "train_mean")
        train_sd = keys.number(keys.get(data, "train_sd"), "train_sd", above=0)
        settings = keys.mapping(keys.get(data, "settings"), "settings")
        try:
            RadiomicsSettings.from_config(settings)
        except InputError as err:
            raise keys.error("settings", f"is not a valid radiomics block: {err.reason}") from None
        except (TypeError, ValueError) as err:
            raise keys.error("settings", f"is not a valid radiomics block ({err})") from None
        versions = keys.mapping(data.get("versions", {}), "versions")
        for name, value in versions.items():
            keys.text(value, f"versions.{name}")
        return cls(
            features,
            coef,
            quantiles,
            references,
            train_mean,
            train_sd,
            output_distribution=output,
            modalities=modalities,
            settings=settings,
            versions=versions,
        )

    @classmethod
    def load(cls, path) -> FrozenRadiomics:
        """Read a frozen radiomics file (rule ``radiomics_frozen``), checking every key.

        Raises
        ------
        InputError
            The file is not a regular file that may be read, is larger than
            :data:`~survsig.core.paths.JSON_MAX_BYTES`, is not JSON, nests too deep
            (:func:`~survsig.core.jsonkeys.read_json`), or holds no valid frozen
            signature (:meth:`from_dict`, naming the file and the key).
        """
        from survsig.core.jsonkeys import read_json

        return cls.from_dict(read_json(path, what="the frozen radiomics file"), file=path)
