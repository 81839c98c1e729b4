"""Snakemake script of rule validate: check the cohort's sheets, write canonical ones."""

from survsig.cohort.validate import validate_cohort, write_validated
from survsig.core.logs import run_script


def main(snakemake):
    inputs, outputs = snakemake.input, snakemake.output
    has_rnaseq = "rnaseq" in inputs.keys()
    cohort = validate_cohort(
        clinical=inputs.clinical,
        images=inputs.images,
        rnaseq=inputs.rnaseq if has_rnaseq else None,
        columns=dict(snakemake.params.columns),
        labels=dict(snakemake.params.labels),
    )
    write_validated(
        cohort,
        clinical=outputs.clinical,
        images=outputs.images,
        rnaseq=outputs.rnaseq if has_rnaseq else None,
    )


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
