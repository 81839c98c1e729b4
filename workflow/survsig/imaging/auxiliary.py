"""Radiomic features as auxiliary targets of a signature network (radiomics-guided training).

With ``imaging.train.radiomics_weight`` above 0 the network predicts, beside each slice's
log hazard, the radiomic features of its patient's ROI (the comparator's pyradiomics
features of the network's modalities and the ROI's shape), and the training loss adds
their mean squared error, times the weight, to the Cox loss. About 100 deaths cannot teach
a network a tumour's texture; the features can, as they are known for every training
patient. The targets are the features' normal scores among the training patients alone:
the test patients' features are neither read nor ranked against.

Most pyradiomics features move with a tumour's size and uptake level, so a squared error
over all of them is mostly a squared error on those two directions. With
``imaging.train.radiomics_components`` the targets are instead the first principal
components of the scores, each scaled to unit variance (whitened): a texture direction,
such as a necrotic core's, then pulls on the network as hard as the size does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from survsig.core import columns as col
from survsig.core.errors import InputError
from survsig.imaging.components import train_components
from survsig.imaging.radiomic_features import usable_features


def auxiliary_targets(features: pd.DataFrame, split: pd.DataFrame, components: int = 0) -> pd.DataFrame:
    """The auxiliary targets of the training patients: each usable feature's normal scores.

    Parameters
    ----------
    features : pandas.DataFrame
        Radiomic features indexed by patient id
        (:func:`~survsig.imaging.radiomic_features.modality_features` of the network's
        modalities).
    split : pandas.DataFrame
        ``patient_id`` and ``split``; only ``train`` patients' rows are read.
    components : int
        0: the scores themselves. Above 0: that many whitened principal components of the
        scores (at most as many as the scores have directions of variance, and fewer than
        the training patients).

    Returns
    -------
    pandas.DataFrame
        Indexed by the training patients (sorted). With ``components`` 0, one float32
        column per feature finite and varying on the training set: Blom's normal scores
        of its ranks among the training patients (mean 0, SD about 1). Otherwise columns
        ``component_1`` ... of mean 0 and SD 1, uncorrelated on the training patients.

    Raises
    ------
    InputError
        When a training patient has no features, or no feature is usable.
    """
    from scipy.stats import norm, rankdata

    train = sorted(split.loc[split[col.SPLIT] == "train", col.PATIENT_ID].astype(str))
    missing = [patient for patient in train if patient not in features.index]
    if missing:
        raise InputError(
            "training patient has no radiomic features for the auxiliary targets (imaging.train.radiomics_weight)",
            patient=missing[0],
        )
    rows = features.loc[train]
    kept, _ = usable_features(rows)
    if not kept:
        raise InputError("no radiomic feature is finite and varies on the training set: no auxiliary target")
    # Blom's normal scores of the ranks: the extremes stay near +-2.5, where the
    # quantile transform's would sit at +-5 and dominate a squared error
    ranks = rankdata(rows[kept].to_numpy(float), axis=0)
    scores = norm.ppf((ranks - 0.375) / (len(ranks) + 0.25))
    index = pd.Index(train, name=col.PATIENT_ID)
    if not components:
        return pd.DataFrame(scores.astype(np.float32), index=index, columns=kept)
    # the components of the training patients' own scores, each scaled to SD 1 among them
    projected = train_components(scores, np.ones(len(train), bool), components)
    whitened = projected / projected.std(axis=0)
    columns = [f"component_{i + 1}" for i in range(whitened.shape[1])]
    return pd.DataFrame(whitened.astype(np.float32), index=index, columns=columns)
