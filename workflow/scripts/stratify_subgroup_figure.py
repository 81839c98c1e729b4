"""Kaplan-Meier panels of the risk groups within the levels of one clinical variable (Fig. 4)."""

from survsig.columns import PATIENT_ID
from survsig.figures import save_figure
from survsig.io import read_table
from survsig.logs import run_script
from survsig.stratify import join_clinical, subgroup_figure


def main(snakemake):
    options = snakemake.params.stratify
    frame = join_clinical(
        read_table(snakemake.input.risk_groups, dtype={PATIENT_ID: str}),
        read_table(snakemake.input.clinical, dtype={PATIENT_ID: str}),
        file=snakemake.input.risk_groups,
    )
    figure = subgroup_figure(
        frame,
        snakemake.wildcards.variable,
        subset=snakemake.wildcards.subset,
        nomogram=options["risk_groups_from"],
        time_months=options["time_months"],
        conf_level=options["conf_level"],
        conf_type=options["conf_type"],
        step_months=options["step_months"],
    )
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=200)


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
