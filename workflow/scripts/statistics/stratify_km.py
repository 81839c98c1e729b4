"""Kaplan-Meier figure of one nomogram's risk groups in one split (Fig. 3)."""

from survsig.core.columns import PATIENT_ID
from survsig.core.figures import save_figure
from survsig.core.io import read_table
from survsig.core.logs import run_script
from survsig.statistics.stratify import km_risk_figure


def main(snakemake):
    options = snakemake.params.stratify
    figure = km_risk_figure(
        read_table(snakemake.input.groups, dtype={PATIENT_ID: str}),
        read_table(snakemake.input.cutoff).iloc[0],
        snakemake.wildcards.split,
        nomogram=snakemake.wildcards.nomogram,
        time_months=options["horizon_months"],
        conf_level=options["confidence"],
        conf_type=options["conf_type"],
        step_months=options["step_months"],
    )
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
