"""Kaplan-Meier panels of the risk groups within the levels of one clinical variable (Fig. 4)."""

from survsig.core.figures import save_figure
from survsig.core.logs import run_script
from survsig.statistics.stratify import read_risk_groups_with_clinical, subgroup_figure


def main(snakemake):
    options = snakemake.params.stratify
    frame = read_risk_groups_with_clinical(snakemake.input.risk_groups, snakemake.input.clinical)
    figure = subgroup_figure(
        frame,
        snakemake.wildcards.variable,
        subset=snakemake.wildcards.subset,
        nomogram=options["risk_groups_from"],
        time_months=options["horizon_months"],
        conf_level=options["confidence"],
        conf_type=options["conf_type"],
        step_months=options["step_months"],
    )
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
