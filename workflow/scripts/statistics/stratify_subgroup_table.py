"""High vs low risk within every clinical subgroup (table behind Fig. 4)."""

from survsig.core.io import write_tsv
from survsig.core.logs import run_script
from survsig.statistics.stratify import read_risk_groups_with_clinical, subgroup_table


def main(snakemake):
    options = snakemake.params.stratify
    frame = read_risk_groups_with_clinical(snakemake.input.risk_groups, snakemake.input.clinical)
    table = subgroup_table(
        frame,
        subset=snakemake.wildcards.subset,
        time_months=options["horizon_months"],
        conf_level=options["confidence"],
        conf_type=options["conf_type"],
    )
    write_tsv(table, snakemake.output[0], float_format="%.10g")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
