"""The external cohort against the training patients: what the networks see (ROI volume, CT
and PET inside the ROI, voxel spacing, grid) and the clinical terms, each with its
standardised difference (rule ``external_shift``)."""

import logging

import pandas as pd

from survsig.core import columns as col
from survsig.core.figures import save_figure
from survsig.core.files import read_split
from survsig.core.io import read_table, write_tsv
from survsig.core.logs import run_script
from survsig.external.shift import (
    CLINICAL_GROUP,
    IMAGE_GROUP,
    IMAGE_MEASURES,
    image_measures,
    shift_figure,
    shift_table,
)

log = logging.getLogger("survsig")


def measures(path, patients, what):
    sheet = read_table(path, dtype={col.PATIENT_ID: str})
    sheet = sheet[sheet[col.PATIENT_ID].isin(patients)]

    def progress(number, total, patient_id):
        if number % 50 == 0 or number == total:
            log.info("measured the images of %d/%d %s patients", number, total, what)

    return image_measures(sheet, progress=progress)


def main(snakemake):
    inputs = snakemake.input
    split = read_split(inputs.split)
    training = set(split.loc[split[col.SPLIT] == col.SPLIT_LEVELS[0], col.PATIENT_ID].astype(str))
    reference_clinical = read_table(inputs.training_clinical, dtype={col.PATIENT_ID: str})
    reference_clinical = reference_clinical[reference_clinical[col.PATIENT_ID].isin(training)]
    external_clinical = read_table(inputs.clinical, dtype={col.PATIENT_ID: str})
    external = set(external_clinical[col.PATIENT_ID])
    # the SUV columns are optional in the sheet contract: compared where both cohorts have them
    suv = [c for c in col.SUV_COLUMNS if c in reference_clinical.columns and c in external_clinical.columns]
    table = pd.concat(
        [
            shift_table(
                measures(inputs.training_images, training, "training"),
                measures(inputs.images, external, "external"),
                continuous=IMAGE_MEASURES,
                group=IMAGE_GROUP,
            ),
            shift_table(
                reference_clinical,
                external_clinical,
                continuous=["age", *suv],
                categorical=list(col.CATEGORY_LEVELS),
                group=CLINICAL_GROUP,
            ),
        ],
        ignore_index=True,
    )
    write_tsv(table, snakemake.output.tsv)
    figure = shift_figure(table, reference_label="Training set", external_label=snakemake.params.name)
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
