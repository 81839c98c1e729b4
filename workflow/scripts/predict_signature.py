from survsig.io import read_table, write_tsv
from survsig.logs import run_script
from survsig.preprocess import read_manifest
from survsig.signature import trained_signature


def main(snakemake):
    signature = trained_signature(
        snakemake.input.models,
        read_manifest(snakemake.input.manifest),
        read_table(snakemake.input.split, dtype={"patient_id": str}),
        threads=snakemake.threads,
    )
    write_tsv(signature, snakemake.output[0], float_format="%.6f")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
