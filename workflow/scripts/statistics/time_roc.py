"""Time-dependent ROC/AUC of every nomogram on one set (rule ``time_roc``)."""

from survsig.core.figures import save_figure
from survsig.core.files import read_nomogram_scores
from survsig.core.io import write_tsv
from survsig.core.logs import run_script
from survsig.core.vocabulary import SPLIT_TITLES
from survsig.statistics.time_roc import auc_table, roc_figure


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
