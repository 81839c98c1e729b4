"""Differential expression high vs low risk with pydeseq2 (rule ``rnaseq_deseq2``)."""

from survsig.core.columns import PATIENT_ID, RISK_GROUP
from survsig.core.files import read_risk_groups
from survsig.core.io import read_table, write_tsv
from survsig.core.logs import run_script
from survsig.rnaseq.differential import differential_expression_tables, risk_groups_from_truth
from survsig.rnaseq.gene_ids import read_id_map


def main(snakemake):
    options = snakemake.params.rnaseq
    inputs = snakemake.input
    if "ground_truth" in inputs.keys():
        risk_groups = risk_groups_from_truth(read_table(inputs.ground_truth, dtype={PATIENT_ID: str}))
    else:
        risk_groups = read_risk_groups(inputs.risk_groups, columns=(PATIENT_ID, RISK_GROUP))
    id_map = read_id_map(inputs.id_map) if "id_map" in inputs.keys() else None
    tables = differential_expression_tables(
        read_table(inputs.counts, dtype={"gene_id": str}),
        read_table(inputs.clinical, dtype={PATIENT_ID: str}),
        risk_groups,
        options,
        id_map=id_map,
        n_cpus=snakemake.threads,
        verbose=True,
        files={name: str(path) for name, path in inputs.items()},
    )
    write_tsv(tables.results, snakemake.output.results)
    write_tsv(tables.degs, snakemake.output.degs)
    write_tsv(tables.vst, snakemake.output.vst)
    write_tsv(tables.samples, snakemake.output.samples)


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
