"""Which true tumour traits a trained network's embedding holds: a linear probe per trait.

Run in a project where the workflow has run on the synthetic cohort (the trained networks,
the radiomic features, the split and ``results/synthetic/ground_truth.tsv``)::

    .venv/bin/python tests/benchmarks/trait_probe.py --model petct
    .venv/bin/python tests/benchmarks/trait_probe.py --model petct --models other/member*/model.pt

Every patient is embedded by the model's trained members as the fusion signature embeds
them (:func:`survsig.imaging.fusion.network_embeddings`, averaged over the members). For each
image trait of :data:`survsig.cohort.patients.HAZARD` a ridge regression (penalty chosen by
cross-validation on the training patients) is fit from the embedding to the trait on the
training patients and scored on the test patients: the Pearson r of prediction and truth.
The same probe of the matched radiomic features stands beside it. A trait the probe
recovers but the signature does not weigh (``train_levers.trait_regression``) is in the
embedding and lost in the risk head; a trait the probe cannot recover never reached the
embedding. Beside them, the trait regression of the fitted oracle's test scores
(:func:`survsig.imaging.signature.fitted_oracle`: the exact traits weighted by a Cox model
of the training patients): the weights a signature can expect from this many deaths if
it saw every trait exactly. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_levers import trait_regression  # noqa: E402

from survsig.cohort.patients import HAZARD  # noqa: E402
from survsig.core import columns as col  # noqa: E402
from survsig.core.files import read_split  # noqa: E402
from survsig.core.io import read_table  # noqa: E402
from survsig.imaging.fusion import network_embeddings  # noqa: E402
from survsig.imaging.radiomic_features import (  # noqa: E402
    MODALITIES,
    modality_features,
    read_feature_tables,
    usable_features,
)
from survsig.imaging.signature import fitted_oracle  # noqa: E402
from survsig.imaging.slices import read_manifest  # noqa: E402


def probe(values: np.ndarray, target: np.ndarray, train: np.ndarray) -> float:
    """Test-set Pearson r of a ridge regression of ``target`` on ``values`` fit on ``train``."""
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 4, 25)))
    model.fit(values[train], target[train])
    predicted = model.predict(values[~train])
    return round(float(np.corrcoef(predicted, target[~train])[0, 1]), 3)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", default=".", help="folder of the completed run (default: here)")
    parser.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    parser.add_argument("--model", default="petct")
    parser.add_argument("--models", nargs="+", help="model files (default: results/models/{model}/member*/model.pt)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    config = yaml.safe_load(Path(args.config).read_text())
    channels = config["imaging"]["models"][args.model]
    results = Path(args.project) / "results"
    split = read_split(results / "split.tsv")
    patients = split[col.PATIENT_ID].astype(str).tolist()
    train = (split[col.SPLIT] == "train").to_numpy()
    truth = read_table(results / "synthetic" / "ground_truth.tsv", dtype={col.PATIENT_ID: str})
    truth = truth.set_index(col.PATIENT_ID).loc[patients]
    traits = [name for name in HAZARD if name in truth.columns]

    models = (
        [Path(p) for p in args.models]
        if args.models
        else sorted((results / "models" / args.model).glob("member*/model.pt"))
    )
    start = time.perf_counter()
    embeddings = network_embeddings(
        models, read_manifest(results / "preprocessed" / "manifest.tsv"), patients, threads=args.threads
    )
    embedding = np.mean(embeddings, axis=0)
    seconds = time.perf_counter() - start

    modalities = [m for m in MODALITIES if m in channels]
    tables = sorted((results / "radiomics" / "features").glob("*.tsv"))
    radiomic = modality_features(read_feature_tables(tables), modalities).loc[patients]
    kept, _ = usable_features(radiomic[train])
    features = radiomic[kept].fillna(radiomic.loc[train, kept].median()).to_numpy(float)

    clinical = read_table(results / "validated" / "clinical.tsv", dtype={col.PATIENT_ID: str})
    oracle = col.ORACLE_PREDICTOR.get(frozenset(channels), col.ORACLE_IMAGE)
    train_ids = [p for p, t in zip(patients, train, strict=True) if t]
    fitted = fitted_oracle(truth, clinical.set_index(col.PATIENT_ID), train_ids, oracle)
    _, fitted_coefficients = trait_regression(fitted.to_numpy(float)[~train], truth[~train])

    result = {
        "model": args.model,
        "members": len(models),
        "embed_seconds": round(seconds, 1),
        "embedding_test_r": {t: probe(embedding, truth[t].to_numpy(float), train) for t in traits},
        "radiomics_test_r": {t: probe(features, truth[t].to_numpy(float), train) for t in traits},
        "fitted_oracle_test_trait_coefficients": fitted_coefficients,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
