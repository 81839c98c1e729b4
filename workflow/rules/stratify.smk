# Risk groups: maxstat cut-off on the training set, Kaplan-Meier curves (Fig. 3),
# subgroups and treatment within risk groups (Fig. 4), Table S3.
# Input contract: results/nomograms/{nomogram}_scores.tsv (patient_id, split, os_months,
# os_event, lp; higher lp = higher risk), written by the nomogram stage.


rule stratify_cutoff:
    input:
        scores="results/nomograms/{nomogram}_scores.tsv",
        split="results/split.tsv",
    output:
        groups="results/stratify/{nomogram}_groups.tsv",
        cutoff="results/stratify/{nomogram}_cutoff.tsv",
        profile="results/stratify/{nomogram}_maxstat_profile.tsv",
    log:
        "logs/stratify/cutoff_{nomogram}.log",
    wildcard_constraints:
        **STRATIFY_CONSTRAINTS,
    conda:
        "../../envs/stats.yaml"
    params:
        stratify=STRATIFY,
    script:
        "../scripts/statistics/stratify_cutoff.py"


rule stratify_km:
    input:
        groups="results/stratify/{nomogram}_groups.tsv",
        cutoff="results/stratify/{nomogram}_cutoff.tsv",
    output:
        png=report(
            "results/figures/km_{nomogram}_{split}.png",
            caption="../report/km_risk_groups.rst",
            category=REPORT_STAGES["risk_groups"],
            subcategory="Kaplan-Meier (Fig. 3)",
        ),
        pdf="results/figures/km_{nomogram}_{split}.pdf",
    log:
        "logs/stratify/km_{nomogram}_{split}.log",
    wildcard_constraints:
        **STRATIFY_CONSTRAINTS,
    conda:
        "../../envs/stats.yaml"
    params:
        figures=config["figures"],
        stratify=STRATIFY,
    script:
        "../scripts/statistics/stratify_km.py"


rule stratify_summary:
    input:
        groups="results/stratify/{nomogram}_groups.tsv",
        cutoff="results/stratify/{nomogram}_cutoff.tsv",
    output:
        report(
            "results/tables/risk_groups_{nomogram}.tsv",
            caption="../report/risk_groups_table.rst",
            category=REPORT_STAGES["risk_groups"],
            subcategory="Cut-offs and risk groups",
        ),
    log:
        "logs/stratify/summary_{nomogram}.log",
    wildcard_constraints:
        **STRATIFY_CONSTRAINTS,
    conda:
        "../../envs/stats.yaml"
    params:
        stratify=STRATIFY,
    script:
        "../scripts/statistics/stratify_summary.py"


rule stratify_risk_groups:
    input:
        groups=f"results/stratify/{STRATIFY['risk_groups_from']}_groups.tsv",
    output:
        report(
            "results/risk_groups.tsv",
            caption="../report/risk_groups_patients.rst",
            category=REPORT_STAGES["risk_groups"],
            subcategory="Cut-offs and risk groups",
        ),
    log:
        "logs/stratify/risk_groups.log",
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/statistics/stratify_risk_groups.py"


rule stratify_subgroup_table:
    input:
        risk_groups="results/risk_groups.tsv",
        clinical=f"{VALIDATED_DIR}/clinical.tsv",
    output:
        report(
            "results/tables/subgroups_{subset}.tsv",
            caption="../report/subgroups_table.rst",
            category=REPORT_STAGES["risk_groups"],
            subcategory="Subgroups (Fig. 4)",
        ),
    log:
        "logs/stratify/subgroups_{subset}.log",
    wildcard_constraints:
        **STRATIFY_CONSTRAINTS,
    conda:
        "../../envs/stats.yaml"
    params:
        stratify=STRATIFY,
    script:
        "../scripts/statistics/stratify_subgroup_table.py"


rule stratify_subgroup_figure:
    input:
        risk_groups="results/risk_groups.tsv",
        clinical=f"{VALIDATED_DIR}/clinical.tsv",
    output:
        png=report(
            "results/figures/subgroup_{variable}_{subset}.png",
            caption="../report/subgroup_km.rst",
            category=REPORT_STAGES["risk_groups"],
            subcategory="Subgroups (Fig. 4)",
        ),
        pdf="results/figures/subgroup_{variable}_{subset}.pdf",
    log:
        "logs/stratify/subgroup_{variable}_{subset}.log",
    wildcard_constraints:
        **STRATIFY_CONSTRAINTS,
    conda:
        "../../envs/stats.yaml"
    params:
        figures=config["figures"],
        stratify=STRATIFY,
    script:
        "../scripts/statistics/stratify_subgroup_figure.py"


rule stratify_treatment:
    input:
        risk_groups="results/risk_groups.tsv",
        clinical=f"{VALIDATED_DIR}/clinical.tsv",
    output:
        tsv=report(
            "results/tables/treatment_by_risk_{subset}.tsv",
            caption="../report/treatment_by_risk.rst",
            category=REPORT_STAGES["risk_groups"],
            subcategory="Treatment within risk groups",
        ),
        png=report(
            "results/figures/treatment_by_risk_{subset}.png",
            caption="../report/treatment_by_risk.rst",
            category=REPORT_STAGES["risk_groups"],
            subcategory="Treatment within risk groups",
        ),
        pdf="results/figures/treatment_by_risk_{subset}.pdf",
    log:
        "logs/stratify/treatment_by_risk_{subset}.log",
    wildcard_constraints:
        **STRATIFY_CONSTRAINTS,
    conda:
        "../../envs/stats.yaml"
    params:
        figures=config["figures"],
        stratify=STRATIFY,
    script:
        "../scripts/statistics/stratify_treatment.py"


rule stratify_table_s3:
    input:
        risk_groups="results/risk_groups.tsv",
        clinical=f"{VALIDATED_DIR}/clinical.tsv",
    output:
        tsv=report(
            "results/tables/table_s3_{subset}.tsv",
            caption="../report/table_s3.rst",
            category=REPORT_STAGES["risk_groups"],
            subcategory="Risk group characteristics (Table S3)",
        ),
        png=report(
            "results/tables/table_s3_{subset}.png",
            caption="../report/table_s3.rst",
            category=REPORT_STAGES["risk_groups"],
            subcategory="Risk group characteristics (Table S3)",
        ),
        pdf="results/tables/table_s3_{subset}.pdf",
    log:
        "logs/stratify/table_s3_{subset}.log",
    wildcard_constraints:
        **STRATIFY_CONSTRAINTS,
    conda:
        "../../envs/stats.yaml"
    params:
        figures=config["figures"],
        table1=config["table1"],
    script:
        "../scripts/statistics/stratify_table_s3.py"
