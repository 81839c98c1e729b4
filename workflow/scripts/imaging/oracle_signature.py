from survsig.core.columns import PATIENT_ID
from survsig.core.files import read_split
from survsig.core.io import read_table, write_tsv
from survsig.core.logs import run_script
from survsig.imaging.signature import oracle_signature


def main(snakemake):
    signature = oracle_signature(
        read_table(snakemake.input.ground_truth, dtype={PATIENT_ID: str}),
        read_split(snakemake.input.split),
        snakemake.params.channels,
    )
    write_tsv(signature, snakemake.output[0], float_format="%.6f")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
