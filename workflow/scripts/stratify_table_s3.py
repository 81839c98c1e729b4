"""Table S3: clinical characteristics of the low- and high-risk groups (TSV, PNG, PDF)."""

from survsig.io import write_tsv
from survsig.logs import run_script
from survsig.stratify import read_risk_groups_with_clinical, render_risk_group_baseline, risk_group_baseline


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
    render_risk_group_baseline(table, snakemake.output.png, snakemake.output.pdf, subset=subset,
                               dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
