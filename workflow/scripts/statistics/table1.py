"""Table 1: baseline characteristics by split, as TSV, PNG and PDF (rule ``table1``)."""

from survsig.core.columns import PATIENT_ID
from survsig.core.figures import save_figure
from survsig.core.files import read_split
from survsig.core.io import read_table, write_tsv
from survsig.core.logs import run_script
from survsig.statistics.baseline import baseline_figure, baseline_table


def main(snakemake):
    clinical = read_table(snakemake.input.clinical, dtype={PATIENT_ID: str})
    split = read_split(snakemake.input.split)
    options = snakemake.params.table1
    table = baseline_table(
        clinical,
        split,
        fisher_below_expected=options["fisher_below_expected"],
        fisher_resamples=options["fisher_resamples"],
        seed=options["seed"],
    )
    write_tsv(table, snakemake.output.tsv)
    save_figure(baseline_figure(table), snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
