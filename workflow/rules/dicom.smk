# A DICOM export as a hospital hands it over (CT and PET series, the tumour as an RTSTRUCT or
# DICOM-SEG) imported as NIfTI CT, SUV PET and ROI per patient with their image sheet, which
# the validate rule reads. Runs for the synthetic cohort written as such an export
# (synthetic.image_format: dicom_rt); for your own export, run `survsig import-dicom` and
# give its images.tsv as cohort.images.


rule import_dicom:
    input:
        export=f"{SYNTHETIC_DIR}/dicom",
    output:
        out_dir=directory(IMPORTED_DIR),
        images=f"{IMPORTED_DIR}/images.tsv",
        summary=f"{IMPORTED_DIR}/import_summary.tsv",
    log:
        "logs/import_dicom.log",
    conda:
        "../../envs/imaging.yaml"
    params:
        roi_pattern=config["dicom"]["roi_pattern"],
        suv=config["dicom"]["suv"],
    script:
        "../scripts/cohort/import_dicom.py"
