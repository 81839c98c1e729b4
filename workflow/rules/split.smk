# Train/test split: seeded, stratified by event, or the clinical sheet's own split column.


rule split:
    input:
        clinical=f"{VALIDATED_DIR}/clinical.tsv",
    output:
        "results/split.tsv",
    log:
        "logs/split.log",
    conda:
        "../../envs/imaging.yaml"
    params:
        split=config["split"],
    script:
        "../scripts/cohort/split.py"
