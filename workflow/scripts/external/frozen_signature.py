"""A network's frozen signature: the scales its training patients gave each level of the
ensemble, and the SHA-256 of its model files (rule ``frozen_signature``).

The signature of every patient of the run is made again, learning the scales, and must be
the run's signature file to its rounding: the scales are then those the file was made with.
"""

import logging

import numpy as np

from survsig.core.errors import InputError
from survsig.core.files import read_split
from survsig.core.io import read_table
from survsig.core.logs import run_script
from survsig.imaging.signature import FrozenSignature, trained_signature
from survsig.imaging.slices import read_manifest

log = logging.getLogger("survsig")

#: How far the signature made again may lie from the file's: its rounding (6 decimals,
#: 0.5e-6) and what float32 networks on another thread count or device move a standardised
#: score by (about 1e-6); a file of other networks lies orders of magnitude further
SIGNATURE_FILE_TOLERANCE = 2.5e-6


def main(snakemake):
    scales = {}
    table = trained_signature(
        snakemake.input.models,
        read_manifest(snakemake.input.manifest),
        read_split(snakemake.input.split),
        threads=snakemake.threads,
        scales=scales,
    )
    saved = read_table(snakemake.input.signature, dtype={"patient_id": str})
    made = table.set_index("patient_id")["signature"].reindex(saved["patient_id"]).to_numpy(float)
    difference = np.abs(made - saved["signature"].to_numpy(float))
    far = ~(difference <= SIGNATURE_FILE_TOLERANCE)  # NaN (a patient missing) is far too
    if far.any():
        i = int(np.flatnonzero(far)[0])
        raise InputError(
            f"the trained networks do not reproduce the signature file ({made[i]!r} against "
            f"{saved['signature'].iloc[i]!r}): the models changed since it was written",
            file=snakemake.input.signature,
            patient=saved["patient_id"].iloc[i],
            column="signature",
        )
    log.info("networks reproduce %s (largest difference %.2g)", snakemake.input.signature, difference.max())
    frozen = FrozenSignature.from_scales(
        snakemake.wildcards.model, snakemake.params.channels, snakemake.input.models, scales, results_dir="results"
    )
    frozen.save(snakemake.output[0])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
