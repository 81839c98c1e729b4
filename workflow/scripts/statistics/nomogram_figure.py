"""Draw one nomogram as rms does: points, total points, linear predictor, OS axes (rule ``nomogram_figure``)."""

from survsig.core.figures import save_figure
from survsig.core.logs import run_script
from survsig.core.vocabulary import nomogram_label
from survsig.statistics.nomogram import CoxNomogram
from survsig.statistics.nomogram_figure import nomogram_figure


def main(snakemake):
    nomogram = CoxNomogram.load(snakemake.input[0])
    figure = nomogram_figure(
        nomogram,
        survival_ticks=snakemake.params.nomogram["survival_ticks"],
        title=f"{nomogram_label(nomogram.name)} nomogram",
    )
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
