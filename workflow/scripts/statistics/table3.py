"""Table 3: C-index of every nomogram on both sets, each compared with the integrated one (rule ``table3``)."""

from survsig.core.figures import save_figure
from survsig.core.files import read_nomogram_scores
from survsig.core.io import read_table, write_tsv
from survsig.core.logs import run_script
from survsig.statistics.cindex import concordance_table, table3_figure, with_optimism_correction


def main(snakemake):
    options = snakemake.params.evaluate
    scores = read_nomogram_scores(snakemake.params.nomograms, snakemake.input.scores)
    table = concordance_table(
        scores,
        reference=options["reference"],
        resamples=options["bootstrap_resamples"],
        seed=options["seed"],
        confidence=options["confidence"],
    )
    table = with_optimism_correction(table, read_table(snakemake.input.validation), file=snakemake.input.validation)
    write_tsv(table, snakemake.output.tsv)
    figure = table3_figure(table, confidence=options["confidence"])
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
