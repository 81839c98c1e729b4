"""Each network's signature against its matched radiomics comparator (rule ``signature_vs_radiomics``)."""

from survsig.core.io import read_table, write_tsv
from survsig.core.logs import run_script
from survsig.imaging.signature import signature_vs_radiomics


def main(snakemake):
    def read(path):
        return read_table(path, dtype={"patient_id": str})

    params = snakemake.params
    signatures = {model: read(path) for model, path in zip(params.models, snakemake.input.signatures)}
    comparators = {
        model: (name, read(path))
        for model, name, path in zip(params.models, params.comparators, snakemake.input.comparators)
    }
    table = signature_vs_radiomics(signatures, comparators, read(snakemake.input.clinical), params.channels)
    write_tsv(table, snakemake.output[0], float_format="%.4f")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
