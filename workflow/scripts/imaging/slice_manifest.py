from survsig.core.logs import run_script
from survsig.imaging.slices import write_manifest


def main(snakemake):
    write_manifest(snakemake.params.files, snakemake.output[0])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
