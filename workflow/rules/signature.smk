# Signatures: one risk score per patient and model, standardised with training statistics.


rule oracle_signature:
    input:
        ground_truth=f"{SYNTHETIC_DIR}/ground_truth.tsv",
        split="results/split.tsv",
    output:
        "results/signatures/oracle/{model}.tsv",
    log:
        "logs/signature/oracle_{model}.log",
    conda:
        "../../envs/imaging.yaml"
    params:
        channels=model_channels,
    script:
        "../scripts/imaging/oracle_signature.py"


rule signature:
    input:
        signature_source,
    output:
        report(
            "results/signatures/{model}.tsv",
            caption="../report/signature.rst",
            category=REPORT_STAGES["signatures"],
            subcategory="Risk scores",
        ),
    log:
        "logs/signature/{model}.log",
    conda:
        "../../envs/imaging.yaml"
    shell:
        "cp {input} {output} 2> {log}"


rule signature_vs_oracle:
    input:
        signatures=expand("results/signatures/{signature}.tsv", signature=SIGNATURES),
        matched=[MATCHED_RADIOMICS_FILES[model] for model in MATCHED_ONLY],
        clinical=f"{VALIDATED_DIR}/clinical.tsv",
        ground_truth=f"{SYNTHETIC_DIR}/ground_truth.tsv",
    output:
        report(
            "results/tables/signature_vs_oracle.tsv",
            caption="../report/signature_vs_oracle.rst",
            category=REPORT_STAGES["signatures"],
            subcategory="Against the true predictors",
        ),
    log:
        "logs/signature/signature_vs_oracle.log",
    conda:
        "../../envs/imaging.yaml"
    params:
        models=SIGNATURE_CHANNELS,
        matched=[MATCHED_RADIOMICS[model][0] for model in MATCHED_ONLY],
    script:
        "../scripts/imaging/signature_vs_oracle.py"


rule signature_km:
    input:
        signature="results/signatures/{model}.tsv",
        clinical=f"{VALIDATED_DIR}/clinical.tsv",
    output:
        png=report(
            "results/figures/signature_km_{model}_{split}.png",
            caption="../report/signature_km.rst",
            category=REPORT_STAGES["signatures"],
            subcategory="Kaplan-Meier (Fig. S1)",
        ),
        pdf="results/figures/signature_km_{model}_{split}.pdf",
    log:
        "logs/figures/signature_km_{model}_{split}.log",
    conda:
        "../../envs/imaging.yaml"
    params:
        figures=config["figures"],
        time_months=config["stratify"]["horizon_months"],
    script:
        "../scripts/imaging/signature_km.py"
