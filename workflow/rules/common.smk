# Configuration checks, the cohort's input sheets and the list of final targets.
import os

from snakemake.utils import validate


validate(config, schema="../schemas/config.schema.yaml", set_default=True)

# Jobs import the survsig package from this checkout, whatever environment runs them
# (the project venv, a per-stage conda env, a cluster node).
PACKAGE_ROOT = os.path.join(workflow.basedir, "workflow")
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p
)

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


def model_channels(wildcards):
    return config["imaging"]["models"][wildcards.model]


def signature_source(wildcards):
    """Trained signatures, or the synthetic cohort's true image predictors (oracle)."""
    if config["imaging"]["signatures"] == "oracle":
        return f"results/signatures/oracle/{wildcards.model}.tsv"
    return f"results/signatures/trained/{wildcards.model}.tsv"


def all_targets():
    targets = [
        "results/tables/table1_baseline.tsv",
        "results/tables/table1_baseline.png",
        "results/tables/table1_baseline.pdf",
    ]
    if uses_synthetic_cohort():
        targets.append(f"{SYNTHETIC_DIR}/cohort_summary.tsv")
    targets += expand("results/signatures/{model}.tsv", model=MODELS)
    return targets
