"""Table S3: clinical characteristics of the low- and high-risk groups (TSV, PNG, PDF)."""

from survsig.columns import PATIENT_ID
from survsig.io import read_table, write_tsv
from survsig.logs import run_script
from survsig.stratify import join_clinical, render_risk_group_baseline, risk_group_baseline


def main(snakemake):
    options = snakemake.params.table1
    subset = snakemake.wildcards.subset
    frame = join_clinical(
        read_table(snakemake.input.risk_groups, dtype={PATIENT_ID: str}),
        read_table(snakemake.input.clinical, dtype={PATIENT_ID: str}),
        file=snakemake.input.risk_groups,
    )
    table = risk_group_baseline(
        frame,
        subset=subset,
        fisher_below_expected=options["fisher_below_expected"],
        fisher_resamples=options["fisher_resamples"],
        seed=options["seed"],
    )
    write_tsv(table, snakemake.output.tsv)
    render_risk_group_baseline(table, snakemake.output.png, snakemake.output.pdf, subset=subset)


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
