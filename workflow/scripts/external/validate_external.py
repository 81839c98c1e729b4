"""Check the external cohort's sheets as the training cohort's are, and against it (rule ``validate_external``)."""

from survsig.cohort.validate import write_validated
from survsig.core.logs import run_script
from survsig.external.cohort import validate_external


def main(snakemake):
    inputs = snakemake.input
    cohort = validate_external(
        clinical=inputs.clinical,
        images=inputs.images,
        training_clinical=inputs.training_clinical,
        training_images=inputs.training_images,
        columns=dict(snakemake.params.columns or {}),
        labels=dict(snakemake.params.labels or {}),
    )
    write_validated(cohort, clinical=snakemake.output.clinical, images=snakemake.output.images)


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
