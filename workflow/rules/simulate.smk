# The built-in synthetic cohort: clinical sheet, CT/PET/ROI images (NIfTI, NRRD, MetaImage or DICOM
# series, synthetic.image_format) with their sheet, RNA-seq counts, a demo gene-set library and the
# ground truth of the hazard. With image_format dicom_rt the images are a hospital's DICOM export
# instead (results/synthetic/dicom), which rule import_dicom (dicom.smk) turns into images and sheet.


rule simulate:
    output:
        **simulate_outputs(),
    log:
        "logs/simulate.log",
    conda:
        "../../envs/imaging.yaml"
    threads: 2
    params:
        synthetic=config["synthetic"],
    script:
        "../scripts/cohort/simulate.py"


rule cohort_summary:
    input:
        clinical=f"{SYNTHETIC_DIR}/clinical.tsv",
        ground_truth=f"{SYNTHETIC_DIR}/ground_truth.tsv",
    output:
        report(
            f"{SYNTHETIC_DIR}/cohort_summary.tsv",
            caption="../report/cohort_summary.rst",
            category=REPORT_STAGES["cohort"],
            subcategory="Synthetic cohort",
        ),
    log:
        "logs/cohort_summary.log",
    conda:
        "../../envs/imaging.yaml"
    script:
        "../scripts/cohort/cohort_summary.py"
