from survsig.io import read_table, write_tsv
from survsig.logs import run_script
from survsig.simulate import cohort_summary


def main(snakemake):
    summary = cohort_summary(read_table(snakemake.input.clinical), read_table(snakemake.input.ground_truth))
    write_tsv(summary, snakemake.output[0], float_format="%.4f")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
