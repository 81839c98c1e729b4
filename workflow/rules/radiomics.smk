# Radiomics comparator: pyradiomics features of the ROI on CT and PET (shape, first order,
# texture), per job of imaging.patients_per_job patients, and an elastic-net Cox signature
# fit on the training set. Logic: survsig/radiomic_features.py.


rule radiomics_features:
    input:
        # images as parameters, as in rule preprocess: Snakemake need not stat them all
        validated_image_sheet,
    output:
        "results/radiomics/features/{batch}.tsv",
    log:
        "logs/radiomics/features_{batch}.log",
    conda:
        "../../envs/radiomics.yaml"
    params:
        patients=preprocess_batch_patients,
        images=radiomics_image_options,
        image_versions=preprocess_image_versions,
        settings=radiomics_settings(),
    shell:
        "python -m survsig.cli radiomics --patients {params.patients:q} {params.images}"
        " --settings {params.settings:q} --output {output:q} --log {log:q}"


rule radiomics_signature:
    input:
        features=radiomics_feature_tables,
        clinical=f"{VALIDATED_DIR}/clinical.tsv",
        split="results/split.tsv",
    output:
        signature=report(
            "results/signatures/radiomics.tsv",
            caption="../report/radiomics_signature.rst",
            category=REPORT_STAGES["signatures"],
            subcategory="Risk scores",
        ),
        model="results/radiomics/signature.json",
        coefficients=report(
            "results/tables/radiomics_coefficients.tsv",
            caption="../report/radiomics_coefficients.rst",
            category=REPORT_STAGES["signatures"],
            subcategory="Radiomics",
        ),
    log:
        "logs/radiomics/signature.log",
    conda:
        "../../envs/stats.yaml"
    params:
        radiomics=RADIOMICS,
    script:
        "../scripts/radiomics_signature.py"
