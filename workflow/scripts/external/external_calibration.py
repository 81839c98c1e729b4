"""Calibration of one frozen nomogram on the external cohort at the horizon (rule ``external_calibration``)."""

from survsig.core.columns import EXTERNAL
from survsig.core.figures import save_figure
from survsig.core.files import read_scores
from survsig.core.io import write_tsv
from survsig.core.logs import run_script
from survsig.core.vocabulary import nomogram_label
from survsig.statistics.calibration import nomogram_calibration
from survsig.statistics.nomogram import CoxNomogram


def main(snakemake):
    name = snakemake.wildcards.nomogram
    table, figure = nomogram_calibration(
        CoxNomogram.load(snakemake.input.nomogram),
        read_scores(snakemake.input.scores),
        snakemake.params.evaluate,
        name=name,
        split=EXTERNAL,
        title=f"{nomogram_label(name)} nomogram, {snakemake.params.name}",
    )
    write_tsv(table, snakemake.output.tsv)
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
