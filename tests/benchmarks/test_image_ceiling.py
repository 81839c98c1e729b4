"""How much of the image oracle can the preprocessed slices give? A hand-crafted baseline.

Run after the default workflow (``snakemake --cores 2``) with
``.venv/bin/pytest -m benchmark tests/benchmarks/test_image_ceiling.py -s``.
Ten hand-crafted features of each patient's preprocessed slices (log ROI volume and
largest area, slice count, CT mean/spread/low-density share and PET mean/relative
spread/maximum inside the ROI, boundary-to-volume ratio) go into a ridge-penalised Cox
model fitted on the training set. Its test C-index, printed beside the image oracle's and
the trained PET/CT signature's, says how much of the gap to the oracle is the network's.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.utils import concordance_index

from survsig.slices import load_patient_slices, read_manifest

pytestmark = pytest.mark.benchmark
RESULTS = Path(__file__).resolve().parents[2] / "results"


def hand_crafted_features(slices: np.ndarray) -> dict:
    slices = slices.astype(np.float32)
    ct, pet, roi = slices[:, 0], slices[:, 1], slices[:, 2] > 0.5
    ct_in, pet_in = ct[roi], pet[roi]
    boundary = (roi ^ np.roll(roi, 1, axis=1)).sum() + (roi ^ np.roll(roi, 1, axis=2)).sum()
    return {
        "log_volume": np.log(roi.sum()),
        "log_largest_area": np.log(roi.sum(axis=(1, 2)).max()),
        "slices": len(slices),
        "ct_mean": ct_in.mean(),
        "ct_sd": ct_in.std(),
        "ct_low_share": (ct_in < 0.7 * np.median(ct_in)).mean(),
        "pet_mean": pet_in.mean(),
        "pet_relative_sd": pet_in.std() / max(pet_in.mean(), 1e-3),
        "pet_max": pet_in.max(),
        "boundary_ratio": boundary / roi.sum() ** (2 / 3),
    }


def test_hand_crafted_image_features_beside_oracle_and_signature():
    needed = [
        RESULTS / "preprocessed/manifest.tsv",
        RESULTS / "split.tsv",
        RESULTS / "validated/clinical.tsv",
        RESULTS / "synthetic/ground_truth.tsv",
        RESULTS / "signatures/petct.tsv",
    ]
    if not all(path.is_file() for path in needed):
        pytest.skip("run the default workflow first (snakemake --cores 2)")
    read = lambda path: pd.read_csv(path, sep="\t", dtype={"patient_id": str}).set_index("patient_id")  # noqa: E731
    split, clinical, truth, signature = (read(path) for path in needed[1:])
    features = pd.DataFrame(
        {
            patient.patient_id: hand_crafted_features(patient.slices)
            for patient in map(load_patient_slices, (RESULTS.parent / p for p in read_manifest(needed[0])))
        }
    ).T.astype(float)
    train = split.index[split["split"] == "train"]
    test = split.index[split["split"] == "test"]
    features = (features - features.loc[train].mean()) / features.loc[train].std()
    frame = features.join(clinical[["os_months", "os_event"]])
    model = CoxPHFitter(penalizer=0.01).fit(frame.loc[train], "os_months", "os_event")

    def test_cindex(score):
        return concordance_index(clinical.loc[test, "os_months"], -score, clinical.loc[test, "os_event"])

    hand_crafted = test_cindex(model.predict_log_partial_hazard(frame.loc[test, features.columns]))
    oracle = test_cindex(truth.loc[test, "lp_image"])
    network = test_cindex(signature.loc[test, "signature"])
    print(
        f"\ntest C-index: image oracle {oracle:.3f}, hand-crafted features + Cox {hand_crafted:.3f} "
        f"(train {model.concordance_index_:.3f}), PET/CT signature {network:.3f}"
    )
    assert hand_crafted > 0.5
