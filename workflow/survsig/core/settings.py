"""Settings the Snakefile reads, light enough to import there: the per-patient
preprocessing's, each network's and ensemble member's training block, which radiomics
comparator each network gets, and the fusion signature's.

``workflow/rules/common.smk`` passes exactly these fields of the ``imaging`` block to each
preprocessing job, so a change to any other key does not re-run the preprocessing.
"""

from __future__ import annotations

from dataclasses import dataclass

from survsig.core.errors import InputError
from survsig.core.vocabulary import RADIOMICS


@dataclass
class PreprocessSettings:
    """Settings of the preprocessing (the ``imaging`` block of the config).

    Spacing and lengths are millimetres; ``ct_window`` is HU; ``pet_max_suv`` is SUV.
    """

    spacing: tuple = (1.0, 1.0, 3.0)
    ct_window: tuple = (-200.0, 250.0)
    pet_max_suv: float = 20.0
    crop_size: int = 64
    box: str = "fixed"
    box_mm: float = 80.0
    margin_mm: float = 5.0

    @classmethod
    def from_config(cls, block) -> PreprocessSettings:
        known = {k: v for k, v in dict(block).items() if k in cls.__dataclass_fields__}
        for key in ("spacing", "ct_window"):
            if key in known:
                known[key] = tuple(float(v) for v in known[key])
        settings = cls(**known)
        if settings.box not in ("fixed", "roi"):
            raise InputError(f"imaging.box must be 'fixed' or 'roi', got {settings.box!r}")
        return settings


def patient_batches(patients, per_job: int) -> dict[str, list[str]]:
    """The preprocessing jobs: batch name -> patient ids, the patients in sorted order,
    ``per_job`` to a job (``imaging.patients_per_job``): ``batch0001``, ``batch0002``, ..."""
    ordered = sorted(patients)
    return {
        f"batch{start // per_job + 1:04d}": ordered[start : start + per_job]
        for start in range(0, len(ordered), per_job)
    }


#: Keys of ``imaging.train`` that shape the jobs of every network: set there, not per network.
SHARED_TRAIN_KEYS = ("members", "validation")


def model_train_block(imaging: dict, model: str) -> dict:
    """The ``imaging.train`` block of network ``model``: ``imaging.train`` with the keys of
    ``imaging.train_by_model[model]``, if any, in place of its own.

    Raises
    ------
    InputError
        When ``imaging.train_by_model`` names a network not in ``imaging.models``, a key
        ``imaging.train`` does not have, or one of :data:`SHARED_TRAIN_KEYS`.
    """
    block = dict(imaging["train"])
    by_model = imaging.get("train_by_model") or {}
    models = imaging["models"]
    unknown = sorted(set(by_model) - set(models))
    if unknown:
        raise InputError(
            f"imaging.train_by_model.{unknown[0]}: no network of that name in imaging.models "
            f"(networks: {', '.join(models)})"
        )
    # every network's changes are checked, whichever network is asked for
    for name, changes in by_model.items():
        for key in changes or {}:
            if key in SHARED_TRAIN_KEYS:
                raise InputError(
                    f"imaging.train_by_model.{name}.{key}: {' and '.join(SHARED_TRAIN_KEYS)} are set for every "
                    "network at once, in imaging.train"
                )
            if key not in block:
                raise InputError(
                    f"imaging.train_by_model.{name}.{key}: imaging.train has no such key "
                    f"(keys: {', '.join(sorted(block))})"
                )
    block.update(by_model.get(model) or {})
    return block


def member_train_block(block: dict, member: int) -> dict:
    """The ``imaging.train`` block for ensemble member ``member``: seed + member (its own
    initialisation, batches and, with ``validation: holdout``, validation fold). With
    ``validation: folds`` the members validate on the ``members`` folds of the training
    set, drawn with the block's own seed (the same folds for every member): member m on
    fold m. ``members`` itself is left out, so that with holdout validation adding
    members adds jobs without re-running the existing ones."""
    out = {key: value for key, value in block.items() if key != "members"}
    if block.get("validation") == "folds":
        out.update(fold=member, folds=int(block["members"]), fold_seed=block["seed"])
    out["seed"] = block["seed"] + member
    return out


def matched_comparators(models: dict, modalities) -> dict:
    """The radiomics comparator of each network: the signature that sees what it sees.

    A network whose channels hold every one of ``modalities`` (the comparator's, the
    ``radiomics`` block's) is matched by the radiomics signature itself; any other by one
    fit the same way on the ROI's shape and the features of the modalities it sees,
    named ``radiomics_{network}``.

    Parameters
    ----------
    models : dict of str to list of str
        Network -> its channels (``imaging.models``).
    modalities : sequence of str
        Modalities of the radiomic features.

    Returns
    -------
    dict of str to tuple of (str, list of str)
        Network -> comparator name and the modalities its features come from.
    """
    out = {}
    for model, channels in models.items():
        seen = [m for m in modalities if m in channels]
        name = RADIOMICS if set(seen) == set(modalities) else f"{RADIOMICS}_{model}"
        if name != RADIOMICS and name in models:
            raise InputError(
                f"imaging.models.{name} is the name of the radiomics comparator matched to network {model}; "
                "name the network otherwise, or set radiomics.enabled: false"
            )
        out[model] = (name, seen)
    return out


@dataclass
class FusionSettings:
    """Settings of the deep radiomics fusion signature (the config's ``fusion`` block;
    :mod:`survsig.imaging.fusion`).

    With ``models`` (the networks of ``imaging.models``) its network must be one of them.
    """

    enabled: bool = True
    model: str = "petct"
    components: int = 8
    with_signature: bool = False

    @classmethod
    def from_config(cls, block, models=None) -> FusionSettings:
        known = {k: v for k, v in dict(block or {}).items() if k in cls.__dataclass_fields__}
        settings = cls(**known)
        for key in ("enabled", "with_signature"):
            if not isinstance(getattr(settings, key), bool):
                raise InputError(f"fusion.{key} must be true or false, got {getattr(settings, key)!r}")
        components = settings.components
        if isinstance(components, bool) or not isinstance(components, int) or components < 1:
            raise InputError(f"fusion.components must be a whole number at least 1, got {components!r}")
        if settings.enabled and models is not None and settings.model not in models:
            raise InputError(
                f"fusion.model {settings.model!r} is no network of imaging.models (networks: {', '.join(models)})"
            )
        return settings
