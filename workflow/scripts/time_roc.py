"""Time-dependent ROC/AUC of every nomogram on one set (rule ``time_roc``)."""

from survsig.evaluate import auc_table, read_scores, save_roc_figure
from survsig.io import write_tsv
from survsig.logs import run_script


def main(snakemake):
    options = snakemake.params.evaluate
    split = snakemake.wildcards.split
    scores = read_scores(dict(zip(snakemake.params.nomograms, snakemake.input.scores)))
    table, curves = auc_table(scores, split, horizon=options["horizon_months"], confidence=options["confidence"])
    write_tsv(table, snakemake.output.tsv)
    set_name = "training set" if split == "train" else "test set"
    save_roc_figure(curves, dict(zip(table["nomogram"], table["auc"])), snakemake.output.png, snakemake.output.pdf,
                    horizon=options["horizon_months"], title=f"Time-dependent ROC, {set_name}",
                    dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
