"""C-index of every frozen nomogram on the external cohort, each against the clinical one (rule ``external_cindex``)."""

from survsig.core.figures import save_figure
from survsig.core.files import read_nomogram_scores
from survsig.core.io import write_tsv
from survsig.core.logs import run_script
from survsig.external.evaluation import external_cindex_figure, external_cindex_table


def main(snakemake):
    options = snakemake.params.evaluate
    scores = read_nomogram_scores(snakemake.params.nomograms, snakemake.input.scores)
    table = external_cindex_table(
        scores, resamples=options["bootstrap_resamples"], seed=options["seed"], confidence=options["confidence"]
    )
    write_tsv(table, snakemake.output.tsv)
    figure = external_cindex_figure(table, name=snakemake.params.name, confidence=options["confidence"])
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
