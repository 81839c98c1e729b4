"""The radiomics signature of the external patients, as the run fit it (rule ``external_radiomics_signature``)."""

from survsig.core.io import read_table, write_tsv
from survsig.core.logs import run_script
from survsig.external.scoring import external_signature_table
from survsig.imaging.radiomic_features import FrozenRadiomics, read_feature_tables


def main(snakemake):
    frozen = FrozenRadiomics.load(snakemake.input.frozen)
    patients = read_table(snakemake.input.clinical, dtype={"patient_id": str})["patient_id"].tolist()
    features = read_feature_tables(snakemake.input.features).reindex(patients)
    write_tsv(external_signature_table(patients, frozen.signature(features)), snakemake.output[0], float_format="%.6f")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
