"""Table 1: baseline characteristics by split, as TSV, PNG and PDF (rule ``table1``)."""

from survsig.columns import PATIENT_ID, SPLIT
from survsig.io import read_table, write_tsv
from survsig.logs import run_script
from survsig.table1 import baseline_table, render_table1


def main(snakemake):
    clinical = read_table(snakemake.input.clinical, dtype={PATIENT_ID: str})
    split = read_table(snakemake.input.split, dtype={PATIENT_ID: str, SPLIT: str})
    options = snakemake.params.table1
    table = baseline_table(
        clinical,
        split,
        fisher_below_expected=options["fisher_below_expected"],
        fisher_resamples=options["fisher_resamples"],
        seed=options["seed"],
    )
    write_tsv(table, snakemake.output.tsv)
    render_table1(table, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
