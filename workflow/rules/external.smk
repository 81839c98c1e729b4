# The frozen run (results/frozen/): each network's training scales, the radiomics signature's
# fitted state, and the manifest of every file that scores other patients (survsig predict).
# External validation (results/external/, with config external): another centre's cohort
# checked as the training cohort is (and refused if it shares a patient with it),
# preprocessed with the training settings, scored by the trained networks, nomograms and
# cut-off as they are (no refit), and evaluated: C-index, time-dependent AUC, calibration,
# risk groups, and how its images and patients differ from the training cohort's.
# Logic: survsig/external/{cohort,frozen,scoring,evaluation,shift,predict}.py.


rule frozen_signature:
    input:
        models=member_files("model.pt"),
        manifest="results/preprocessed/manifest.tsv",
        split="results/split.tsv",
        signature="results/signatures/trained/{model}.tsv",
    output:
        f"{FROZEN_DIR}/signature_{{model}}.json",
    log:
        "logs/frozen/signature_{model}.log",
    conda:
        "../../envs/imaging.yaml"
    threads: network_threads
    params:
        channels=model_channels,
    script:
        "../scripts/external/frozen_signature.py"


rule frozen_radiomics:
    input:
        features=radiomics_feature_tables,
        clinical=f"{VALIDATED_DIR}/clinical.tsv",
        split="results/split.tsv",
        signature=f"results/signatures/{RADIOMICS_SIGNATURE}.tsv",
    output:
        f"{FROZEN_DIR}/{RADIOMICS_SIGNATURE}.json",
    log:
        "logs/frozen/radiomics.log",
    conda:
        "../../envs/stats.yaml"
    params:
        radiomics=RADIOMICS,
    script:
        "../scripts/imaging/radiomics_frozen.py"


rule frozen_run:
    input:
        signatures=list(FROZEN_SIGNATURES.values()),
        nomograms=expand("results/nomograms/{nomogram}.json", nomogram=FROZEN_NOMOGRAMS),
        cutoffs=expand("results/stratify/{nomogram}_cutoff.tsv", nomogram=STRATIFY["nomograms"]),
    output:
        f"{FROZEN_DIR}/run.json",
    log:
        "logs/frozen/run.log",
    conda:
        "../../envs/stats.yaml"
    params:
        signatures=list(FROZEN_SIGNATURES),
        nomograms=FROZEN_NOMOGRAMS,
        cutoffs=STRATIFY["nomograms"],
        preprocess=preprocess_settings(),
        radiomics=radiomics_settings() if RADIOMICS["enabled"] else None,
    script:
        "../scripts/external/frozen_run.py"


if uses_synthetic_external():

    rule simulate_external:
        output:
            clinical=f"{EXTERNAL_SYNTHETIC_DIR}/clinical.tsv",
            images=f"{EXTERNAL_SYNTHETIC_DIR}/images.tsv",
            image_dir=directory(f"{EXTERNAL_SYNTHETIC_DIR}/images"),
            ground_truth=f"{EXTERNAL_SYNTHETIC_DIR}/ground_truth.tsv",
        log:
            "logs/external/simulate.log",
        conda:
            "../../envs/imaging.yaml"
        threads: 2
        params:
            synthetic=config["synthetic"],
            changes=EXTERNAL["synthetic"],
        script:
            "../scripts/external/simulate_external.py"


