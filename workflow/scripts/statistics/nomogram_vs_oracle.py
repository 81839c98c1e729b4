"""C-index of each nomogram beside that of its true linear predictor (rule ``nomogram_vs_oracle``)."""

from survsig.core.columns import PATIENT_ID
from survsig.core.files import read_nomogram_scores
from survsig.core.io import read_table, write_tsv
from survsig.core.logs import run_script
from survsig.statistics.oracle import oracle_predictors, oracle_table


def main(snakemake):
    nomograms = list(snakemake.params.nomograms)
    scores = read_nomogram_scores(nomograms, snakemake.input.scores)
    truth = read_table(snakemake.input.ground_truth, dtype={PATIENT_ID: str})
    table = oracle_table(scores, truth, oracle_predictors(nomograms, snakemake.params.models))
    write_tsv(table, snakemake.output[0])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
