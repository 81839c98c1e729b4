"""Bootstrap calibration curve of one nomogram at the horizon (rule ``bootstrap_calibration_figure``)."""

from survsig.core.figures import save_figure
from survsig.core.logs import run_script
from survsig.core.vocabulary import nomogram_label
from survsig.statistics.internal_validation import bootstrap_calibration_figure, read_calibration


def main(snakemake):
    table = read_calibration(snakemake.input[0])
    figure = bootstrap_calibration_figure(
        table,
        horizon_months=snakemake.params.horizon_months,
        title=f"{nomogram_label(snakemake.wildcards.nomogram)} nomogram, training set, bootstrap-corrected",
    )
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
