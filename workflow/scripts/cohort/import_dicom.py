"""Import a DICOM export as NIfTI CT, SUV PET and ROI per patient with their image sheet (rule ``import_dicom``)."""

from survsig.cohort.dicom_import import import_dicom
from survsig.core.logs import run_script


def main(snakemake):
    # the folder may exist, empty: Snakemake makes it for the sheet declared inside it
    import_dicom(
        snakemake.input.export,
        snakemake.output.out_dir,
        roi_pattern=snakemake.params.roi_pattern,
        suv_kind=snakemake.params.suv,
    )


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
