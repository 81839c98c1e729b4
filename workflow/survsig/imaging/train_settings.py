"""Settings of the training of the deep learning signatures (``imaging.train`` in the config).

:class:`TrainSettings` holds them, checked as they are read: the epochs and early
stopping, the batches, the optimiser, the validation fold (a holdout or the folds of a
cross-validated fold ensemble), the loss's ties, the aggregate of slice scores, the
augmentation, standardisation and context of the inputs, the regularisation, the weight of
the radiomic features as auxiliary targets, the seed, the initialisation, the snapshots and
the device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from survsig.core.errors import InputError
from survsig.imaging.network import INITS


@dataclass
class TrainSettings:
    """Settings of the training (``imaging.train`` in the config)."""

    epochs: int = 45
    patience: int = 15
    selection_window: int = 3
    batch_patients: int = 32
    slices_per_patient: int = 2
    learning_rate: float = 3e-4
    weight_decay: float = 0.05
    max_grad_norm: float = 1.0
    lr_schedule: str = "cosine"
    validation_fraction: float = 0.2
    validation: str = "holdout"
    fold: int = 0
    folds: int = 1
    fold_seed: int | None = None
    min_events_per_batch: int = 2
    ties: str = "efron"
    aggregate: str = "mean"
    augment: bool = True
    intensity_jitter: float = 0.1
    standardise: bool = False
    context_mm: float | None = None
    drop_rate: float = 0.5
    drop_path_rate: float = 0.2
    radiomics_weight: float = 0.0
    radiomics_components: int = 0
    seed: int = 2022
    init: str = "imagenet"
    snapshots: int = 5
    device: str = "auto"

    @classmethod
    def from_config(cls, block) -> TrainSettings:
        known = {k: v for k, v in dict(block or {}).items() if k in cls.__dataclass_fields__}
        settings = cls(**known)
        if settings.aggregate not in ("mean", "max"):
            raise InputError(f"imaging.train.aggregate must be 'mean' or 'max', got {settings.aggregate!r}")
        if settings.lr_schedule not in ("cosine", "constant"):
            raise InputError(f"imaging.train.lr_schedule must be 'cosine' or 'constant', got {settings.lr_schedule!r}")
        if settings.ties not in ("efron", "breslow"):
            raise InputError(f"imaging.train.ties must be 'efron' or 'breslow', got {settings.ties!r}")
        if settings.init not in INITS:
            raise InputError(f"imaging.train.init must be 'imagenet' or 'scratch', got {settings.init!r}")
        for key in ("drop_rate", "drop_path_rate"):
            if not 0.0 <= float(getattr(settings, key)) < 1.0:
                raise InputError(f"imaging.train.{key} must be in [0, 1), got {getattr(settings, key)!r}")
        weight = settings.radiomics_weight
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= weight < math.inf:
            raise InputError(f"imaging.train.radiomics_weight must be a number at least 0, got {weight!r}")
        components = settings.radiomics_components
        if isinstance(components, bool) or not isinstance(components, int) or components < 0:
            raise InputError(
                f"imaging.train.radiomics_components must be a whole number at least 0, got {components!r}"
            )
        if not 0.0 <= float(settings.intensity_jitter) <= 1.0:
            raise InputError(f"imaging.train.intensity_jitter must be in [0, 1], got {settings.intensity_jitter!r}")
        if not isinstance(settings.standardise, bool):
            raise InputError(f"imaging.train.standardise must be true or false, got {settings.standardise!r}")
        context = settings.context_mm
        if context is not None and (
            isinstance(context, bool) or not isinstance(context, (int, float)) or not 0 < context < math.inf
        ):
            raise InputError(f"imaging.train.context_mm must be a positive number of mm or null, got {context!r}")
        if int(settings.snapshots) < 1:
            raise InputError(f"imaging.train.snapshots must be at least 1, got {settings.snapshots!r}")
        if settings.validation not in ("holdout", "folds"):
            raise InputError(f"imaging.train.validation must be 'holdout' or 'folds', got {settings.validation!r}")
        if settings.validation == "folds" and not 0 <= int(settings.fold) < int(settings.folds):
            raise InputError(
                f"imaging.train.validation 'folds': fold {settings.fold} of {settings.folds} does not exist "
                "(one fold per ensemble member, imaging.train.members)"
            )
        return settings
