# Tables and figures for people: Table 1 (baseline characteristics by split).


rule table1:
    input:
        clinical=f"{VALIDATED_DIR}/clinical.tsv",
        split="results/split.tsv",
    output:
        tsv=report(
            "results/tables/table1_baseline.tsv",
            caption="../report/table1_baseline.rst",
            category=REPORT_STAGES["cohort"],
            subcategory="Table 1",
        ),
        png=report(
            "results/tables/table1_baseline.png",
            caption="../report/table1_baseline.rst",
            category=REPORT_STAGES["cohort"],
            subcategory="Table 1",
        ),
        pdf="results/tables/table1_baseline.pdf",
    log:
        "logs/table1.log",
    conda:
        "../../envs/stats.yaml"
    params:
        figures=config["figures"],
        table1=config["table1"],
    script:
        "../scripts/statistics/table1.py"
