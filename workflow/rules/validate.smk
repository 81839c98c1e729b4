# Checks every input sheet before any work and writes them with canonical column names.
# A checkpoint: the per-patient jobs are known once the validated image sheet exists.


checkpoint validate:
    input:
        **cohort_sheets(),
    output:
        **validated_outputs(),
    log:
        "logs/validate.log",
    conda:
        "../../envs/imaging.yaml"
    params:
        columns=config["cohort"].get("columns", {}),
        labels=config["cohort"].get("labels", {}),
    script:
        "../scripts/cohort/validate.py"
