"""One nomogram's scores of the external patients, with its training coefficients (rule ``external_scores``)."""

from survsig.core.io import read_table, write_tsv
from survsig.core.logs import run_script
from survsig.external.scoring import external_scores
from survsig.statistics.nomogram import CoxNomogram


def main(snakemake):
    models, files = snakemake.params.models, snakemake.input.signatures
    signatures = {model: read_table(path, dtype={"patient_id": str}) for model, path in zip(models, files)}
    scores = external_scores(
        CoxNomogram.load(snakemake.input.nomogram),
        read_table(snakemake.input.clinical, dtype={"patient_id": str}),
        signatures,
        files={"clinical": snakemake.input.clinical, **dict(zip(models, files))},
    )
    write_tsv(scores, snakemake.output[0], float_format="%.10g")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
