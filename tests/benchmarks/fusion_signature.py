"""Measure the deep radiomics fusion signature on a completed run, as rule ``fusion_signature`` makes it.

Run in a project where the workflow has run (the trained networks, their signatures, the
radiomic features, the split, the validated clinical sheet and, for the truth, the
synthetic ground truth)::

    .venv/bin/python tests/benchmarks/fusion_signature.py --model petct
    .venv/bin/python tests/benchmarks/fusion_signature.py --model petct --components 4
    .venv/bin/python tests/benchmarks/fusion_signature.py --model petct --with-signature

It makes the fusion signature as the rule does (:func:`survsig.imaging.fusion.fusion_signature`:
every patient embedded by the model's trained members, ``results/models/{model}``), with the
config's ``radiomics`` block (``--seed`` for its folds), times it,
and prints one JSON line: the test C-index of the fusion signature beside the network's and
the matched radiomics signature's fit the same way here, the features the fusion kept, and,
on the synthetic cohort, the signature's correlation with the true predictor and its
regression on the true traits (``train_levers.trait_regression``). ``--output`` writes
the fusion signature (the format of ``results/signatures``).
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

from survsig.core import columns as col  # noqa: E402
from survsig.core.files import read_split  # noqa: E402
from survsig.core.io import read_table  # noqa: E402
from survsig.core.settings import FusionSettings  # noqa: E402
from survsig.imaging.fusion import fusion_signature  # noqa: E402
from survsig.imaging.radiomic_features import (  # noqa: E402
    MODALITIES,
    RadiomicsSettings,
    modality_features,
    radiomics_signature,
    read_feature_tables,
)
from survsig.imaging.signature import signature_table  # noqa: E402
from survsig.imaging.slices import read_manifest  # noqa: E402
from survsig.survival.concordance import concordance_index  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", default=".", help="folder of the completed run (default: here)")
    parser.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    parser.add_argument("--model", default="petct")
    parser.add_argument("--components", type=int, default=None, help="default: the config's fusion.components")
    parser.add_argument("--seed", type=int, default=None, help="radiomics.seed of the run (default: the config's)")
    parser.add_argument("--with-signature", action="store_true", help="the network's signature joins the features")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", help="also write the fusion signature here (TSV)")
    args = parser.parse_args(argv)

    config = yaml.safe_load(Path(args.config).read_text())
    radiomics = dict(config["radiomics"], **({"seed": args.seed} if args.seed is not None else {}))
    settings = RadiomicsSettings.from_config(radiomics)
    components = args.components or config["fusion"]["components"]
    channels = config["imaging"]["models"][args.model]
    results = Path(args.project) / "results"
    split = read_split(results / "split.tsv")
    clinical = read_table(results / "validated" / "clinical.tsv", dtype={col.PATIENT_ID: str})
    patients = split[col.PATIENT_ID].astype(str).tolist()

    network = read_table(results / "signatures" / f"{args.model}.tsv", dtype={col.PATIENT_ID: str})
    modalities = [m for m in MODALITIES if m in channels]
    tables = sorted((results / "radiomics" / "features").glob("*.tsv"))
    radiomic = modality_features(read_feature_tables(tables), modalities)
    models = sorted((results / "models" / args.model).glob("member*/model.pt"))
    fusion = FusionSettings.from_config(
        dict(config["fusion"], model=args.model, components=components, with_signature=args.with_signature)
    )
    start = time.perf_counter()
    risk, model = fusion_signature(
        models,
        read_manifest(results / "preprocessed" / "manifest.tsv"),
        radiomic,
        clinical,
        split,
        fusion,
        settings,
        network=network,
        threads=args.threads,
    )
    seconds = time.perf_counter() - start
    comparator, _ = radiomics_signature(radiomic, clinical, split, settings)
    signature = signature_table(split[col.PATIENT_ID], split[col.SPLIT], risk)
    if args.output:
        signature.to_csv(args.output, sep="\t", index=False)

    test = (split[col.SPLIT] == "test").to_numpy()
    outcome = clinical.set_index(clinical[col.PATIENT_ID].astype(str)).loc[patients]
    time_, event = outcome[col.OS_MONTHS].to_numpy(float)[test], outcome[col.OS_EVENT].to_numpy(int)[test]
    by_id = network.set_index(network[col.PATIENT_ID].astype(str)).loc[patients, "signature"].to_numpy(float)

    def cindex(values):
        return round(concordance_index(time_, event, np.asarray(values, float)[test]), 4)

    result = {
        "model": args.model,
        "components": components,
        "with_signature": args.with_signature,
        "members": len(models),
        "seconds": round(seconds, 1),
        "test_cindex": cindex(signature["signature"]),
        "network_test_cindex": cindex(by_id),
        "radiomics_test_cindex": cindex(comparator),
        "kept": {name: round(float(value), 3) for name, value in model.coef_.items()},
    }
    truth_file = results / "synthetic" / "ground_truth.tsv"
    if truth_file.exists():
        truth = read_table(truth_file, dtype={col.PATIENT_ID: str}).set_index(col.PATIENT_ID).loc[patients]
        oracle = col.ORACLE_PREDICTOR.get(frozenset(channels), col.ORACLE_IMAGE)
        true = truth[oracle].to_numpy(float)[test]
        result["test_oracle_cindex"] = cindex(truth[oracle])
        result["test_pearson"] = round(float(np.corrcoef(signature["signature"].to_numpy()[test], true)[0, 1]), 3)
        r2, loadings = trait_regression(signature["signature"].to_numpy(float)[test], truth[test])
        result["test_traits_r2"] = round(r2, 3)
        result["test_trait_coefficients"] = loadings
    print(json.dumps(result))


if __name__ == "__main__":
    main()
