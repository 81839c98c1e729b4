"""Bootstrap calibration curve of one nomogram at the horizon (rule ``bootstrap_calibration_figure``)."""

from survsig.evaluate import horizon_text, nomogram_label
from survsig.internal_validation import read_calibration, save_bootstrap_calibration_figure
from survsig.logs import run_script


def main(snakemake):
    table = read_calibration(snakemake.input[0])
    save_bootstrap_calibration_figure(
        table, snakemake.output.png, snakemake.output.pdf, horizon_text=horizon_text(snakemake.params.horizon_months),
        title=f"{nomogram_label(snakemake.wildcards.nomogram)} nomogram, training set, bootstrap-corrected",
        dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
