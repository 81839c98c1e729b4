from survsig.core.files import read_split
from survsig.core.io import write_tsv
from survsig.core.logs import run_script
from survsig.imaging.signature import trained_signature
from survsig.imaging.slices import read_manifest


def main(snakemake):
    signature = trained_signature(
        snakemake.input.models,
        read_manifest(snakemake.input.manifest),
        read_split(snakemake.input.split),
        threads=snakemake.threads,
    )
    write_tsv(signature, snakemake.output[0], float_format="%.6f")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
