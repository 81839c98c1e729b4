"""The synthetic cohort beside the study: Table 1, follow-up and the oracle C-indices.

:func:`cohort_summary` sets the cohort's figures (patients, deaths, median follow-up,
each category's share, SUV medians, oracle Harrell C-index of each true linear predictor)
beside the study's (rule ``cohort_summary``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from survsig.cohort.patients import TABLE1_PROPORTIONS
from survsig.core import columns as col
from survsig.survival.concordance import concordance_index
from survsig.survival.km import reverse_km_follow_up

# --------------------------------------------------------------------------- summary
ORACLES = {
    "clinical": "lp_clinical",
    "image": "lp_image",
    "image_ct": "lp_image_ct",
    "image_pet": "lp_image_pet",
    "full": "lp_full",
}


def cohort_summary(clinical: pd.DataFrame, ground_truth: pd.DataFrame) -> pd.DataFrame:
    """The synthetic cohort's figures beside the study's (Table 1 and the text).

    Rows of ``(quantity, value, paper)``: patients, deaths (%), median follow-up
    (months, reverse Kaplan-Meier), each category's share (%), SUV medians and the
    oracle Harrell C-index of each true linear predictor (higher = higher risk).
    """
    n = len(clinical)
    time = clinical[col.OS_MONTHS].to_numpy(float)
    event = clinical[col.OS_EVENT].to_numpy(int)
    rows = [
        ("patients", n, 420),
        ("deaths (%)", 100.0 * event.mean(), 100.0 * 178 / 420),
        ("median follow-up (months, reverse KM)", reverse_km_follow_up(time, event)[0], 36.0),
        ("age median (years)", clinical["age"].median(), 48.0),
    ]
    for name, counts in TABLE1_PROPORTIONS.items():
        total = sum(counts.values())
        for level, count in counts.items():
            share = 100.0 * (clinical[name] == level).mean()
            rows.append((f"{name} = {level} (%)", share, 100.0 * count / total))
    paper_suv = {"tumor_suv_max": 8.88, "tumor_suv_peak": 6.10, "tumor_suv_mean": 3.99}
    for name, paper in paper_suv.items():
        if name in clinical:
            rows.append((f"{name} median", clinical[name].median(), paper))
    truth = ground_truth.set_index(col.PATIENT_ID).loc[clinical[col.PATIENT_ID]]
    paper_c = {"clinical": 0.673, "image": 0.722, "full": 0.741}
    for name, column in ORACLES.items():
        c_index = concordance_index(time, event, truth[column].to_numpy())
        rows.append((f"oracle C-index {name}", c_index, paper_c.get(name, np.nan)))
    summary = pd.DataFrame(rows, columns=["quantity", "value", "paper"])
    summary["value"] = summary["value"].astype(float)
    return summary
