"""A network's frozen signature: the scales its training patients gave each level of the
ensemble, and the SHA-256 of its model files (rule ``frozen_signature``).

The signature of every patient of the run is made again, learning the scales, and must be
the run's signature file to its rounding: the scales are then those the file was made with.
"""

from survsig.core.files import read_split
from survsig.core.logs import run_script
from survsig.imaging.signature import (
    SIGNATURE_FILE_TOLERANCE,
    FrozenSignature,
    check_signature_file,
    trained_signature,
)
from survsig.imaging.slices import read_manifest


def main(snakemake):
    scales = {}
    table = trained_signature(
        snakemake.input.models,
        read_manifest(snakemake.input.manifest),
        read_split(snakemake.input.split),
        threads=snakemake.threads,
        scales=scales,
    )
    check_signature_file(
        table["signature"],
        table["patient_id"],
        snakemake.input.signature,
        tolerance=SIGNATURE_FILE_TOLERANCE,
        reason="the trained networks do not reproduce the signature file: the models changed since it was written",
    )
    frozen = FrozenSignature.from_scales(
        snakemake.wildcards.model, snakemake.params.channels, snakemake.input.models, scales, results_dir="results"
    )
    frozen.save(snakemake.output[0])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
