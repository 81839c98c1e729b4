from survsig.columns import PATIENT_ID
from survsig.files import read_split
from survsig.io import read_table, write_tsv
from survsig.logs import run_script
from survsig.signature import oracle_signature


def main(snakemake):
    signature = oracle_signature(
        read_table(snakemake.input.ground_truth, dtype={PATIENT_ID: str}),
        read_split(snakemake.input.split),
        snakemake.params.channels,
    )
    write_tsv(signature, snakemake.output[0], float_format="%.6f")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
