"""Calibration of one nomogram on one set at the horizon (rule ``calibration``)."""

from survsig.core.figures import save_figure
from survsig.core.files import read_scores
from survsig.core.io import write_tsv
from survsig.core.logs import run_script
from survsig.core.vocabulary import SPLIT_TITLES, nomogram_label
from survsig.statistics.calibration import calibration, calibration_figure, calibration_tables
from survsig.statistics.nomogram import CoxNomogram


def main(snakemake):
    options = snakemake.params.evaluate
    name, split = snakemake.wildcards.nomogram, snakemake.wildcards.split
    nomogram = CoxNomogram.load(snakemake.input.nomogram)
    scores = read_scores(snakemake.input.scores)
    part = scores[scores["split"] == split]
    horizon = options["horizon_months"]
    result = calibration(
        part["os_months"],
        part["os_event"],
        nomogram.survival_at(part["lp"], horizon),
        horizon,
        groups=options["calibration_groups"],
        hl_groups=options["hosmer_lemeshow_groups"],
        confidence=options["confidence"],
    )
    write_tsv(calibration_tables(result, nomogram=name, split=split), snakemake.output.tsv)
    figure = calibration_figure(result, title=f"{nomogram_label(name)} nomogram, {SPLIT_TITLES[split]}")
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
