"""Deep-radiomics fusion: one signature from a network's embedding and the radiomic features.

Many deep radiomics nomograms put what a network learnt beside the hand-crafted features
and let a penalised Cox model weigh both. Here the network is a trained signature model
(its members' kept networks, frozen); each patient's embedding is the mean over its slices
of the network's pooled features (the input of its output layer), reduced to its first
principal components on the training patients. These and the radiomic features of its
modalities go into the radiomics comparator's elastic-net Cox model
(:class:`~survsig.imaging.radiomic_features.RadiomicsSignature`: normal scores, penalty by
cross-validation, all on the training patients). The network's own signature can join them
(``with_signature``), but it was fit to the same patients' outcomes: on them it ranks
better than it will on others, and a model fit there gives it the most weight. The
fusion signature is a signature of its own (``fusion``); it never replaces the network's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from survsig.core import columns as col
from survsig.core.errors import InputError
from survsig.core.settings import FusionSettings
from survsig.imaging.components import train_components

#: The network's own signature among the fusion signature's features.
NETWORK_SIGNATURE = "network_signature"


def network_embeddings(model_paths, slice_files, patients, *, threads=None) -> list[np.ndarray]:
    """Each member's embedding of ``patients``: the kept network's pooled features averaged
    over a patient's slices, one array (patients, features) per member."""
    from survsig.imaging.signature import load_members
    from survsig.imaging.slice_data import load_slice_data

    members = load_members(model_paths, threads=threads)
    data = load_slice_data(slice_files, members[0].channels, context_mm=members[0].settings.context_mm)
    missing = [p for p in patients if p not in data]
    if missing:
        raise InputError("patient has no preprocessed slices", patient=missing[0])
    return [member.embed_patient_by_patient(data, patients) for member in members]


def embedding_components(embeddings, split: pd.DataFrame, components: int) -> pd.DataFrame:
    """The first ``components`` principal components of each member's embedding, the
    centring and axes learnt on the training patients of ``split`` alone.

    Parameters
    ----------
    embeddings : list of ndarray
        :func:`network_embeddings`, rows in the order of ``split``.
    split : pandas.DataFrame
        ``patient_id``, ``split`` of the same patients.
    components : int
        Components per member (fewer when the training patients, the features or their
        directions of variance are fewer; :func:`~survsig.imaging.components.train_components`).

    Returns
    -------
    pandas.DataFrame
        Indexed by patient id; columns ``member{m}_pc{k}``.
    """
    train = (split[col.SPLIT] == "train").to_numpy()
    ids = pd.Index(split[col.PATIENT_ID].astype(str), name=col.PATIENT_ID)
    columns = {}
    for m, values in enumerate(embeddings):
        values = np.asarray(values, float)
        if len(values) != len(ids):
            raise InputError(f"member {m}'s embedding holds {len(values)} patients, the split {len(ids)}")
        projected = train_components(values, train, components)
        for j in range(projected.shape[1]):
            columns[f"member{m}_pc{j + 1}"] = projected[:, j]
    return pd.DataFrame(columns, index=ids)


def fusion_features(components: pd.DataFrame, radiomics: pd.DataFrame, signature=None) -> pd.DataFrame:
    """The fusion model's features per patient: the embedding's components, the radiomic
    features and, when given, the network's signature (``network_signature``), for the
    patients of ``components``.

    Raises
    ------
    InputError
        When a patient has no radiomic features (or no signature), or a radiomic feature
        has the name of a network feature.
    """
    ids = components.index
    parts = {"radiomic features": radiomics}
    if signature is not None:
        scores = signature.set_index(signature[col.PATIENT_ID].astype(str))["signature"]
        parts["network signature"] = scores.rename(NETWORK_SIGNATURE).to_frame()
    for what, table in parts.items():
        missing = [p for p in ids if p not in table.index]
        if missing:
            raise InputError(f"patient has no {what} for the fusion signature", patient=missing[0])
    clash = sorted(set(radiomics.columns) & {*components.columns, NETWORK_SIGNATURE})
    if clash:
        raise InputError(f"radiomic feature {clash[0]!r} has the name of a network feature")
    network = [parts["network signature"].loc[ids]] if signature is not None else []
    return pd.concat([components, *network, radiomics.loc[ids]], axis=1).rename_axis(col.PATIENT_ID)


def fusion_signature(
    model_paths,
    slice_files,
    features,
    clinical,
    split,
    settings: FusionSettings,
    radiomics,
    *,
    network=None,
    threads=None,
):
    """Fit the fusion signature on the training patients of ``split`` and score every patient.

    Parameters
    ----------
    model_paths : sequence of path
        The trained members of the network ``settings.model``.
    slice_files : sequence of path
        The preprocessed slice files of the patients of ``split``.
    features : pandas.DataFrame
        Radiomic features of the network's modalities, indexed by patient.
    clinical : pandas.DataFrame
        The validated clinical sheet.
    split : pandas.DataFrame
        ``patient_id`` and ``split`` of every patient.
    settings : FusionSettings
    radiomics : RadiomicsSettings
        The comparator's settings: its elastic-net Cox model fits the fused features.
    network : pandas.DataFrame, optional
        The network's signature file; a feature with ``settings.with_signature``.
    threads : int, optional

    Returns
    -------
    risk : numpy.ndarray
        Raw linear predictor of every patient of ``split``, in its order.
    model : RadiomicsSignature
    """
    from survsig.imaging.radiomic_features import radiomics_signature

    if settings.with_signature and network is None:
        raise InputError("fusion.with_signature needs the network's signature file")
    patients = split[col.PATIENT_ID].astype(str).tolist()
    embeddings = network_embeddings(model_paths, slice_files, patients, threads=threads)
    fused = fusion_features(
        embedding_components(embeddings, split, settings.components),
        features,
        network if settings.with_signature else None,
    )
    return radiomics_signature(fused, clinical, split, radiomics)
