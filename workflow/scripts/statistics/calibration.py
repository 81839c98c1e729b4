"""Calibration of one nomogram on one set at the horizon (rule ``calibration``)."""

from survsig.core.figures import save_figure
from survsig.core.files import read_scores
from survsig.core.io import write_tsv
from survsig.core.logs import run_script
from survsig.core.vocabulary import SPLIT_TITLES, nomogram_label
from survsig.statistics.calibration import nomogram_calibration
from survsig.statistics.nomogram import CoxNomogram


def main(snakemake):
    name, split = snakemake.wildcards.nomogram, snakemake.wildcards.split
    scores = read_scores(snakemake.input.scores)
    table, figure = nomogram_calibration(
        CoxNomogram.load(snakemake.input.nomogram),
        scores[scores["split"] == split],
        snakemake.params.evaluate,
        name=name,
        split=split,
        title=f"{nomogram_label(name)} nomogram, {SPLIT_TITLES[split]}",
    )
    write_tsv(table, snakemake.output.tsv)
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
