# Nomograms: univariable Cox (Table 2), clinical/SUV selection on the training set, Cox
# nomograms (clinical, clinical_suv, dl_{model}, integrated, integrated_suv) saved as JSON
# with every patient's linear predictor, the nomogram figures (Fig. 2A), and scoring of
# new patients. Logic: survsig/statistics/{terms,univariable,selection,axes,nomogram,scoring,nomogram_figure}.py.


rule table2:
    input:
        clinical=f"{VALIDATED_DIR}/clinical.tsv",
        split="results/split.tsv",
        signatures=expand("results/signatures/{signature}.tsv", signature=SIGNATURES),
    output:
        tsv=report(
            "results/tables/table2_univariable.tsv",
            caption="../report/table2_univariable.rst",
            category=REPORT_STAGES["nomograms"],
            subcategory="Univariable Cox (Table 2)",
        ),
        png=report(
            "results/tables/table2_univariable.png",
            caption="../report/table2_univariable.rst",
            category=REPORT_STAGES["nomograms"],
            subcategory="Univariable Cox (Table 2)",
        ),
        pdf="results/tables/table2_univariable.pdf",
    log:
        "logs/nomogram/table2.log",
    conda:
        "../../envs/stats.yaml"
    params:
        figures=config["figures"],
        nomogram=NOMOGRAM,
        models=SIGNATURES,
    script:
        "../scripts/statistics/nomogram_table2.py"


rule nomogram_selection:
    input:
        clinical=f"{VALIDATED_DIR}/clinical.tsv",
        split="results/split.tsv",
    output:
        json="results/nomograms/selection.json",
        table=report(
            "results/tables/variable_selection.tsv",
            caption="../report/variable_selection.rst",
            category=REPORT_STAGES["nomograms"],
            subcategory="Variable selection",
        ),
    log:
        "logs/nomogram/selection.log",
    conda:
        "../../envs/stats.yaml"
    params:
        nomogram=NOMOGRAM,
    script:
        "../scripts/statistics/nomogram_selection.py"


rule fit_nomogram:
    input:
        clinical=f"{VALIDATED_DIR}/clinical.tsv",
        split="results/split.tsv",
        selection="results/nomograms/selection.json",
        signatures=nomogram_signature_files,
    output:
        json="results/nomograms/{nomogram}.json",
        scores=report(
            "results/nomograms/{nomogram}_scores.tsv",
            caption="../report/nomogram_scores.rst",
            category=REPORT_STAGES["nomograms"],
            subcategory="Patient scores",
        ),
    log:
        "logs/nomogram/fit_{nomogram}.log",
    wildcard_constraints:
        **NOMOGRAM_CONSTRAINTS,
    conda:
        "../../envs/stats.yaml"
    params:
        nomogram=NOMOGRAM,
        models=nomogram_models,
    script:
        "../scripts/statistics/fit_nomogram.py"


rule nomogram_figure:
    input:
        "results/nomograms/{nomogram}.json",
    output:
        png=report(
            "results/figures/nomogram_{nomogram}.png",
            caption="../report/nomogram_figure.rst",
            category=REPORT_STAGES["nomograms"],
            subcategory="Nomograms (Fig. 2A)",
        ),
        pdf="results/figures/nomogram_{nomogram}.pdf",
    log:
        "logs/nomogram/figure_{nomogram}.log",
    wildcard_constraints:
        **NOMOGRAM_CONSTRAINTS,
    conda:
        "../../envs/stats.yaml"
    params:
        figures=config["figures"],
        nomogram=NOMOGRAM,
    script:
        "../scripts/statistics/nomogram_figure.py"


if NOMOGRAM["new_patients"]:

    rule score_new:
        input:
            nomogram="results/nomograms/{nomogram}.json",
            sheet=NOMOGRAM["new_patients"],
        output:
            report(
                "results/nomograms/{nomogram}_new_patients.tsv",
                caption="../report/score_new.rst",
                category=REPORT_STAGES["nomograms"],
                subcategory="New patients",
            ),
        log:
            "logs/nomogram/score_new_{nomogram}.log",
        wildcard_constraints:
            **NOMOGRAM_CONSTRAINTS,
        conda:
            "../../envs/stats.yaml"
        script:
            "../scripts/statistics/score_new.py"
