"""Elastic-net Cox signature of the radiomic features, fit on train (rules ``radiomics_signature``
and ``radiomics_matched_signature``: the latter on the features of one network's modalities)."""

import json

import pandas as pd

from survsig.core.files import read_split
from survsig.core.io import atomic_path, read_table, write_tsv
from survsig.core.logs import run_script
from survsig.imaging.radiomic_features import (
    RadiomicsSettings,
    modality_features,
    radiomics_signature,
    read_feature_tables,
)
from survsig.imaging.signature import signature_table


def main(snakemake):
    settings = RadiomicsSettings.from_config(snakemake.params.radiomics)
    split = read_split(snakemake.input.split)
    features = read_feature_tables(snakemake.input.features)
    modalities = snakemake.params.get("modalities")
    if modalities is not None:
        features = modality_features(features, modalities)
    risk, model = radiomics_signature(
        features,
        read_table(snakemake.input.clinical, dtype={"patient_id": str}),
        split,
        settings,
    )
    signature = signature_table(split["patient_id"], split["split"], risk)
    coefficients = pd.DataFrame({"feature": model.coef_.index, "coefficient": model.coef_.to_numpy()})
    write_tsv(coefficients, snakemake.output.coefficients, float_format="%.6g")
    summary = model.summary()
    summary["feature_modalities"] = list(settings.modalities if modalities is None else modalities)
    with atomic_path(snakemake.output.model) as path:
        path.write_text(json.dumps(summary, indent=1) + "\n")
    write_tsv(signature, snakemake.output.signature, float_format="%.6f")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
