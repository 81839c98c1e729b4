# Radiomics comparator: pyradiomics features of the ROI on CT and PET (shape, first order,
# texture), per job of imaging.patients_per_job patients, and an elastic-net Cox signature
# fit on the training set; beside each network that sees fewer modalities, the same
# signature on the features of its modalities, and every network against its comparator
# on the same patients. Logic: survsig/imaging/radiomic_features.py, survsig/imaging/signature.py.


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
        "../scripts/imaging/radiomics_signature.py"


rule radiomics_matched_signature:
    input:
        features=radiomics_feature_tables,
        clinical=f"{VALIDATED_DIR}/clinical.tsv",
        split="results/split.tsv",
    output:
        signature="results/radiomics/matched/{model}.tsv",
        model="results/radiomics/matched/{model}.json",
        coefficients=report(
            "results/tables/radiomics_coefficients_{model}.tsv",
            caption="../report/radiomics_coefficients.rst",
            category=REPORT_STAGES["signatures"],
            subcategory="Radiomics",
        ),
    log:
        "logs/radiomics/matched_{model}.log",
    conda:
        "../../envs/stats.yaml"
    params:
        radiomics=RADIOMICS,
        modalities=lambda wildcards: MATCHED_RADIOMICS[wildcards.model][1],
    script:
        "../scripts/imaging/radiomics_signature.py"


rule signature_vs_radiomics:
    input:
        signatures=expand("results/signatures/{model}.tsv", model=list(MATCHED_RADIOMICS)),
        comparators=list(MATCHED_RADIOMICS_FILES.values()),
        clinical=f"{VALIDATED_DIR}/clinical.tsv",
    output:
        report(
            "results/tables/signature_vs_radiomics.tsv",
            caption="../report/signature_vs_radiomics.rst",
            category=REPORT_STAGES["signatures"],
            subcategory="Radiomics",
        ),
    log:
        "logs/radiomics/signature_vs_radiomics.log",
    conda:
        "../../envs/stats.yaml"
    params:
        models=list(MATCHED_RADIOMICS),
        comparators=[name for name, _ in MATCHED_RADIOMICS.values()],
        channels=SIGNATURE_CHANNELS,
    script:
        "../scripts/imaging/signature_vs_radiomics.py"


# Deep radiomics fusion (config fusion): the embedding of one network's trained members
# (its first principal components on the training patients) and the radiomic features of
# its modalities in the radiomics comparator's elastic-net Cox model, fit on the training
# set. Its own signature and nomogram; the network's stays as it is.
# Logic: survsig/imaging/fusion.py.


if FUSION["enabled"]:

    rule fusion_signature:
        input:
            models=expand(
                "results/models/{model}/member{member}/model.pt",
                model=FUSION["model"],
                member=MEMBERS,
            ),
            manifest="results/preprocessed/manifest.tsv",
            network=f"results/signatures/{FUSION['model']}.tsv",
            features=radiomics_feature_tables,
            clinical=f"{VALIDATED_DIR}/clinical.tsv",
            split="results/split.tsv",
        output:
            signature=report(
                f"results/signatures/{FUSION_SIGNATURE}.tsv",
                caption="../report/fusion_signature.rst",
                category=REPORT_STAGES["signatures"],
                subcategory="Risk scores",
            ),
            model=f"results/radiomics/{FUSION_SIGNATURE}.json",
            coefficients=report(
                f"results/tables/{FUSION_SIGNATURE}_coefficients.tsv",
                caption="../report/fusion_coefficients.rst",
                category=REPORT_STAGES["signatures"],
                subcategory="Radiomics",
            ),
        log:
            "logs/radiomics/fusion.log",
        # it gates the fusion nomogram, as the networks' signatures gate theirs
        priority: 10
        conda:
            "../../envs/imaging.yaml"
        params:
            radiomics=RADIOMICS,
            fusion=FUSION,
            modalities=MATCHED_RADIOMICS[FUSION["model"]][1] if FUSION["enabled"] else [],
        script:
            "../scripts/imaging/fusion_signature.py"
