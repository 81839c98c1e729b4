"""Signatures: one risk score per patient and model (higher = higher risk).

Raw scores are standardised with the training set's mean and standard deviation, so a
signature's hazard ratio reads per training-set SD and the test set is never used to
scale anything.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import columns as col
from .errors import InputError

#: Which true predictor of the synthetic cohort a model's channels can see.
ORACLE_PREDICTOR = {
    frozenset({"ct"}): "lp_image_ct",
    frozenset({"ct", "roi"}): "lp_image_ct",
    frozenset({"roi"}): "lp_image_ct",
    frozenset({"pet"}): "lp_image_pet",
    frozenset({"pet", "roi"}): "lp_image_pet",
}


def standardise_signature(raw: pd.Series, split: pd.Series) -> pd.Series:
    """Centre and scale ``raw`` by its mean and SD (ddof=1) over the training patients.

    Parameters
    ----------
    raw : pandas.Series
        Raw risk score per patient.
    split : pandas.Series
        ``train`` or ``test`` per patient, aligned with ``raw``.
    """
    train = raw[split.to_numpy() == "train"]
    if len(train) < 2:
        raise InputError("needs at least 2 training patients to standardise a signature")
    scale = train.std(ddof=1)
    if not np.isfinite(scale) or scale == 0:
        raise InputError("signature is constant over the training set")
    return (raw - train.mean()) / scale


def signature_table(patient_ids, split, raw) -> pd.DataFrame:
    """The signature file's table: ``patient_id, split, signature`` (standardised)."""
    split = pd.Series(np.asarray(split, dtype=object))
    raw = pd.Series(np.asarray(raw, dtype=float))
    return pd.DataFrame(
        {
            col.PATIENT_ID: np.asarray(patient_ids, dtype=object),
            col.SPLIT: split,
            "signature": standardise_signature(raw, split).to_numpy(),
        }
    )


def oracle_signature(ground_truth: pd.DataFrame, split: pd.DataFrame, channels) -> pd.DataFrame:
    """Signature from the synthetic cohort's true image predictor that ``channels`` see.

    CT (with or without ROI) sees ``lp_image_ct``, PET sees ``lp_image_pet`` and any
    model seeing both sees ``lp_image``.
    """
    predictor = ORACLE_PREDICTOR.get(frozenset(channels), "lp_image")
    merged = split.merge(ground_truth, on=col.PATIENT_ID, how="left", validate="one_to_one")
    missing = merged[predictor].isna()
    if missing.any():
        raise InputError(
            "patient has no ground truth",
            patient=merged.loc[missing, col.PATIENT_ID].iloc[0],
            column=predictor,
        )
    return signature_table(merged[col.PATIENT_ID], merged[col.SPLIT], merged[predictor])
