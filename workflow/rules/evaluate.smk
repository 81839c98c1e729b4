# Evaluation of the nomograms: Harrell C-index with the paired comparison against the
# integrated nomogram (Table 3), C-index of the true predictors of the synthetic cohort,
# time-dependent ROC/AUC (Fig. S2), calibration (Fig. 2B) and decision curves at the horizon.
# Logic: survsig/statistics/{cindex,oracle,time_roc,calibration,decision}.py. Inputs: the nomogram stage's JSON
# and scores files.


rule table3:
    input:
        scores=expand("results/nomograms/{nomogram}_scores.tsv", nomogram=NOMOGRAMS),
        validation="results/tables/internal_validation.tsv",
    output:
        tsv=report(
            "results/tables/table3_cindex.tsv",
            caption="../report/table3_cindex.rst",
            category=REPORT_STAGES["evaluation"],
            subcategory="C-index (Table 3)",
        ),
        png=report(
            "results/tables/table3_cindex.png",
            caption="../report/table3_cindex.rst",
            category=REPORT_STAGES["evaluation"],
            subcategory="C-index (Table 3)",
        ),
        pdf="results/tables/table3_cindex.pdf",
    log:
        "logs/evaluate/table3.log",
    conda:
        "../../envs/stats.yaml"
    params:
        figures=config["figures"],
        evaluate=EVALUATE,
        nomograms=NOMOGRAMS,
    script:
        "../scripts/statistics/table3.py"


rule nomogram_vs_oracle:
    input:
        scores=expand("results/nomograms/{nomogram}_scores.tsv", nomogram=NOMOGRAMS),
        ground_truth=f"{SYNTHETIC_DIR}/ground_truth.tsv",
    output:
        report(
            "results/tables/nomogram_vs_oracle.tsv",
            caption="../report/nomogram_vs_oracle.rst",
            category=REPORT_STAGES["evaluation"],
            subcategory="Against the true predictors",
        ),
    log:
        "logs/evaluate/nomogram_vs_oracle.log",
    conda:
        "../../envs/stats.yaml"
    params:
        nomograms=NOMOGRAMS,
        models=SIGNATURE_CHANNELS,
    script:
        "../scripts/statistics/nomogram_vs_oracle.py"


rule time_roc:
    input:
        scores=expand("results/nomograms/{nomogram}_scores.tsv", nomogram=NOMOGRAMS),
    output:
        tsv=report(
            "results/tables/tdauc_{split}.tsv",
            caption="../report/time_roc.rst",
            category=REPORT_STAGES["evaluation"],
            subcategory="Time-dependent ROC (Fig. S2)",
        ),
        png=report(
            "results/figures/roc_{split}.png",
            caption="../report/time_roc.rst",
            category=REPORT_STAGES["evaluation"],
            subcategory="Time-dependent ROC (Fig. S2)",
        ),
        pdf="results/figures/roc_{split}.pdf",
    log:
        "logs/evaluate/time_roc_{split}.log",
    wildcard_constraints:
        **EVALUATE_CONSTRAINTS,
    conda:
        "../../envs/stats.yaml"
    params:
        figures=config["figures"],
        evaluate=EVALUATE,
        nomograms=NOMOGRAMS,
    script:
        "../scripts/statistics/time_roc.py"


rule calibration:
    input:
        nomogram="results/nomograms/{nomogram}.json",
        scores="results/nomograms/{nomogram}_scores.tsv",
    output:
        tsv=report(
            "results/tables/calibration_{nomogram}_{split}.tsv",
            caption="../report/calibration_table.rst",
            category=REPORT_STAGES["evaluation"],
            subcategory="Calibration (Fig. 2B)",
        ),
        png=report(
            "results/figures/calibration_{nomogram}_{split}.png",
            caption="../report/calibration.rst",
            category=REPORT_STAGES["evaluation"],
            subcategory="Calibration (Fig. 2B)",
        ),
        pdf="results/figures/calibration_{nomogram}_{split}.pdf",
    log:
        "logs/evaluate/calibration_{nomogram}_{split}.log",
    wildcard_constraints:
        **EVALUATE_CONSTRAINTS,
    conda:
        "../../envs/stats.yaml"
    params:
        figures=config["figures"],
        evaluate=EVALUATE,
    script:
        "../scripts/statistics/calibration.py"


rule decision_curve:
    input:
        nomograms=expand("results/nomograms/{nomogram}.json", nomogram=NOMOGRAMS),
        scores=expand("results/nomograms/{nomogram}_scores.tsv", nomogram=NOMOGRAMS),
    output:
        tsv=report(
            "results/tables/decision_curve_{split}.tsv",
            caption="../report/decision_curve.rst",
            category=REPORT_STAGES["evaluation"],
            subcategory="Decision curves",
        ),
        png=report(
            "results/figures/decision_curve_{split}.png",
            caption="../report/decision_curve.rst",
            category=REPORT_STAGES["evaluation"],
            subcategory="Decision curves",
        ),
        pdf="results/figures/decision_curve_{split}.pdf",
    log:
        "logs/evaluate/decision_curve_{split}.log",
    wildcard_constraints:
        **EVALUATE_CONSTRAINTS,
    conda:
        "../../envs/stats.yaml"
    params:
        figures=config["figures"],
        evaluate=EVALUATE,
        nomograms=NOMOGRAMS,
    script:
        "../scripts/statistics/decision_curve.py"
