"""A network's signature of the external patients, on the training scales (rule ``external_signature``)."""

from survsig.core.io import read_table, write_tsv
from survsig.core.logs import run_script
from survsig.external.scoring import external_signature_table
from survsig.imaging.signature import FrozenSignature
from survsig.imaging.slices import read_manifest


def main(snakemake):
    frozen = FrozenSignature.load(snakemake.input.frozen)
    patients = read_table(snakemake.input.clinical, dtype={"patient_id": str})["patient_id"].tolist()
    signature = frozen.score("results", read_manifest(snakemake.input.manifest), patients, threads=snakemake.threads)
    write_tsv(external_signature_table(patients, signature), snakemake.output[0], float_format="%.6f")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
