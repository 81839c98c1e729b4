# Internal validation of the nomograms on the training set, as R's rms validate() and
# calibrate(cmethod = "KM"): bootstrap resamples repeat the selection and the Cox fit of
# each nomogram; optimism-corrected indices (C, slope, R2, ...) and calibration at the
# horizon, beside Fig. 2B. Logic: survsig/statistics/internal_validation.py.


rule internal_validation:
    input:
        clinical=f"{VALIDATED_DIR}/clinical.tsv",
        split="results/split.tsv",
        signatures=expand("results/signatures/{signature}.tsv", signature=SIGNATURES),
    output:
        summary=report(
            "results/tables/internal_validation.tsv",
            caption="../report/internal_validation.rst",
            category=REPORT_STAGES["evaluation"],
            subcategory="Internal validation (bootstrap)",
        ),
        indices=[
            report(
                path,
                caption="../report/internal_validation_indices.rst",
                category=REPORT_STAGES["evaluation"],
                subcategory="Internal validation (bootstrap)",
            )
            for path in expand("results/tables/internal_validation_{nomogram}.tsv", nomogram=NOMOGRAMS)
        ],
        calibration=[
            report(
                path,
                caption="../report/bootstrap_calibration_table.rst",
                category=REPORT_STAGES["evaluation"],
                subcategory="Internal validation (bootstrap)",
            )
            for path in expand("results/tables/bootstrap_calibration_{nomogram}.tsv", nomogram=NOMOGRAMS)
        ],
    log:
        "logs/evaluate/internal_validation.log",
    conda:
        "../../envs/stats.yaml"
    # the resamples' term selections run side by side (survsig.statistics.internal_validation)
    threads: 2
    params:
        internal_validation=INTERNAL_VALIDATION,
        nomogram=NOMOGRAM,
        nomograms=NOMOGRAMS,
        models=SIGNATURES,
        horizon_months=EVALUATE["horizon_months"],
    script:
        "../scripts/statistics/internal_validation.py"


rule bootstrap_calibration_figure:
    input:
        "results/tables/bootstrap_calibration_{nomogram}.tsv",
    output:
        png=report(
            "results/figures/bootstrap_calibration_{nomogram}.png",
            caption="../report/bootstrap_calibration.rst",
            category=REPORT_STAGES["evaluation"],
            subcategory="Internal validation (bootstrap)",
        ),
        pdf="results/figures/bootstrap_calibration_{nomogram}.pdf",
    log:
        "logs/evaluate/bootstrap_calibration_{nomogram}.log",
    wildcard_constraints:
        **NOMOGRAM_CONSTRAINTS,
    conda:
        "../../envs/stats.yaml"
    params:
        figures=config["figures"],
        horizon_months=EVALUATE["horizon_months"],
    script:
        "../scripts/statistics/bootstrap_calibration_figure.py"
