"""An external cohort scored by the frozen run: signatures, nomogram scores, risk groups.

Nothing here learns from the external patients: the signatures are standardised with the
training scales (:class:`~survsig.imaging.signature.FrozenSignature`), the nomograms keep
their training coefficients and baseline, the risk groups the training cut-off. Their
outcomes are only carried along to be evaluated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from survsig.core import columns as col
from survsig.statistics.nomogram import CoxNomogram
from survsig.statistics.scoring import score_table
from survsig.statistics.stratify import assign_risk_groups
from survsig.statistics.terms import patient_table


def external_split(patient_ids) -> pd.DataFrame:
    """``patient_id, split`` with every patient in the ``external`` set."""
    ids = np.asarray([str(p) for p in patient_ids], dtype=object)
    return pd.DataFrame({col.PATIENT_ID: ids, col.SPLIT: np.full(len(ids), col.EXTERNAL, dtype=object)})


def external_signature_table(patient_ids, signature) -> pd.DataFrame:
    """A signature file's table for external patients: ``patient_id, split, signature``."""
    table = external_split(patient_ids)
    table["signature"] = np.asarray(signature, dtype=float)
    return table


def external_scores(nomogram: CoxNomogram, clinical: pd.DataFrame, signatures: dict, *, files=None) -> pd.DataFrame:
    """The scores file of the external cohort under one nomogram (no refit).

    Parameters
    ----------
    nomogram : CoxNomogram
        The training run's nomogram.
    clinical : pandas.DataFrame
        The external cohort's validated clinical sheet.
    signatures : dict of str to pandas.DataFrame
        Model -> its external signature table (the models the nomogram uses).
    files : dict, optional
        Names of the files, for messages (see :func:`~survsig.statistics.terms.patient_table`).

    Returns
    -------
    pandas.DataFrame
        ``patient_id, split, os_months, os_event, lp``, split ``external``.
    """
    frame = patient_table(
        clinical, external_split(clinical[col.PATIENT_ID]), signatures, files=files, levels=(col.EXTERNAL,)
    )
    return score_table(nomogram, frame)


def external_risk_groups(scores: pd.DataFrame, cutoff: float) -> pd.DataFrame:
    """The scores with ``risk_group`` by the training set's cut-off, applied as it is."""
    groups = scores.copy()
    groups[col.RISK_GROUP] = assign_risk_groups(groups["lp"], cutoff)
    return groups
