# Configuration checks, the cohort's input sheets and the list of final targets.
import csv
import json
import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate


validate(config, schema="../schemas/config.schema.yaml", set_default=True)

if config["imaging"]["signatures"] == "oracle" and config["cohort"]["source"] != "synthetic":
    raise WorkflowError(
        "config: imaging.signatures 'oracle' takes the synthetic cohort's true image predictors, "
        f"which cohort.source '{config['cohort']['source']}' has not got; set imaging.signatures: trained"
    )

# Jobs import the survsig package from this checkout, whatever environment runs them
# (the project venv, a per-stage conda env, a cluster node).
PACKAGE_ROOT = os.path.join(workflow.basedir, "workflow")
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p
)
# `python` in shell rules is the interpreter running Snakemake, unless a conda env is active
os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])

# Report categories: the stages in order (`snakemake --report`)
REPORT_STAGES = {
    "cohort": "1 Cohort",
    "signatures": "2 Deep learning signatures",
    "nomograms": "3 Nomograms",
    "evaluation": "4 Evaluation",
    "risk_groups": "5 Risk groups",
    "rnaseq": "6 RNA-seq",
}

SYNTHETIC_DIR = "results/synthetic"
VALIDATED_DIR = "results/validated"


def uses_synthetic_cohort():
    return config["cohort"]["source"] == "synthetic"


def has_rnaseq():
    if uses_synthetic_cohort():
        return config["synthetic"]["rnaseq_samples"] > 0
    return bool(config["cohort"].get("rnaseq"))


def cohort_sheets(wildcards=None):
    """Input sheets of the validate rule: simulated, or the user's own."""
    if uses_synthetic_cohort():
        sheets = {
            "clinical": f"{SYNTHETIC_DIR}/clinical.tsv",
            "images": f"{SYNTHETIC_DIR}/images.tsv",
        }
        if has_rnaseq():
            sheets["rnaseq"] = f"{SYNTHETIC_DIR}/rnaseq_counts.tsv"
        return sheets
    sheets = {"clinical": config["cohort"]["clinical"], "images": config["cohort"]["images"]}
    if has_rnaseq():
        sheets["rnaseq"] = config["cohort"]["rnaseq"]
    return sheets


def validated_outputs():
    outputs = {
        "clinical": f"{VALIDATED_DIR}/clinical.tsv",
        "images": f"{VALIDATED_DIR}/images.tsv",
    }
    if has_rnaseq():
        outputs["rnaseq"] = f"{VALIDATED_DIR}/rnaseq_counts.tsv"
    return outputs


MODELS = list(config["imaging"]["models"])


wildcard_constraints:
    model="|".join(MODELS),
    patient="[^/]+",
    split="train|test",
    member="[0-9]+",


def model_channels(wildcards):
    return config["imaging"]["models"][wildcards.model]


# Networks per model: member m trains with seed + m (its own validation fold,
# initialisation and batches); the signature averages them.
MEMBERS = range(config["imaging"]["train"]["members"])


def member_train_settings(wildcards):
    """The training block for one member: its seed; ``members`` itself is left out, so
    adding members adds jobs without re-running the existing ones."""
    block = {k: v for k, v in config["imaging"]["train"].items() if k != "members"}
    block["seed"] = block["seed"] + int(wildcards.member)
    return block


def network_threads(wildcards):
    """Threads of one training or prediction job: an even share of ``--cores`` among
    all networks.

    A small network on small slices scales poorly over threads: on 2 cores, two
    one-thread trainings side by side pass 1.1 to 1.6 times the images per second of one
    two-thread training, and a one-thread prediction runs beside the trainings still
    going. ``--set-threads train=N predict_signature=N`` overrides the share.
    """
    networks = len(MODELS) * len(MEMBERS)
    return max(1, workflow.cores // networks)


def member_files(name):
    """Input function: ``name`` (model.pt, history.tsv) of every member of a model."""

    def files(wildcards):
        return expand(f"results/models/{wildcards.model}/member{{member}}/{name}", member=MEMBERS)

    return files


def signature_source(wildcards):
    """Trained signatures, or the synthetic cohort's true image predictors (oracle)."""
    if config["imaging"]["signatures"] == "oracle":
        return f"results/signatures/oracle/{wildcards.model}.tsv"
    return f"results/signatures/trained/{wildcards.model}.tsv"


def validated_images():
    """patient id -> {ct, pet, roi} paths, from the validated image sheet (after the checkpoint)."""
    sheet = checkpoints.validate.get().output.images
    with open(sheet, newline="") as handle:
        return {row["patient_id"]: row for row in csv.DictReader(handle, delimiter="\t")}


def preprocess_inputs(wildcards):
    row = validated_images()[wildcards.patient]
    return {"ct": row["ct"], "pet": row["pet"], "roi": row["roi"]}


def preprocessed_slices(wildcards):
    return expand("results/preprocessed/{patient}.npz", patient=sorted(validated_images()))


def preprocess_settings():
    """The imaging block as JSON for the per-patient command line."""
    keys = ("spacing", "ct_window", "pet_max_suv", "crop_size", "box", "box_mm", "margin_mm")
    return json.dumps({key: config["imaging"][key] for key in keys}, sort_keys=True)


def all_targets():
    targets = [
        "results/tables/table1_baseline.tsv",
        "results/tables/table1_baseline.png",
        "results/tables/table1_baseline.pdf",
    ]
    if uses_synthetic_cohort():
        targets.append(f"{SYNTHETIC_DIR}/cohort_summary.tsv")
    targets += expand("results/signatures/{model}.tsv", model=MODELS)
    if config["imaging"]["signatures"] == "trained":
        targets += expand("results/figures/training_{model}.png", model=MODELS)
    targets += expand(
        "results/figures/signature_km_{model}_{split}.png", model=MODELS, split=["train", "test"]
    )
    if uses_synthetic_cohort():
        targets.append("results/tables/signature_vs_oracle.tsv")
    # defined in the stage rule files, included after this one
    targets += nomogram_targets()
    targets += evaluate_targets()
    targets += internal_validation_targets()
    targets += stratify_targets()
    targets += rnaseq_targets()
    return targets
