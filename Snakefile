# survsig: deep learning survival signatures from PET/CT (see README.md).
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/dicom.smk"
include: "workflow/rules/validate.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/radiomics.smk"
include: "workflow/rules/signature.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/nomogram.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/internal_validation.smk"
include: "workflow/rules/stratify.smk"
include: "workflow/rules/rnaseq.smk"
include: "workflow/rules/external.smk"


rule all:
    input:
        all_targets(),


# Bookkeeping rules that take a second: on a cluster they run on the submitting host
# instead of waiting in the queue.
localrules:
    all,
    split,
    slice_manifest,
    cohort_summary,
    oracle_signature,
    signature,
    signature_vs_oracle,
    frozen_run,
