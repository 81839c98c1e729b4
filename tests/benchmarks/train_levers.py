"""Measure a lever of the training: one model trained on a completed run's slices.

Run in a project where the workflow has run (at least ``results/preprocessed/manifest.tsv``,
the validated clinical sheet, the split and, for the oracle, the synthetic ground truth)::

    .venv/bin/python tests/benchmarks/train_levers.py --model petct --set init=scratch
    .venv/bin/python tests/benchmarks/train_levers.py --model ct --channels ct --set init=imagenet
    .venv/bin/python tests/benchmarks/train_levers.py --model petct --members 3 --set validation=folds
    .venv/bin/python tests/benchmarks/train_levers.py --model petct --set radiomics_weight=1
    .venv/bin/python tests/benchmarks/train_levers.py --model petct --pretrain epochs=30

It trains ``--members`` networks of the model with the config's ``imaging.train`` block
(and the model's ``imaging.train_by_model`` keys) changed by ``--set key=value`` (values
in YAML), as the workflow's ``train`` jobs would (member m:
``survsig.core.settings.member_train_block``), one thread each (``--threads``), one after another;
builds their signature as ``predict_signature`` does; and prints one JSON line: minutes,
train and test C-index beside the oracle's, and the Pearson and Spearman correlations of the
signature with the true predictor its channels see, and the share of the signature's
variance the true tumour traits explain (``traits_r2``) with the coefficient of each trait
(``trait_coefficients``, signature and traits standardised). A C-index on 168 test patients moves by
about 0.02 between seeds; the correlation with the truth moves less and says more about
what the network learnt.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "workflow"))

from survsig.cohort.patients import HAZARD  # noqa: E402
from survsig.core import columns as col  # noqa: E402
from survsig.core.files import read_split  # noqa: E402
from survsig.core.io import read_table  # noqa: E402
from survsig.core.settings import member_train_block, model_train_block  # noqa: E402
from survsig.imaging.auxiliary import auxiliary_targets  # noqa: E402
from survsig.imaging.pretrain import PretrainSettings, pretrain_network, pretraining_patients  # noqa: E402
from survsig.imaging.radiomic_features import MODALITIES, modality_features, read_feature_tables  # noqa: E402
from survsig.imaging.signature import trained_signature  # noqa: E402
from survsig.imaging.slice_data import load_slice_data  # noqa: E402
from survsig.imaging.slices import read_manifest  # noqa: E402
from survsig.imaging.train import train_signature_model  # noqa: E402
from survsig.imaging.train_settings import TrainSettings  # noqa: E402
from survsig.survival.concordance import concordance_index  # noqa: E402


def trait_regression(signature, truth):
    """The signature regressed on the true tumour traits (the image terms of
    ``survsig.cohort.patients.HAZARD``), both standardised.

    Returns the share of the signature's variance the traits explain (what is left is
    noise the network learnt, not a trait it saw) and each trait's coefficient (which
    traits the network sees; the truth weighs them as ``HAZARD`` does).
    """
    traits = [name for name in HAZARD if name in truth.columns]
    values = truth[traits].to_numpy(float)
    design = np.column_stack([np.ones(len(truth)), (values - values.mean(0)) / values.std(0)])
    target = (signature - signature.mean()) / signature.std()
    coefficients = np.linalg.lstsq(design, target, rcond=None)[0]
    r2 = 1.0 - np.var(target - design @ coefficients)
    return float(r2), {name: round(float(b), 2) for name, b in zip(traits, coefficients[1:], strict=True)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", default=".", help="folder of the completed run (default: here)")
    parser.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    parser.add_argument("--model", default="petct")
    parser.add_argument("--channels", nargs="+", help="channels instead of the model's")
    parser.add_argument("--members", type=int, default=1)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="imaging.train keys")
    parser.add_argument(
        "--pretrain", nargs="*", metavar="KEY=VALUE", help="pretrain first, with these imaging.pretrain keys"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1); another count sums floats in another order, as another CPU does",
    )
    parser.add_argument("--output", help="also write the signature here (TSV)")
    parser.add_argument(
        "--truth-targets",
        action="store_true",
        help="the true image traits (synthetic ground truth) as the auxiliary targets: what the network sees when told",
    )
    parser.add_argument("--keep-models", help="keep the trained members' model files in this folder")
    parser.add_argument(
        "--signature", help="train nothing: describe this signature file (a run's results/signatures/{model}.tsv)"
    )
    args = parser.parse_args(argv)

    import torch

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the epochs, on stderr
    torch.set_num_threads(args.threads)
    config = yaml.safe_load(Path(args.config).read_text())
    block = dict(model_train_block(config["imaging"], args.model), members=args.members)
    for pair in args.set:
        key, value = pair.split("=", 1)
        block[key] = yaml.safe_load(value)
    channels = args.channels or config["imaging"]["models"][args.model]
    project = Path(args.project)
    manifest = read_manifest(project / "results" / "preprocessed" / "manifest.tsv")
    clinical = read_table(project / "results" / "validated" / "clinical.tsv", dtype={"patient_id": str})
    split = read_split(project / "results" / "split.tsv")
    truth_file = project / "results" / "synthetic" / "ground_truth.tsv"
    truth = read_table(truth_file, dtype={"patient_id": str}).set_index("patient_id") if truth_file.exists() else None

    start = time.perf_counter()
    if args.signature:
        signature = read_table(args.signature, dtype={"patient_id": str})
    else:
        targets = None
        if block.get("radiomics_weight") and args.truth_targets:
            if truth is None:
                parser.error(f"--truth-targets needs the synthetic ground truth, {truth_file}")
            targets = auxiliary_targets(truth[[name for name in HAZARD if name in truth.columns]], split)
        elif block.get("radiomics_weight"):
            # the comparator's features of the network's modalities, as the train rule reads them
            tables = sorted((project / "results" / "radiomics" / "features").glob("*.tsv"))
            modalities = [m for m in MODALITIES if m in channels]
            targets = auxiliary_targets(
                modality_features(read_feature_tables(tables), modalities),
                split,
                components=int(block.get("radiomics_components", 0)),
            )

        initial_state = None
        if args.pretrain is not None:
            # as rule pretrain: the slices the network sees, no outcome
            pretrain = dict(config["imaging"].get("pretrain") or {}, method="contrastive")
            for pair in args.pretrain:
                key, value = pair.split("=", 1)
                pretrain[key] = yaml.safe_load(value)
            pretrain = PretrainSettings.from_config(pretrain)
            data = load_slice_data(manifest, channels, context_mm=block.get("context_mm"))
            initial_state, _ = pretrain_network(
                data,
                pretraining_patients(split, pretrain),
                channels,
                pretrain,
                init=block.get("init", "imagenet"),
                threads=args.threads,
            )
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(args.keep_models or scratch)
            folder.mkdir(parents=True, exist_ok=True)
            paths = []
            for member in range(args.members):
                settings = TrainSettings.from_config(member_train_block(block, member))
                trainer = train_signature_model(
                    manifest,
                    clinical,
                    split,
                    channels,
                    settings,
                    threads=args.threads,
                    targets=targets,
                    initial_state=initial_state,
                )
                paths.append(folder / f"member{member}.pt")
                trainer.save(paths[-1])
            signature = trained_signature(paths, manifest, split, threads=args.threads)
    if args.output:
        signature.to_csv(args.output, sep="\t", index=False)
    result = {
        "model": args.model,
        "channels": channels,
        "members": args.members,
        "threads": args.threads,
        "set": args.set,
        "pretrain": args.pretrain,
        "minutes": round((time.perf_counter() - start) / 60, 2),
    }
    from scipy.stats import spearmanr

    outcome = clinical.set_index(clinical[col.PATIENT_ID].astype(str))
    oracle = col.ORACLE_PREDICTOR.get(frozenset(channels), col.ORACLE_IMAGE)
    for name in col.SPLIT_LEVELS:
        part = signature[signature[col.SPLIT] == name]
        ids = part[col.PATIENT_ID].astype(str)
        time_, event = outcome.loc[ids, col.OS_MONTHS].to_numpy(float), outcome.loc[ids, col.OS_EVENT].to_numpy(int)
        result[f"{name}_cindex"] = round(concordance_index(time_, event, part["signature"].to_numpy()), 4)
        if truth is not None:
            true = truth.loc[ids, oracle].to_numpy(float)
            result[f"{name}_oracle_cindex"] = round(concordance_index(time_, event, true), 4)
            result[f"{name}_pearson"] = round(float(np.corrcoef(part["signature"], true)[0, 1]), 3)
            result[f"{name}_spearman"] = round(float(spearmanr(part["signature"], true)[0]), 3)
            r2, loadings = trait_regression(part["signature"].to_numpy(float), truth.loc[ids])
            result[f"{name}_traits_r2"] = round(r2, 3)
            result[f"{name}_trait_coefficients"] = loadings
    print(json.dumps(result))


if __name__ == "__main__":
    main()
