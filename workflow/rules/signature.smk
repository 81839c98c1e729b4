# Signatures: one risk score per patient and model, standardised with training statistics.


rule oracle_signature:
    input:
        ground_truth=f"{SYNTHETIC_DIR}/ground_truth.tsv",
        split="results/split.tsv",
    output:
        "results/signatures/oracle/{model}.tsv",
    params:
        channels=model_channels,
    log:
        "logs/signature/oracle_{model}.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/oracle_signature.py"


rule signature:
    input:
        signature_source,
    output:
        report(
            "results/signatures/{model}.tsv",
            caption="../report/signature.rst",
            category="Signatures",
        ),
    log:
        "logs/signature/{model}.log",
    shell:
        "cp {input} {output} 2> {log}"
