"""The deep radiomics fusion signature (rule ``fusion_signature``): a network's embedding
components and the radiomic features of its modalities (with ``fusion.with_signature`` the
network's signature too) in one elastic-net Cox model fit on train
(:func:`survsig.imaging.fusion.fusion_signature`)."""

import json

import pandas as pd

from survsig.core import columns as col
from survsig.core.files import read_split
from survsig.core.io import atomic_path, read_table, write_tsv
from survsig.core.logs import run_script
from survsig.core.settings import FusionSettings
from survsig.imaging.fusion import fusion_signature
from survsig.imaging.radiomic_features import RadiomicsSettings, modality_features, read_feature_tables
from survsig.imaging.signature import signature_table
from survsig.imaging.slices import read_manifest


def main(snakemake):
    fusion = FusionSettings.from_config(snakemake.params.fusion)
    split = read_split(snakemake.input.split)
    risk, model = fusion_signature(
        snakemake.input.models,
        read_manifest(snakemake.input.manifest),
        modality_features(read_feature_tables(snakemake.input.features), snakemake.params.modalities),
        read_table(snakemake.input.clinical, dtype={col.PATIENT_ID: str}),
        split,
        fusion,
        RadiomicsSettings.from_config(snakemake.params.radiomics),
        network=read_table(snakemake.input.network, dtype={col.PATIENT_ID: str}),
        threads=snakemake.threads,
    )
    coefficients = pd.DataFrame({"feature": model.coef_.index, "coefficient": model.coef_.to_numpy()})
    write_tsv(coefficients, snakemake.output.coefficients, float_format="%.6g")
    summary = model.summary()
    summary["network"] = fusion.model
    summary["components_per_member"] = fusion.components
    summary["with_signature"] = fusion.with_signature
    summary["feature_modalities"] = list(snakemake.params.modalities)
    with atomic_path(snakemake.output.model) as path:
        path.write_text(json.dumps(summary, indent=1) + "\n")
    signature = signature_table(split[col.PATIENT_ID], split[col.SPLIT], risk)
    write_tsv(signature, snakemake.output.signature, float_format="%.6f")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
