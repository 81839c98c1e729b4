"""Split the cohort into training and test sets (rule ``split``)."""

from survsig.cohort.split import split_cohort
from survsig.core.columns import PATIENT_ID, SPLIT
from survsig.core.io import read_table, write_tsv
from survsig.core.logs import run_script


def main(snakemake):
    clinical = read_table(snakemake.input.clinical, dtype={PATIENT_ID: str, SPLIT: str})
    split = split_cohort(clinical, **dict(snakemake.params.split))
    write_tsv(split, snakemake.output[0])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
