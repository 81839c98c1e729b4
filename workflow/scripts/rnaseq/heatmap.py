"""Heatmap of the top DEGs, VST expression z-scored per gene (rule ``rnaseq_heatmap``, Fig. S3)."""

from survsig.core.figures import save_figure
from survsig.core.io import read_table
from survsig.core.logs import run_script
from survsig.rnaseq.gene_ids import GENE
from survsig.rnaseq.heatmap import heatmap_genes, plot_expression_heatmap


def main(snakemake):
    results = read_table(snakemake.input.results, dtype={GENE: str}).set_index(GENE)
    degs = read_table(snakemake.input.degs, dtype={GENE: str}).set_index(GENE)
    vst = read_table(snakemake.input.vst, dtype={GENE: str}).set_index(GENE)
    samples = read_table(snakemake.input.samples, dtype={"sample": str}).set_index("sample")
    genes, are_degs = heatmap_genes(results, degs, n_genes=snakemake.params.n_genes)
    what = f"Top {len(genes)} DEGs" if are_degs else f"No DEGs: top {len(genes)} genes by p-value"
    ax = plot_expression_heatmap(vst, samples, genes, title=f"{what}, high vs low risk")
    save_figure(ax.figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
