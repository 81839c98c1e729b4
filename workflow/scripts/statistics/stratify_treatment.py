"""Local treatment vs chemotherapy within each risk group: table and figure."""

from survsig.core.figures import save_figure
from survsig.core.io import write_tsv
from survsig.core.logs import run_script
from survsig.statistics.stratify import (
    read_risk_groups_with_clinical,
    treatment_by_risk_figure,
    treatment_by_risk_table,
)


def main(snakemake):
    options = snakemake.params.stratify
    frame = read_risk_groups_with_clinical(snakemake.input.risk_groups, snakemake.input.clinical)
    common = dict(
        subset=snakemake.wildcards.subset,
        time_months=options["horizon_months"],
        conf_level=options["confidence"],
        conf_type=options["conf_type"],
    )
    table = treatment_by_risk_table(frame, **common)
    write_tsv(table, snakemake.output.tsv, float_format="%.10g")
    figure = treatment_by_risk_figure(
        frame, nomogram=options["risk_groups_from"], step_months=options["step_months"], table=table, **common
    )
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
