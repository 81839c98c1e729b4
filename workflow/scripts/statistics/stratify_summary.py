"""High vs low risk per split for one nomogram: n, deaths, OS at a time point, HR, log-rank."""

from survsig.core.columns import PATIENT_ID
from survsig.core.io import read_table, write_tsv
from survsig.core.logs import run_script
from survsig.statistics.stratify import risk_group_summary


def main(snakemake):
    options = snakemake.params.stratify
    summary = risk_group_summary(
        read_table(snakemake.input.groups, dtype={PATIENT_ID: str}),
        read_table(snakemake.input.cutoff).iloc[0],
        time_months=options["horizon_months"],
        conf_level=options["confidence"],
        conf_type=options["conf_type"],
    )
    write_tsv(summary, snakemake.output[0], float_format="%.10g")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
