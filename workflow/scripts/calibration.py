"""Calibration of one nomogram on one set at the horizon (rule ``calibration``)."""

from survsig.evaluate import calibration, calibration_tables, nomogram_label, read_scores, save_calibration_figure
from survsig.io import write_tsv
from survsig.logs import run_script
from survsig.nomogram import CoxNomogram


def main(snakemake):
    options = snakemake.params.evaluate
    name, split = snakemake.wildcards.nomogram, snakemake.wildcards.split
    nomogram = CoxNomogram.load(snakemake.input.nomogram)
    scores = read_scores({name: snakemake.input.scores})[name]
    part = scores[scores["split"] == split]
    horizon = options["horizon_months"]
    result = calibration(part["os_months"], part["os_event"], nomogram.survival_at(part["lp"], horizon), horizon,
                         groups=options["calibration_groups"], hl_groups=options["hosmer_lemeshow_groups"],
                         confidence=options["confidence"])
    write_tsv(calibration_tables(result, nomogram=name, split=split), snakemake.output.tsv)
    set_name = "training set" if split == "train" else "test set"
    save_calibration_figure(result, snakemake.output.png, snakemake.output.pdf,
                            title=f"{nomogram_label(name)} nomogram, {set_name}", dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
