"""The nomograms against the truth of the synthetic cohort: the C-index of each beside its oracle's.

:func:`oracle_predictors` names the true linear predictor that each nomogram estimates;
:func:`oracle_table` sets the C-index of each nomogram beside that of its true
predictor, per split.

Times are in months. Scores follow the package's sign: higher = higher risk.
"""

from __future__ import annotations

import pandas as pd

from survsig.core import columns as col
from survsig.core.errors import InputError
from survsig.core.vocabulary import SIGNATURE_NOMOGRAMS
from survsig.survival.concordance import harrell_c


def oracle_predictors(nomograms, model_channels: dict) -> dict:
    """Nomogram -> true linear predictor of the synthetic cohort that it estimates.

    ``clinical`` -> ``lp_clinical``; ``dl_{model}`` -> the image predictor the model's
    channels see (:data:`survsig.core.columns.ORACLE_PREDICTOR`, ``lp_image`` when it sees
    CT and PET); ``integrated`` -> ``lp_full``; the SUV nomograms have no matching truth
    (None).
    """
    out = {}
    for name in nomograms:
        if name == "clinical":
            out[name] = "lp_clinical"
        elif name == "integrated":
            out[name] = "lp_full"
        elif name.startswith("dl_") or name in SIGNATURE_NOMOGRAMS:
            signature = name[3:] if name.startswith("dl_") else name
            out[name] = col.ORACLE_PREDICTOR.get(frozenset(model_channels.get(signature, ())), col.ORACLE_IMAGE)
        else:
            out[name] = None
    return out


def oracle_table(scores: dict, ground_truth: pd.DataFrame, oracle_of: dict, *, splits=col.SPLIT_LEVELS) -> pd.DataFrame:
    """C-index of each nomogram beside that of its true linear predictor (synthetic cohort).

    Parameters
    ----------
    scores : dict of str to pandas.DataFrame
        Nomogram -> scores file.
    ground_truth : pandas.DataFrame
        ``patient_id`` and the true linear predictors (``lp_clinical``, ...).
    oracle_of : dict
        Nomogram -> column of ``ground_truth`` holding its true predictor (None: no
        matching truth; the row is kept with NaN).
    splits : sequence of str
        The sets, in order (an external cohort's table: ``("external",)``).

    Returns
    -------
    pandas.DataFrame
        ``nomogram, split, n, events, c_index, oracle, oracle_c_index, gap`` (oracle C
        minus nomogram C) per nomogram and split.
    """
    truth = ground_truth.set_index(ground_truth[col.PATIENT_ID].astype(str))
    rows = []
    for name, frame in scores.items():
        oracle = oracle_of.get(name)
        for split in splits:
            part = frame[frame[col.SPLIT] == split]
            time, event = part[col.OS_MONTHS].to_numpy(float), part[col.OS_EVENT].to_numpy(int)
            c = harrell_c(time, event, part["lp"].to_numpy(float))["c"]
            oracle_c = float("nan")
            if oracle:
                ids = part[col.PATIENT_ID].astype(str)
                missing = ids[~ids.isin(truth.index)]
                if len(missing):
                    raise InputError("patient has no ground truth", patient=missing.iloc[0], column=oracle)
                oracle_c = harrell_c(time, event, truth.loc[ids, oracle].to_numpy(float))["c"]
            rows.append(
                {
                    "nomogram": name,
                    "split": split,
                    "n": len(part),
                    "events": int(event.sum()),
                    "c_index": c,
                    "oracle": oracle or "",
                    "oracle_c_index": oracle_c,
                    "gap": oracle_c - c,
                }
            )
    return pd.DataFrame(rows)
