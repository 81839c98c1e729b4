from pathlib import Path

from survsig.core.io import read_table, write_tsv
from survsig.core.logs import run_script
from survsig.imaging.signature import signature_vs_oracle


def main(snakemake):
    def read(path):
        return read_table(path, dtype={"patient_id": str})

    signatures = {Path(path).stem: read(path) for path in snakemake.input.signatures}
    # the matched radiomics comparators' files are named by their network: keyed by their own name
    signatures |= {name: read(path) for name, path in zip(snakemake.params.matched, snakemake.input.matched)}
    table = signature_vs_oracle(
        signatures,
        read(snakemake.input.clinical),
        read(snakemake.input.ground_truth),
        snakemake.params.models,
    )
    write_tsv(table, snakemake.output[0], float_format="%.4f")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
