"""Draw one nomogram as rms does: points, total points, linear predictor, OS axes (rule ``nomogram_figure``)."""

from survsig.evaluate import nomogram_label
from survsig.logs import run_script
from survsig.nomogram import CoxNomogram, save_nomogram_figure


def main(snakemake):
    nomogram = CoxNomogram.load(snakemake.input[0])
    save_nomogram_figure(nomogram, snakemake.output.png, snakemake.output.pdf,
                         survival_ticks=snakemake.params.nomogram["survival_ticks"],
                         title=f"{nomogram_label(nomogram.name)} nomogram",
                         dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
