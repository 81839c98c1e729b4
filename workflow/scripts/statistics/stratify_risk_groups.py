"""results/risk_groups.tsv: every patient's risk group by the configured nomogram."""

from survsig.core.columns import PATIENT_ID
from survsig.core.io import read_table, write_tsv
from survsig.core.logs import run_script
from survsig.statistics.stratify import risk_group_table


def main(snakemake):
    groups = read_table(snakemake.input.groups, dtype={PATIENT_ID: str})
    write_tsv(risk_group_table(groups), snakemake.output[0], float_format="%.10g")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
