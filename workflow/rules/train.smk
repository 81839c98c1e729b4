# One EfficientNet-lite0 per model of config imaging.models, trained with the DeepSurv
# (Cox partial likelihood) loss on the training set; its scores are the signatures.


rule train:
    input:
        manifest="results/preprocessed/manifest.tsv",
        clinical=f"{VALIDATED_DIR}/clinical.tsv",
        split="results/split.tsv",
    output:
        model="results/models/{model}/model.pt",
        history="results/models/{model}/history.tsv",
    params:
        channels=model_channels,
        train=config["imaging"]["train"],
        checkpoint="results/models/{model}/checkpoint.pt",
    threads: 8
    log:
        "logs/train/{model}.log",
    conda:
        "../../envs/imaging.yaml"
    script:
        "../scripts/train.py"


rule predict_signature:
    input:
        model="results/models/{model}/model.pt",
        manifest="results/preprocessed/manifest.tsv",
        split="results/split.tsv",
    output:
        "results/signatures/trained/{model}.tsv",
    threads: 2
    log:
        "logs/signature/trained_{model}.log",
    conda:
        "../../envs/imaging.yaml"
    script:
        "../scripts/predict_signature.py"


rule training_curves:
    input:
        "results/models/{model}/history.tsv",
    output:
        png=report(
            "results/figures/training_{model}.png",
            caption="../report/training_curves.rst",
            category=REPORT_STAGES["signatures"],
            subcategory="Training",
        ),
        pdf="results/figures/training_{model}.pdf",
    params:
        figures=config["figures"],
    log:
        "logs/figures/training_{model}.log",
    conda:
        "../../envs/imaging.yaml"
    script:
        "../scripts/training_curves.py"
