"""Table S3: clinical characteristics of the low- and high-risk groups (TSV, PNG, PDF)."""

from survsig.core.figures import save_figure
from survsig.core.io import write_tsv
from survsig.core.logs import run_script
from survsig.statistics.stratify import read_risk_groups_with_clinical, risk_group_baseline, table_s3_figure


def main(snakemake):
    options = snakemake.params.table1
    subset = snakemake.wildcards.subset
    frame = read_risk_groups_with_clinical(snakemake.input.risk_groups, snakemake.input.clinical)
    table = risk_group_baseline(
        frame,
        subset=subset,
        fisher_below_expected=options["fisher_below_expected"],
        fisher_resamples=options["fisher_resamples"],
        seed=options["seed"],
    )
    write_tsv(table, snakemake.output.tsv)
    figure = table_s3_figure(table, subset=subset)
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
