"""Time-dependent ROC/AUC of every nomogram on one set (rule ``time_roc``)."""

from survsig.evaluate import auc_table, roc_figure
from survsig.figures import save_figure
from survsig.files import read_nomogram_scores
from survsig.io import write_tsv
from survsig.logs import run_script
from survsig.vocabulary import SPLIT_TITLES


def main(snakemake):
    options = snakemake.params.evaluate
    split = snakemake.wildcards.split
    scores = read_nomogram_scores(snakemake.params.nomograms, snakemake.input.scores)
    table, curves = auc_table(scores, split, horizon=options["horizon_months"], confidence=options["confidence"])
    write_tsv(table, snakemake.output.tsv)
    figure = roc_figure(
        curves,
        dict(zip(table["nomogram"], table["auc"])),
        horizon=options["horizon_months"],
        title=f"Time-dependent ROC, {SPLIT_TITLES[split]}",
    )
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
