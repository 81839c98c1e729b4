from survsig.cohort.summary import cohort_summary
from survsig.core.io import read_table, write_tsv
from survsig.core.logs import run_script


def main(snakemake):
    summary = cohort_summary(read_table(snakemake.input.clinical), read_table(snakemake.input.ground_truth))
    write_tsv(summary, snakemake.output[0], float_format="%.4f")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
