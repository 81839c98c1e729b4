"""The external signatures and nomograms beside the other centre's true predictors (rule ``external_vs_oracle``)."""

from survsig.core import columns as col
from survsig.core.files import read_nomogram_scores
from survsig.core.io import read_table, write_tsv
from survsig.core.logs import run_script
from survsig.external.evaluation import external_vs_oracle, oracle_of


def main(snakemake):
    params = snakemake.params
    read = {"dtype": {col.PATIENT_ID: str}}
    signatures = {name: read_table(path, **read) for name, path in zip(params.signatures, snakemake.input.signatures)}
    table = external_vs_oracle(
        signatures,
        read_nomogram_scores(params.nomograms, snakemake.input.scores),
        read_table(snakemake.input.clinical, **read),
        read_table(snakemake.input.ground_truth, **read),
        oracle_of=oracle_of(params.signatures, params.nomograms, params.models),
    )
    write_tsv(table, snakemake.output[0])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
