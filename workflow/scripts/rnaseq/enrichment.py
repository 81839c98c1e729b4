"""Over-representation of the DEGs of one direction in one gene-set library (rule ``rnaseq_enrichment``)."""

from survsig.core.io import read_table, write_tsv
from survsig.core.logs import run_script
from survsig.rnaseq.differential import tested_genes
from survsig.rnaseq.enrichment import enrich_degs, load_library
from survsig.rnaseq.gene_ids import GENE


def main(snakemake):
    options = snakemake.params.enrichment
    degs = read_table(snakemake.input.degs, dtype={GENE: str}).set_index(GENE)
    results = read_table(snakemake.input.results, dtype={GENE: str}).set_index(GENE)
    table = enrich_degs(
        degs,
        tested_genes(results),
        load_library(snakemake.input.genesets),
        direction=snakemake.wildcards.direction,
        min_set_size=options["min_set_size"],
        max_set_size=options["max_set_size"],
        name=snakemake.wildcards.library,
    )
    write_tsv(table, snakemake.output[0])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
