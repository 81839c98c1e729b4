"""The frozen run's manifest, ``results/frozen/run.json`` (rule ``frozen_run``)."""

import json

from survsig.core.logs import run_script
from survsig.external.frozen import write_run_manifest


def main(snakemake):
    params = snakemake.params
    write_run_manifest(
        snakemake.output[0],
        results_dir="results",
        preprocess=json.loads(params.preprocess),
        radiomics=None if params.radiomics is None else json.loads(params.radiomics),
        signatures=dict(zip(params.signatures, snakemake.input.signatures)),
        nomograms=dict(zip(params.nomograms, snakemake.input.nomograms)),
        cutoffs=dict(zip(params.cutoffs, snakemake.input.cutoffs)),
    )


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
