"""The external risk groups within the clinical subgroups: the table (rule ``external_subgroup_table``)
or one variable's Kaplan-Meier panels (rule ``external_subgroup_figure``)."""

from survsig.core.columns import EXTERNAL, PATIENT_ID
from survsig.core.figures import save_figure
from survsig.core.io import read_table, write_tsv
from survsig.core.logs import run_script
from survsig.statistics.stratify import join_clinical, subgroup_figure, subgroup_table


def main(snakemake):
    options = snakemake.params.stratify
    frame = join_clinical(
        read_table(snakemake.input.groups, dtype={PATIENT_ID: str}),
        read_table(snakemake.input.clinical, dtype={PATIENT_ID: str}),
        file=snakemake.input.groups,
    )
    intervals = {"conf_level": options["confidence"], "conf_type": options["conf_type"]}
    if "png" not in snakemake.output.keys():
        table = subgroup_table(frame, subset=EXTERNAL, time_months=options["horizon_months"], **intervals)
        write_tsv(table, snakemake.output[0], float_format="%.10g")
        return
    figure = subgroup_figure(
        frame,
        snakemake.wildcards.variable,
        subset=EXTERNAL,
        nomogram=options["risk_groups_from"],
        time_months=options["horizon_months"],
        step_months=options["step_months"],
        **intervals,
    )
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
