"""High vs low risk within every clinical subgroup (table behind Fig. 4)."""

from survsig.columns import PATIENT_ID
from survsig.io import read_table, write_tsv
from survsig.logs import run_script
from survsig.stratify import join_clinical, subgroup_table


def main(snakemake):
    options = snakemake.params.stratify
    frame = join_clinical(
        read_table(snakemake.input.risk_groups, dtype={PATIENT_ID: str}),
        read_table(snakemake.input.clinical, dtype={PATIENT_ID: str}),
        file=snakemake.input.risk_groups,
    )
    table = subgroup_table(
        frame,
        subset=snakemake.wildcards.subset,
        time_months=options["time_months"],
        conf_level=options["conf_level"],
        conf_type=options["conf_type"],
    )
    write_tsv(table, snakemake.output[0], float_format="%.10g")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
