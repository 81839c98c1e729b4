# EfficientNet-lite0 networks per model of config imaging.models (imaging.train.members
# of them, one job each), trained with the DeepSurv (Cox partial likelihood) loss on the
# training set; their averaged scores are the signatures. Optionally each model's network
# is first pretrained on the cohort's slices without outcomes (imaging.pretrain), one job
# per model whose weights every member starts from.


rule pretrain:
    input:
        # the slices and which patients are training ones: no outcome
        manifest="results/preprocessed/manifest.tsv",
        split="results/split.tsv",
    output:
        model="results/models/{model}/pretrained.pt",
        history="results/models/{model}/pretrained_history.tsv",
    log:
        "logs/train/{model}_pretrain.log",
    priority: 20
    conda:
        "../../envs/imaging.yaml"
    threads: network_threads
    params:
        channels=model_channels,
        pretrain=PRETRAIN,
        init=lambda wildcards: MODEL_TRAIN[wildcards.model]["init"],
        context_mm=lambda wildcards: MODEL_TRAIN[wildcards.model].get("context_mm"),
    script:
        "../scripts/imaging/pretrain.py"


rule train:
    input:
        manifest="results/preprocessed/manifest.tsv",
        clinical=f"{VALIDATED_DIR}/clinical.tsv",
        split="results/split.tsv",
        # a radiomics-guided network's auxiliary targets (imaging.train.radiomics_weight)
        radiomics=train_radiomic_features,
        # the self-supervised pretraining's weights, the start (imaging.pretrain)
        pretrained=pretrained_network,
    output:
        model="results/models/{model}/member{member}/model.pt",
        history="results/models/{model}/member{member}/history.tsv",
    log:
        "logs/train/{model}_member{member}.log",
    # training is the long pole: it goes before the predictions and short statistics
    # jobs that are ready, so that all networks are trained as early as the cores allow
    priority: 20
    conda:
        "../../envs/imaging.yaml"
    threads: network_threads
    params:
        channels=model_channels,
        train=member_train_settings,
        feature_modalities=train_feature_modalities,
        # not an output (Snakemake would delete it before a rerun): a killed training
        # resumes from it if its inputs and settings are unchanged; deleted once
        # model.pt and history.tsv are written
        checkpoint="results/models/{model}/member{member}/checkpoint.pt",
    script:
        "../scripts/imaging/train.py"


rule predict_signature:
    input:
        models=member_files("model.pt"),
        manifest="results/preprocessed/manifest.tsv",
        split="results/split.tsv",
    output:
        "results/signatures/trained/{model}.tsv",
    log:
        "logs/signature/trained_{model}.log",
    # the signatures gate the nomograms, stratification and RNA-seq
    priority: 10
    conda:
        "../../envs/imaging.yaml"
    threads: network_threads
    script:
        "../scripts/imaging/predict_signature.py"


rule training_curves:
    input:
        member_files("history.tsv"),
    output:
        png=report(
            "results/figures/training_{model}.png",
            caption="../report/training_curves.rst",
            category=REPORT_STAGES["signatures"],
            subcategory="Training",
        ),
        pdf="results/figures/training_{model}.pdf",
    log:
        "logs/figures/training_{model}.log",
    conda:
        "../../envs/imaging.yaml"
    params:
        figures=config["figures"],
    script:
        "../scripts/imaging/training_curves.py"
