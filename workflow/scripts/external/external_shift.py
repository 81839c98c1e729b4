"""The external cohort against the training patients: what the networks see (ROI volume, CT
and PET inside the ROI, voxel spacing, grid) and the clinical terms, each with its
standardised difference (rule ``external_shift``)."""

import logging

from survsig.core import columns as col
from survsig.core.figures import save_figure
from survsig.core.files import read_split
from survsig.core.io import read_table, write_tsv
from survsig.core.logs import run_script
from survsig.external.shift import cohort_shift, shift_figure

log = logging.getLogger("survsig")


def main(snakemake):
    inputs = snakemake.input
    split = read_split(inputs.split)
    training = set(split.loc[split[col.SPLIT] == col.SPLIT_LEVELS[0], col.PATIENT_ID])

    def training_only(path):
        sheet = read_table(path, dtype={col.PATIENT_ID: str})
        return sheet[sheet[col.PATIENT_ID].isin(training)]

    def progress(which, number, total):
        if number % 50 == 0 or number == total:
            log.info("measured the images of %d/%d %s patients", number, total, which)

    table = cohort_shift(
        training_only(inputs.training_images),
        training_only(inputs.training_clinical),
        read_table(inputs.images, dtype={col.PATIENT_ID: str}),
        read_table(inputs.clinical, dtype={col.PATIENT_ID: str}),
        progress=progress,
    )
    write_tsv(table, snakemake.output.tsv)
    figure = shift_figure(table, reference_label="Training set", external_label=snakemake.params.name)
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
