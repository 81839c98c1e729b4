# Train/test split: seeded, stratified by event, or the clinical sheet's own split column.


rule split:
    input:
        clinical=f"{VALIDATED_DIR}/clinical.tsv",
    output:
        "results/split.tsv",
    params:
        split=config["split"],
    log:
        "logs/split.log",
    conda:
        "../../envs/validate.yaml"
    script:
        "../scripts/split.py"
