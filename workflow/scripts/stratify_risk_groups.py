"""results/risk_groups.tsv: every patient's risk group by the configured nomogram."""

from survsig.columns import PATIENT_ID
from survsig.io import read_table, write_tsv
from survsig.logs import run_script
from survsig.stratify import risk_group_table


def main(snakemake):
    groups = read_table(snakemake.input.groups, dtype={PATIENT_ID: str})
    write_tsv(risk_group_table(groups), snakemake.output[0], float_format="%.10g")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
