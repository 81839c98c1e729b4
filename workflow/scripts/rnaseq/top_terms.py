"""Top enriched terms of one library and DEG direction as a dot plot (rule ``rnaseq_top_terms``, Fig. 5)."""

from survsig.core.figures import save_figure
from survsig.core.io import read_table
from survsig.core.logs import run_script
from survsig.rnaseq.enrichment import plot_top_terms, top_terms_title


def main(snakemake):
    table = read_table(snakemake.input[0], dtype={"term": str, "overlap": str, "genes": str}, keep_default_na=False)
    title = top_terms_title(table, snakemake.wildcards.library, snakemake.wildcards.direction)
    ax = plot_top_terms(table, n_terms=snakemake.params.n_terms, title=title)
    save_figure(ax.figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