if uses_external():

    checkpoint validate_external:
        input:
            **external_sheets(),
            training_clinical=f"{VALIDATED_DIR}/clinical.tsv",
            training_images=f"{VALIDATED_DIR}/images.tsv",
        output:
            clinical=f"{EXTERNAL_DIR}/validated/clinical.tsv",
            images=f"{EXTERNAL_DIR}/validated/images.tsv",
        log:
            "logs/external/validate.log",
        conda:
            "../../envs/imaging.yaml"
        params:
            columns=external_mapping("columns"),
            labels=external_mapping("labels"),
        script:
            "../scripts/external/validate_external.py"

    rule preprocess_external:
        input:
            EXTERNAL_IMAGES.validated_sheet,
        output:
            directory(f"{EXTERNAL_DIR}/preprocessed/{{batch}}"),
        log:
            "logs/external/preprocess/{batch}.log",
        conda:
            "../../envs/imaging.yaml"
        params:
            patients=EXTERNAL_IMAGES.batch_patients,
            ct=EXTERNAL_IMAGES.channel_images("ct"),
            pet=EXTERNAL_IMAGES.channel_images("pet"),
            roi=EXTERNAL_IMAGES.channel_images("roi"),
            image_versions=EXTERNAL_IMAGES.image_versions,
            # the training cohort's settings: the networks see what they were trained on
            settings=preprocess_settings(),
        shell:
            "python -m survsig.cli preprocess --patients {params.patients:q}"
            " --ct {params.ct:q} --pet {params.pet:q} --roi {params.roi:q}"
            " --settings {params.settings:q} --output-dir {output:q} --log {log:q}"

    rule external_slice_manifest:
        input:
            EXTERNAL_IMAGES.batch_dirs,
        output:
            f"{EXTERNAL_DIR}/preprocessed/manifest.tsv",
        log:
            "logs/external/preprocess/manifest.log",
        conda:
            "../../envs/imaging.yaml"
        params:
            files=EXTERNAL_IMAGES.slice_files,
        script:
            "../scripts/imaging/slice_manifest.py"

    rule external_signature:
        input:
            frozen=f"{FROZEN_DIR}/signature_{{model}}.json",
            models=member_files("model.pt"),
            manifest=f"{EXTERNAL_DIR}/preprocessed/manifest.tsv",
            clinical=f"{EXTERNAL_DIR}/validated/clinical.tsv",
        output:
            report(
                f"{EXTERNAL_DIR}/signatures/{{model}}.tsv",
                caption="../report/external_signature.rst",
                category=REPORT_STAGES["external"],
                subcategory="Signatures",
            ),
        log:
            "logs/external/signature_{model}.log",
        conda:
            "../../envs/imaging.yaml"
        threads: network_threads
        script:
            "../scripts/external/external_signature.py"

    rule external_radiomics_features:
        input:
            EXTERNAL_IMAGES.validated_sheet,
        output:
            f"{EXTERNAL_DIR}/radiomics/features/{{batch}}.tsv",
        log:
            "logs/external/radiomics/features_{batch}.log",
        conda:
            "../../envs/radiomics.yaml"
        params:
            patients=EXTERNAL_IMAGES.batch_patients,
            images=EXTERNAL_IMAGES.radiomics_options,
            image_versions=EXTERNAL_IMAGES.image_versions,
            settings=radiomics_settings(),
        shell:
            "python -m survsig.cli radiomics --patients {params.patients:q} {params.images}"
            " --settings {params.settings:q} --output {output:q} --log {log:q}"

    rule external_radiomics_signature:
        input:
            frozen=f"{FROZEN_DIR}/{RADIOMICS_SIGNATURE}.json",
            features=EXTERNAL_IMAGES.feature_tables,
            clinical=f"{EXTERNAL_DIR}/validated/clinical.tsv",
        output:
            report(
                f"{EXTERNAL_DIR}/signatures/{RADIOMICS_SIGNATURE}.tsv",
                caption="../report/external_signature.rst",
                category=REPORT_STAGES["external"],
                subcategory="Signatures",
            ),
        log:
            "logs/external/signature_radiomics.log",
        conda:
            "../../envs/stats.yaml"
        script:
            "../scripts/external/external_radiomics_signature.py"

    rule external_scores:
        input:
            nomogram="results/nomograms/{nomogram}.json",
            clinical=f"{EXTERNAL_DIR}/validated/clinical.tsv",
            signatures=external_signature_files,
        output:
            report(
                f"{EXTERNAL_DIR}/nomograms/{{nomogram}}_scores.tsv",
                caption="../report/external_scores.rst",
                category=REPORT_STAGES["external"],
                subcategory="Patient scores",
            ),
        log:
            "logs/external/scores_{nomogram}.log",
        wildcard_constraints:
            **NOMOGRAM_CONSTRAINTS,
        conda:
            "../../envs/stats.yaml"
        params:
            models=nomogram_models,
        script:
            "../scripts/external/external_scores.py"

    rule external_cindex:
        input:
            scores=expand(f"{EXTERNAL_DIR}/nomograms/{{nomogram}}_scores.tsv", nomogram=FROZEN_NOMOGRAMS),
        output:
            tsv=report(
                f"{EXTERNAL_DIR}/tables/cindex.tsv",
                caption="../report/external_cindex.rst",
                category=REPORT_STAGES["external"],
                subcategory="C-index",
            ),
            png=report(
                f"{EXTERNAL_DIR}/tables/cindex.png",
                caption="../report/external_cindex.rst",
                category=REPORT_STAGES["external"],
                subcategory="C-index",
            ),
            pdf=f"{EXTERNAL_DIR}/tables/cindex.pdf",
        log:
            "logs/external/cindex.log",
        conda:
            "../../envs/stats.yaml"
        params:
            figures=config["figures"],
            evaluate=EVALUATE,
            nomograms=FROZEN_NOMOGRAMS,
            name=EXTERNAL["name"],
        script:
            "../scripts/external/external_cindex.py"

    rule external_time_roc:
        input:
            scores=expand(f"{EXTERNAL_DIR}/nomograms/{{nomogram}}_scores.tsv", nomogram=FROZEN_NOMOGRAMS),
        output:
            tsv=report(
                f"{EXTERNAL_DIR}/tables/tdauc.tsv",
                caption="../report/time_roc.rst",
                category=REPORT_STAGES["external"],
                subcategory="Time-dependent ROC",
            ),
            png=report(
                f"{EXTERNAL_DIR}/figures/roc.png",
                caption="../report/time_roc.rst",
                category=REPORT_STAGES["external"],
                subcategory="Time-dependent ROC",
            ),
            pdf=f"{EXTERNAL_DIR}/figures/roc.pdf",
        log:
            "logs/external/time_roc.log",
        conda:
            "../../envs/stats.yaml"
        params:
            figures=config["figures"],
            evaluate=EVALUATE,
            nomograms=FROZEN_NOMOGRAMS,
            name=EXTERNAL["name"],
        script:
            "../scripts/external/external_time_roc.py"

    rule external_calibration:
        input:
            nomogram="results/nomograms/{nomogram}.json",
            scores=f"{EXTERNAL_DIR}/nomograms/{{nomogram}}_scores.tsv",
        output:
            tsv=report(
                f"{EXTERNAL_DIR}/tables/calibration_{{nomogram}}.tsv",
                caption="../report/calibration_table.rst",
                category=REPORT_STAGES["external"],
                subcategory="Calibration",
            ),
            png=report(
                f"{EXTERNAL_DIR}/figures/calibration_{{nomogram}}.png",
                caption="../report/calibration.rst",
                category=REPORT_STAGES["external"],
                subcategory="Calibration",
            ),
            pdf=f"{EXTERNAL_DIR}/figures/calibration_{{nomogram}}.pdf",
        log:
            "logs/external/calibration_{nomogram}.log",
        wildcard_constraints:
            **NOMOGRAM_CONSTRAINTS,
        conda:
            "../../envs/stats.yaml"
        params:
            figures=config["figures"],
            evaluate=EVALUATE,
            name=EXTERNAL["name"],
        script:
            "../scripts/external/external_calibration.py"

    rule external_risk_groups:
        input:
            scores=f"{EXTERNAL_DIR}/nomograms/{{nomogram}}_scores.tsv",
            cutoff="results/stratify/{nomogram}_cutoff.tsv",
        output:
            groups=f"{EXTERNAL_DIR}/stratify/{{nomogram}}_groups.tsv",
            table=report(
                f"{EXTERNAL_DIR}/tables/risk_groups_{{nomogram}}.tsv",
                caption="../report/external_risk_groups.rst",
                category=REPORT_STAGES["external"],
                subcategory="Risk groups",
            ),
            png=report(
                f"{EXTERNAL_DIR}/figures/km_{{nomogram}}.png",
                caption="../report/external_risk_groups.rst",
                category=REPORT_STAGES["external"],
                subcategory="Risk groups",
            ),
            pdf=f"{EXTERNAL_DIR}/figures/km_{{nomogram}}.pdf",
        log:
            "logs/external/risk_groups_{nomogram}.log",
        wildcard_constraints:
            **STRATIFY_CONSTRAINTS,
        conda:
            "../../envs/stats.yaml"
        params:
            figures=config["figures"],
            stratify=STRATIFY,
            name=EXTERNAL["name"],
        script:
            "../scripts/external/external_risk_groups.py"

    rule external_subgroup_table:
        input:
            groups=f"{EXTERNAL_DIR}/stratify/{STRATIFY['risk_groups_from']}_groups.tsv",
            clinical=f"{EXTERNAL_DIR}/validated/clinical.tsv",
        output:
            report(
                f"{EXTERNAL_DIR}/tables/subgroups.tsv",
                caption="../report/subgroups_table.rst",
                category=REPORT_STAGES["external"],
                subcategory="Risk groups",
            ),
        log:
            "logs/external/subgroups.log",
        conda:
            "../../envs/stats.yaml"
        params:
            stratify=STRATIFY,
        script:
            "../scripts/external/external_subgroups.py"

    rule external_subgroup_figure:
        input:
            groups=f"{EXTERNAL_DIR}/stratify/{STRATIFY['risk_groups_from']}_groups.tsv",
            clinical=f"{EXTERNAL_DIR}/validated/clinical.tsv",
        output:
            png=report(
                f"{EXTERNAL_DIR}/figures/subgroup_{{variable}}.png",
                caption="../report/subgroup_km.rst",
                category=REPORT_STAGES["external"],
                subcategory="Risk groups",
            ),
            pdf=f"{EXTERNAL_DIR}/figures/subgroup_{{variable}}.pdf",
        log:
            "logs/external/subgroup_{variable}.log",
        wildcard_constraints:
            **STRATIFY_CONSTRAINTS,
        conda:
            "../../envs/stats.yaml"
        params:
            figures=config["figures"],
            stratify=STRATIFY,
        script:
            "../scripts/external/external_subgroups.py"

    rule external_shift:
        input:
            training_clinical=f"{VALIDATED_DIR}/clinical.tsv",
            training_images=f"{VALIDATED_DIR}/images.tsv",
            split="results/split.tsv",
            clinical=f"{EXTERNAL_DIR}/validated/clinical.tsv",
            images=f"{EXTERNAL_DIR}/validated/images.tsv",
        output:
            tsv=report(
                f"{EXTERNAL_DIR}/tables/shift.tsv",
                caption="../report/external_shift.rst",
                category=REPORT_STAGES["external"],
                subcategory="Shift against training",
            ),
            png=report(
                f"{EXTERNAL_DIR}/figures/shift.png",
                caption="../report/external_shift.rst",
                category=REPORT_STAGES["external"],
                subcategory="Shift against training",
            ),
            pdf=f"{EXTERNAL_DIR}/figures/shift.pdf",
        log:
            "logs/external/shift.log",
        conda:
            "../../envs/imaging.yaml"
        params:
            figures=config["figures"],
            name=EXTERNAL["name"],
        script:
            "../scripts/external/external_shift.py"


if uses_synthetic_external():

    rule external_vs_oracle:
        input:
            scores=expand(f"{EXTERNAL_DIR}/nomograms/{{nomogram}}_scores.tsv", nomogram=FROZEN_NOMOGRAMS),
            signatures=expand(f"{EXTERNAL_DIR}/signatures/{{signature}}.tsv", signature=list(FROZEN_SIGNATURES)),
            clinical=f"{EXTERNAL_DIR}/validated/clinical.tsv",
            ground_truth=f"{EXTERNAL_SYNTHETIC_DIR}/ground_truth.tsv",
        output:
            report(
                f"{EXTERNAL_DIR}/tables/vs_oracle.tsv",
                caption="../report/external_vs_oracle.rst",
                category=REPORT_STAGES["external"],
                subcategory="Against the true predictors",
            ),
        log:
            "logs/external/vs_oracle.log",
        conda:
            "../../envs/stats.yaml"
        params:
            nomograms=FROZEN_NOMOGRAMS,
            signatures=list(FROZEN_SIGNATURES),
            models=SIGNATURE_CHANNELS,
        script:
            "../scripts/external/external_vs_oracle.py"
