"""Volcano plot of high vs low risk (rule ``rnaseq_volcano``)."""

from survsig.core.figures import save_figure
from survsig.core.io import read_table
from survsig.core.logs import run_script
from survsig.rnaseq.gene_ids import GENE
from survsig.rnaseq.volcano import plot_volcano


def main(snakemake):
    deg = snakemake.params.deg
    results = read_table(snakemake.input.results, dtype={GENE: str}).set_index(GENE)
    degs = read_table(snakemake.input.degs, dtype={GENE: str}).set_index(GENE)
    ax = plot_volcano(
        results,
        degs,
        p_value=deg["p_value"],
        cutoff=deg["cutoff"],
        min_abs_log2fc=deg["min_abs_log2fc"],
        n_labels=snakemake.params.labels,
    )
    save_figure(ax.figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
