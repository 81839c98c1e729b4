"""Bootstrap validation of every nomogram on the training set (rule ``internal_validation``)."""

from survsig.core.io import write_tsv
from survsig.core.logs import run_script
from survsig.statistics.internal_validation import bootstrap_resamples, summary_table, validate_nomograms
from survsig.statistics.terms import read_patient_table


def main(snakemake):
    options = snakemake.params.internal_validation
    nomogram = snakemake.params.nomogram
    frame = read_patient_table(
        snakemake.input.clinical, snakemake.input.split, dict(zip(snakemake.params.models, snakemake.input.signatures))
    )
    n_train = int((frame["split"] == "train").sum())
    resamples = bootstrap_resamples(n_train, options["resamples"], seed=options["seed"])
    results = validate_nomograms(
        frame,
        snakemake.params.nomograms,
        clinical_factors=nomogram["clinical_factors"],
        p_threshold=nomogram["p_threshold"],
        use_suv=nomogram["use_suv"],
        integrated_model=nomogram["integrated_model"],
        ties=nomogram["ties"],
        resamples=resamples,
        horizon=snakemake.params.horizon_months,
        m=options["patients_per_group"],
        workers=snakemake.threads,
    )
    outputs = dict(zip(snakemake.params.nomograms, zip(snakemake.output.indices, snakemake.output.calibration)))
    for name, result in results.items():
        indices_path, calibration_path = outputs[name]
        write_tsv(result.indices_, indices_path, float_format="%.10g")
        write_tsv(result.calibration_, calibration_path, float_format="%.10g")
    write_tsv(summary_table(results), snakemake.output.summary, float_format="%.10g")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
