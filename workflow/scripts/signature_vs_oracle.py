from pathlib import Path

from survsig.io import read_table, write_tsv
from survsig.logs import run_script
from survsig.signature import signature_vs_oracle


def main(snakemake):
    signatures = {Path(path).stem: read_table(path, dtype={"patient_id": str}) for path in snakemake.input.signatures}
    table = signature_vs_oracle(
        signatures,
        read_table(snakemake.input.clinical, dtype={"patient_id": str}),
        read_table(snakemake.input.ground_truth, dtype={"patient_id": str}),
        snakemake.params.models,
    )
    write_tsv(table, snakemake.output[0], float_format="%.4f")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
