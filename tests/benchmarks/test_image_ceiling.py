"""How much of the image oracle can the preprocessed slices give? A hand-crafted baseline.

Run after the default workflow (``snakemake --cores 2``) with
``.venv/bin/pytest -m benchmark tests/benchmarks/test_image_ceiling.py -s``.
Ten hand-crafted features of each patient's preprocessed slices (log ROI volume and
largest area, slice count, CT mean/spread/low-density share and PET mean/relative
spread/maximum inside the ROI, boundary-to-volume ratio) go into a ridge-penalised Cox
model fitted on the training set: all ten beside the PET/CT network, the ROI's and CT's
seven beside the CT network, the ROI's and PET's seven beside the PET network. Its test
C-index, printed beside the oracle's of those channels and the network's signature's,
says how much of the gap to the oracle is the network's. Another completed project:
``SURVSIG_RESULTS=/path/to/project/results``.
"""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.utils import concordance_index

from survsig.imaging.slices import load_patient_slices, read_manifest

pytestmark = pytest.mark.benchmark
# another completed project's results with SURVSIG_RESULTS=/path/to/project/results
RESULTS = Path(os.environ.get("SURVSIG_RESULTS", Path(__file__).resolve().parents[2] / "results"))


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


#: The ten features of :func:`hand_crafted_features`.
FEATURES = (
    "log_volume",
    "log_largest_area",
    "slices",
    "ct_mean",
    "ct_sd",
    "ct_low_share",
    "pet_mean",
    "pet_relative_sd",
    "pet_max",
    "boundary_ratio",
)
#: Per model: the features its channels can give (the ROI's size and shape, and the
#: intensity features of its modalities) and the oracle of those channels.
MODELS = {
    "petct": (list(FEATURES), "lp_image"),
    "ct": ([name for name in FEATURES if not name.startswith("pet_")], "lp_image_ct"),
    "pet": ([name for name in FEATURES if not name.startswith("ct_")], "lp_image_pet"),
}


def test_hand_crafted_image_features_beside_oracle_and_signature():
    needed = [
        RESULTS / "preprocessed/manifest.tsv",
        RESULTS / "split.tsv",
        RESULTS / "validated/clinical.tsv",
        RESULTS / "synthetic/ground_truth.tsv",
        *(RESULTS / f"signatures/{model}.tsv" for model in MODELS),
    ]
    if not all(path.is_file() for path in needed):
        pytest.skip("run the default workflow first (snakemake --cores 2)")
    read = lambda path: pd.read_csv(path, sep="\t", dtype={"patient_id": str}).set_index("patient_id")  # noqa: E731
    split, clinical, truth = (read(path) for path in needed[1:4])
    features = pd.DataFrame(
        {
            patient.patient_id: hand_crafted_features(patient.slices)
            for patient in map(load_patient_slices, (RESULTS.parent / p for p in read_manifest(needed[0])))
        }
    ).T.astype(float)
    train = split.index[split["split"] == "train"]
    test = split.index[split["split"] == "test"]
    # the tumour's size as a network averaging its slices' scores can read it, beside its volume
    size = {"log volume": features["log_volume"], "log mean area": features["log_volume"] - np.log(features["slices"])}
    features = (features - features.loc[train].mean()) / features.loc[train].std()

    def test_cindex(score):
        return concordance_index(clinical.loc[test, "os_months"], -score, clinical.loc[test, "os_event"])

    for model, (columns, oracle) in MODELS.items():
        frame = features[columns].join(clinical[["os_months", "os_event"]])
        fit = CoxPHFitter(penalizer=0.01).fit(frame.loc[train], "os_months", "os_event")
        hand_crafted = test_cindex(fit.predict_log_partial_hazard(frame.loc[test, columns]))
        network = test_cindex(read(RESULTS / f"signatures/{model}.tsv").loc[test, "signature"])
        print(
            f"\n{model}: test C-index of the oracle ({oracle}) {test_cindex(truth.loc[test, oracle]):.3f}, "
            f"hand-crafted features + Cox {hand_crafted:.3f} (train {fit.concordance_index_:.3f}, "
            f"{len(columns)} features), the network's signature {network:.3f}"
        )
        assert hand_crafted > 0.5
    print(
        "test C-index of the ROI's "
        + ", ".join(f"{name} {test_cindex(value.loc[test]):.3f}" for name, value in size.items())
    )
