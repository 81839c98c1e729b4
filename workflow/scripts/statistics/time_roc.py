"""Time-dependent ROC/AUC of every nomogram on one set (rule ``time_roc``)."""

from survsig.core.figures import save_figure
from survsig.core.files import read_nomogram_scores
from survsig.core.io import write_tsv
from survsig.core.logs import run_script
from survsig.core.vocabulary import SPLIT_TITLES
from survsig.statistics.time_roc import time_roc


def main(snakemake):
    split = snakemake.wildcards.split
    scores = read_nomogram_scores(snakemake.params.nomograms, snakemake.input.scores)
    table, figure = time_roc(
        scores, split, snakemake.params.evaluate, title=f"Time-dependent ROC, {SPLIT_TITLES[split]}"
    )
    write_tsv(table, snakemake.output.tsv)
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
