"""The radiomics signature frozen for other cohorts: its features, quantile transform,
coefficients and training scale as JSON, refit as rule ``radiomics_signature`` (or
``radiomics_matched_signature``) fits it and checked against that run's signature file."""

import json

from survsig.core.errors import InputError
from survsig.core.files import read_split
from survsig.core.io import atomic_path, read_table
from survsig.core.logs import run_script
from survsig.core.paths import JSON_MAX_BYTES
from survsig.imaging.radiomic_features import FrozenRadiomics, RadiomicsSettings, frozen_radiomics, read_feature_tables
from survsig.imaging.signature import check_signature_file


def main(snakemake):
    settings = RadiomicsSettings.from_config(snakemake.params.radiomics)
    split = read_split(snakemake.input.split)
    features = read_feature_tables(snakemake.input.features)
    frozen = frozen_radiomics(
        features,
        read_table(snakemake.input.clinical, dtype={"patient_id": str}),
        split,
        settings,
        modalities=getattr(snakemake.params, "modalities", None),
    )
    # the frozen model scores the run's patients as the run did, to the written digit
    signature = FrozenRadiomics.from_dict(frozen).signature(features.loc[split["patient_id"]])
    check_signature_file(
        signature,
        split["patient_id"],
        snakemake.input.signature,
        reason="the refit does not reproduce the run's signature: the features or settings changed since",
    )
    text = json.dumps(frozen, indent=1, allow_nan=False) + "\n"
    if len(text.encode()) > JSON_MAX_BYTES:
        raise InputError(
            f"the frozen radiomics signature takes {len(text.encode())} bytes, more than the "
            f"{JSON_MAX_BYTES} a JSON file of the workflow may hold",
            file=snakemake.output[0],
        )
    with atomic_path(snakemake.output[0]) as path:
        path.write_text(text)


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
