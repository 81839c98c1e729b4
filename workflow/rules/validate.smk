# Checks every input sheet before any work and writes them with canonical column names.


rule validate:
    input:
        **cohort_sheets(),
    output:
        **validated_outputs(),
    params:
        columns=config["cohort"].get("columns", {}),
        labels=config["cohort"].get("labels", {}),
    log:
        "logs/validate.log",
    conda:
        "../../envs/validate.yaml"
    script:
        "../scripts/validate.py"
