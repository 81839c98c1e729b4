# Configuration checks, the cohort's input sheets, each stage's names and input functions
# (the stage rule files hold only rules), and the list of final targets.
import csv
import functools
import json
import os
import re
import shlex
import sys
from dataclasses import asdict

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml", set_default=True)

if config["imaging"]["signatures"] == "oracle" and config["cohort"]["source"] != "synthetic":
    raise WorkflowError(
        "config: imaging.signatures 'oracle' takes the synthetic cohort's true image predictors, "
        f"which cohort.source '{config['cohort']['source']}' has not got; set imaging.signatures: trained"
    )


def prepend_search_path(variable, directory):
    """Put ``directory`` first in the search path ``variable`` (PYTHONPATH, PATH) that every
    job inherits; the workflow sets these itself, the user need not."""
    paths = (directory, os.environ.get(variable))
    os.environ.update({variable: os.pathsep.join(path for path in paths if path)})


# Jobs import the survsig package from this checkout, whatever environment runs them
# (the project venv, a per-stage conda env, a cluster node).
PACKAGE_ROOT = os.path.join(workflow.basedir, "workflow")
prepend_search_path("PYTHONPATH", PACKAGE_ROOT)
# The Snakefile reads the stages' own lists (nomograms, subgroups, settings' fields)
sys.path.insert(0, PACKAGE_ROOT)
from survsig.core.errors import InputError
from survsig.core.settings import (
    FusionSettings,
    PreprocessSettings,
    matched_comparators,
    member_train_block,
    model_train_block,
    patient_batches,
)
from survsig.core.vocabulary import FUSION as FUSION_SIGNATURE
from survsig.core.vocabulary import RADIOMICS as RADIOMICS_SIGNATURE
from survsig.core.vocabulary import SUBGROUPS, nomogram_names

# `python` in shell rules is the interpreter running Snakemake, unless a conda env is active
prepend_search_path("PATH", os.path.dirname(sys.executable))

# Report categories: the stages in order (`snakemake --report`)
REPORT_STAGES = {
    "cohort": "1 Cohort",
    "signatures": "2 Deep learning signatures",
    "nomograms": "3 Nomograms",
    "evaluation": "4 Evaluation",
    "risk_groups": "5 Risk groups",
    "rnaseq": "6 RNA-seq",
    "external": "7 External validation",
}

SYNTHETIC_DIR = "results/synthetic"
VALIDATED_DIR = "results/validated"
# A DICOM export imported as images and their sheet (dicom.smk)
IMPORTED_DIR = "results/imported"


def uses_synthetic_cohort():
    return config["cohort"]["source"] == "synthetic"


def uses_dicom_export():
    """Whether the synthetic cohort is written as a hospital's DICOM export
    (synthetic.image_format dicom_rt), which rule import_dicom turns into the images."""
    return uses_synthetic_cohort() and config["synthetic"]["image_format"] == "dicom_rt"


def simulate_outputs():
    """Outputs of the simulate rule: the images and their sheet, or the DICOM export
    (whose sheet rule import_dicom writes)."""
    if uses_dicom_export():
        images = {"dicom_dir": directory(f"{SYNTHETIC_DIR}/dicom")}
    else:
        images = {"images": f"{SYNTHETIC_DIR}/images.tsv", "image_dir": directory(f"{SYNTHETIC_DIR}/images")}
    return {
        "clinical": f"{SYNTHETIC_DIR}/clinical.tsv",
        **images,
        "rnaseq": f"{SYNTHETIC_DIR}/rnaseq_counts.tsv",
        "rnaseq_truth": f"{SYNTHETIC_DIR}/rnaseq_truth.tsv",
        "genesets": f"{SYNTHETIC_DIR}/genesets.gmt",
        "ground_truth": f"{SYNTHETIC_DIR}/ground_truth.tsv",
    }


def has_rnaseq():
    if uses_synthetic_cohort():
        return config["synthetic"]["rnaseq_samples"] > 0
    return bool(config["cohort"].get("rnaseq"))


def cohort_sheets(wildcards=None):
    """Input sheets of the validate rule: simulated (the image sheet imported from the
    DICOM export with synthetic.image_format dicom_rt), or the user's own."""
    if uses_synthetic_cohort():
        sheets = {
            "clinical": f"{SYNTHETIC_DIR}/clinical.tsv",
            "images": f"{IMPORTED_DIR}/images.tsv" if uses_dicom_export() else f"{SYNTHETIC_DIR}/images.tsv",
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
RADIOMICS = config["radiomics"]
if RADIOMICS["enabled"] and RADIOMICS_SIGNATURE in MODELS:
    raise WorkflowError(
        f"config: imaging.models.{RADIOMICS_SIGNATURE} is the name of the radiomics comparator's "
        "signature; name the network otherwise, or set radiomics.enabled: false"
    )
# The deep radiomics fusion signature (radiomics.smk): a network's embedding and the
# radiomic features of its modalities in one elastic-net Cox model
# (off with the radiomics comparator, whose features it fuses, and with the oracle
# signatures, which have no network to embed)
_fusion_block = dict(config.get("fusion") or {})
if not (RADIOMICS["enabled"] and config["imaging"].get("signatures", "trained") == "trained"):
    _fusion_block["enabled"] = False
try:
    FUSION = asdict(FusionSettings.from_config(_fusion_block, models=MODELS))
except InputError as err:
    raise WorkflowError(f"config: {err}") from None
if FUSION["enabled"] and FUSION_SIGNATURE in MODELS:
    raise WorkflowError(
        f"config: imaging.models.{FUSION_SIGNATURE} is the name of the fusion signature; name the network otherwise"
    )
# Every signature of the run: the networks', the radiomics comparator's and the fusion's
SIGNATURES = (
    MODELS + ([RADIOMICS_SIGNATURE] if RADIOMICS["enabled"] else []) + ([FUSION_SIGNATURE] if FUSION["enabled"] else [])
)
# The radiomics comparator matched to each network: name and feature modalities
# (survsig.core.settings.matched_comparators); those other than the radiomics
# signature itself are fit by rule radiomics_matched_signature
try:
    MATCHED_RADIOMICS = (
        matched_comparators(config["imaging"]["models"], RADIOMICS["modalities"]) if RADIOMICS["enabled"] else {}
    )
except InputError as err:
    raise WorkflowError(f"config: {err}") from None
MATCHED_ONLY = [model for model, (name, _) in MATCHED_RADIOMICS.items() if name != RADIOMICS_SIGNATURE]
# What each signature sees: the networks' channels; radiomics sees the ROI's shape too
SIGNATURE_CHANNELS = {
    **config["imaging"]["models"],
    **({RADIOMICS_SIGNATURE: [*RADIOMICS["modalities"], "roi"]} if RADIOMICS["enabled"] else {}),
    **{MATCHED_RADIOMICS[model][0]: [*MATCHED_RADIOMICS[model][1], "roi"] for model in MATCHED_ONLY},
    **({FUSION_SIGNATURE: config["imaging"]["models"][FUSION["model"]]} if FUSION["enabled"] else {}),
}


# Signature file of each network's radiomics comparator (none when radiomics is off)
MATCHED_RADIOMICS_FILES = {
    model: f"results/radiomics/matched/{model}.tsv" if model in MATCHED_ONLY else f"results/signatures/{name}.tsv"
    for model, (name, _) in MATCHED_RADIOMICS.items()
}


wildcard_constraints:
    model="|".join(MODELS),
    batch="batch[0-9]+",
    split="train|test",
    member="[0-9]+",


def model_channels(wildcards):
    return config["imaging"]["models"][wildcards.model]


# Networks per model: member m trains with seed + m (its own validation fold,
# initialisation and batches); the signature averages them.
MEMBERS = range(config["imaging"]["train"]["members"])
if config["imaging"]["train"]["validation"] == "folds" and len(MEMBERS) < 2:
    raise WorkflowError(
        "config: imaging.train.validation 'folds' validates member m on fold m of imaging.train.members "
        f"folds of the training set; members is {len(MEMBERS)}, set it to 2 or more (5 is usual)"
    )


# Each network's training block: imaging.train, changed by imaging.train_by_model, and
# checked against the schema as imaging.train is
try:
    MODEL_TRAIN = {model: model_train_block(config["imaging"], model) for model in MODELS}
except InputError as err:
    raise WorkflowError(f"config: {err}") from None
for _model in config["imaging"]["train_by_model"]:
    try:
        validate(
            {**config, "imaging": {**config["imaging"], "train": MODEL_TRAIN[_model]}},
            schema="../schemas/config.schema.yaml",
        )
    except WorkflowError as err:
        raise WorkflowError(f"config: imaging.train_by_model.{_model}: {err}") from None


# Networks trained to predict their ROI's radiomic features beside the risk
# (imaging.train.radiomics_weight, survsig.imaging.auxiliary): they need the comparator's features
RADIOMICS_GUIDED = [model for model in MODELS if MODEL_TRAIN[model].get("radiomics_weight", 0)]
if RADIOMICS_GUIDED and not RADIOMICS["enabled"]:
    raise WorkflowError(
        f"config: imaging.train.radiomics_weight of network {RADIOMICS_GUIDED[0]} is above 0, but its targets "
        "are the radiomic features: set radiomics.enabled: true or the weight to 0"
    )


def train_radiomic_features(wildcards):
    """The radiomic feature tables a network's training predicts, if it is radiomics-guided."""
    return radiomics_feature_tables(wildcards) if wildcards.model in RADIOMICS_GUIDED else []


PRETRAIN = config["imaging"].get("pretrain") or {"method": "none"}


def pretrained_network(wildcards):
    """The pretrained weights a network starts from, with imaging.pretrain."""
    if PRETRAIN.get("method", "none") == "none":
        return []
    return f"results/models/{wildcards.model}/pretrained.pt"


def train_feature_modalities(wildcards):
    """The modalities of the radiomic features a radiomics-guided network predicts: its own."""
    return MATCHED_RADIOMICS[wildcards.model][1] if wildcards.model in RADIOMICS_GUIDED else []


def member_train_settings(wildcards):
    """The training block of one member of one network (survsig.core.settings.member_train_block)."""
    return member_train_block(MODEL_TRAIN[wildcards.model], int(wildcards.member))


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


@functools.lru_cache(maxsize=4)
def read_image_sheet(sheet, mtime_ns, size):
    """A validated image sheet, read once per version (the input functions ask for it
    once per job), with its patients in batches of ``imaging.patients_per_job``: the
    patients in sorted order, that many to a preprocessing job (one job per patient would
    spend more on starting jobs than on their 0.1-0.3 s of work)."""
    with open(sheet, newline="") as handle:
        rows = {row["patient_id"]: row for row in csv.DictReader(handle, delimiter="\t")}
    return rows, patient_batches(rows, config["imaging"]["patients_per_job"])


class CohortImages:
    """The input functions of one cohort's per-batch jobs (preprocessing, radiomic
    features), known once its validation checkpoint has run: the training cohort's
    (checkpoint ``validate``) or the external cohort's (``validate_external``)."""

    def __init__(self, checkpoint, preprocessed_dir, features_dir, validate_rule):
        self.checkpoint = checkpoint
        self.preprocessed_dir = preprocessed_dir
        self.features_dir = features_dir
        self.validate_rule = validate_rule

    def sheet(self):
        sheet = getattr(checkpoints, self.checkpoint).get().output.images
        stat = os.stat(sheet)
        return read_image_sheet(sheet, stat.st_mtime_ns, stat.st_size)

    def images(self):
        """patient id -> {ct, pet, roi} paths, from the validated image sheet."""
        return self.sheet()[0]

    def batches(self):
        """Batch name -> its patients' ids."""
        return self.sheet()[1]

    def batch_patients(self, wildcards):
        try:
            return self.batches()[wildcards.batch]
        except KeyError:
            raise WorkflowError(
                f"{self.preprocessed_dir}/{wildcards.batch}: no such batch of patients "
                f"({len(self.batches())} batches of imaging.patients_per_job patients)"
            ) from None

    def validated_sheet(self, wildcards):
        """The checkpoint's image sheet, as an input whose age does not matter: validation
        rewrites it whenever it runs, which must not re-run the preprocessing."""
        return ancient(getattr(checkpoints, self.checkpoint).get().output.images)

    def channel_images(self, channel):
        """Input function: the ``channel`` (ct, pet, roi) image of each of a batch's patients."""

        def images(wildcards):
            rows = self.images()
            return [rows[patient][channel] for patient in self.batch_patients(wildcards)]

        return images

    def image_versions(self, wildcards):
        """Size and modification time of every image of a batch: a changed image changes the
        job's parameters, so Snakemake runs the job again (rerun trigger ``params``)."""
        rows = self.images()
        versions = []
        for patient in self.batch_patients(wildcards):
            for channel in ("ct", "pet", "roi"):
                path = rows[patient][channel]
                try:
                    stat = os.stat(path)
                except OSError as err:
                    raise WorkflowError(
                        f"{path}: patient {patient}, column {channel}: the image is gone since validation "
                        f"({err.strerror}); restore it, or validate again (snakemake --forcerun {self.validate_rule})"
                    ) from None
                versions.append([path, stat.st_size, stat.st_mtime_ns])
        return versions

    def batch_dirs(self, wildcards):
        return expand(f"{self.preprocessed_dir}/{{batch}}", batch=self.batches())

    def slice_files(self, wildcards):
        """Every patient's slice file, ``{preprocessed_dir}/{batch}/{patient}.npz``."""
        return [
            f"{self.preprocessed_dir}/{batch}/{patient}.npz"
            for batch, patients in self.batches().items()
            for patient in patients
        ]

    def radiomics_options(self, wildcards):
        """``--ct ... --pet ... --roi ...``: a batch's images of the radiomics modalities."""
        rows = self.images()
        patients = self.batch_patients(wildcards)
        options = []
        for channel in (*RADIOMICS["modalities"], "roi"):
            options += [f"--{channel}", *(rows[patient][channel] for patient in patients)]
        return " ".join(shlex.quote(str(option)) for option in options)

    def feature_tables(self, wildcards):
        return expand(f"{self.features_dir}/{{batch}}.tsv", batch=self.batches())


TRAINING_IMAGES = CohortImages("validate", "results/preprocessed", "results/radiomics/features", "validate")
validated_images = TRAINING_IMAGES.images
preprocess_batches = TRAINING_IMAGES.batches
preprocess_batch_patients = TRAINING_IMAGES.batch_patients
validated_image_sheet = TRAINING_IMAGES.validated_sheet
preprocess_images = TRAINING_IMAGES.channel_images
preprocess_image_versions = TRAINING_IMAGES.image_versions
preprocessed_batches = TRAINING_IMAGES.batch_dirs
preprocessed_slice_files = TRAINING_IMAGES.slice_files


def preprocess_settings():
    """The imaging block as JSON for the preprocessing command line."""
    keys = PreprocessSettings.__dataclass_fields__
    return json.dumps({key: config["imaging"][key] for key in keys}, sort_keys=True)


# Radiomics comparator (radiomics.smk)


def radiomics_settings():
    """The radiomics block's feature settings as JSON: the model's settings (penalty,
    folds) do not re-run the feature jobs."""
    keys = ("modalities", "feature_classes", "spacing_mm", "bin_width")
    return json.dumps({key: RADIOMICS[key] for key in keys}, sort_keys=True)


radiomics_image_options = TRAINING_IMAGES.radiomics_options
radiomics_feature_tables = TRAINING_IMAGES.feature_tables


def radiomics_targets():
    if not RADIOMICS["enabled"]:
        return []
    fusion = [
        f"results/signatures/{FUSION_SIGNATURE}.tsv",
        f"results/radiomics/{FUSION_SIGNATURE}.json",
        f"results/tables/{FUSION_SIGNATURE}_coefficients.tsv",
    ]
    return (fusion if FUSION["enabled"] else []) + [
        f"results/signatures/{RADIOMICS_SIGNATURE}.tsv",
        "results/radiomics/signature.json",
        "results/tables/radiomics_coefficients.tsv",
        *expand("results/radiomics/matched/{model}.{ext}", model=MATCHED_ONLY, ext=["tsv", "json"]),
        *expand("results/tables/radiomics_coefficients_{model}.tsv", model=MATCHED_ONLY),
        "results/tables/signature_vs_radiomics.tsv",
    ]


# Nomograms (nomogram.smk)

NOMOGRAM = config["nomogram"]
NOMOGRAMS = nomogram_names(MODELS, radiomics=RADIOMICS["enabled"], fusion=FUSION["enabled"])
# the nomograms a frozen run scores other patients with: all but the fusion's, whose
# embedding and components are not frozen
FROZEN_NOMOGRAMS = [name for name in NOMOGRAMS if name != FUSION_SIGNATURE]
NOMOGRAM_CONSTRAINTS = {"nomogram": "|".join(NOMOGRAMS)}


def nomogram_models(wildcards):
    """Models whose signatures nomogram ``wildcards.nomogram`` uses."""
    name = wildcards.nomogram
    if name.startswith("dl_"):
        return [name[3:]]
    if name.startswith("integrated"):
        return [NOMOGRAM["integrated_model"]]
    if name in (RADIOMICS_SIGNATURE, FUSION_SIGNATURE):
        return [name]
    return []


def nomogram_signature_files(wildcards):
    return [f"results/signatures/{m}.tsv" for m in nomogram_models(wildcards)]


def nomogram_targets():
    """Every table, nomogram file and figure of the nomogram stage."""
    targets = expand("results/tables/table2_univariable.{ext}", ext=["tsv", "png", "pdf"])
    targets.append("results/tables/variable_selection.tsv")
    targets += expand("results/nomograms/{nomogram}.json", nomogram=NOMOGRAMS)
    targets += expand("results/nomograms/{nomogram}_scores.tsv", nomogram=NOMOGRAMS)
    targets += expand("results/figures/nomogram_{nomogram}.{ext}", nomogram=NOMOGRAMS, ext=["png", "pdf"])
    if NOMOGRAM["new_patients"]:
        # the integrated nomogram; the others by file name when the sheet has their columns
        targets.append("results/nomograms/integrated_new_patients.tsv")
    return targets


# Evaluation (evaluate.smk)

EVALUATE = config["evaluate"]
EVALUATE_CONSTRAINTS = {"nomogram": "|".join(NOMOGRAMS), "split": "train|test"}


def evaluate_targets():
    """Every table and figure of the evaluate stage."""
    targets = expand("results/tables/table3_cindex.{ext}", ext=["tsv", "png", "pdf"])
    if uses_synthetic_cohort():
        targets.append("results/tables/nomogram_vs_oracle.tsv")
    targets += expand("results/tables/tdauc_{split}.tsv", split=["train", "test"])
    targets += expand("results/figures/roc_{split}.{ext}", split=["train", "test"], ext=["png", "pdf"])
    targets += expand("results/tables/calibration_{nomogram}_{split}.tsv", nomogram=NOMOGRAMS, split=["train", "test"])
    targets += expand(
        "results/figures/calibration_{nomogram}_{split}.{ext}",
        nomogram=NOMOGRAMS,
        split=["train", "test"],
        ext=["png", "pdf"],
    )
    targets += expand("results/tables/decision_curve_{split}.tsv", split=["train", "test"])
    targets += expand("results/figures/decision_curve_{split}.{ext}", split=["train", "test"], ext=["png", "pdf"])
    return targets


# Internal validation (internal_validation.smk)

INTERNAL_VALIDATION = config["internal_validation"]


def internal_validation_targets():
    """Every table and figure of the internal validation."""
    targets = ["results/tables/internal_validation.tsv"]
    targets += expand("results/tables/internal_validation_{nomogram}.tsv", nomogram=NOMOGRAMS)
    targets += expand("results/tables/bootstrap_calibration_{nomogram}.tsv", nomogram=NOMOGRAMS)
    targets += expand("results/figures/bootstrap_calibration_{nomogram}.{ext}", nomogram=NOMOGRAMS, ext=["png", "pdf"])
    return targets


# Risk groups (stratify.smk)

STRATIFY = config["stratify"]
STRATIFY_SUBGROUPS = list(SUBGROUPS)
STRATIFY_CONSTRAINTS = {
    "nomogram": "[A-Za-z0-9_]+",
    "split": "train|test",
    "subset": "all|train|test",
    "variable": "|".join(STRATIFY_SUBGROUPS),
}


def stratify_targets():
    """Every figure and table of the stratify stage for the configured nomograms."""
    subset = STRATIFY["subgroup_set"]
    targets = expand(
        "results/figures/km_{nomogram}_{split}.{ext}",
        nomogram=STRATIFY["nomograms"],
        split=["train", "test"],
        ext=["png", "pdf"],
    )
    targets += expand("results/tables/risk_groups_{nomogram}.tsv", nomogram=STRATIFY["nomograms"])
    targets.append("results/risk_groups.tsv")
    targets += expand(
        "results/figures/subgroup_{variable}_{subset}.{ext}",
        variable=STRATIFY_SUBGROUPS,
        subset=subset,
        ext=["png", "pdf"],
    )
    targets.append(f"results/tables/subgroups_{subset}.tsv")
    targets += expand("results/figures/treatment_by_risk_{subset}.{ext}", subset=subset, ext=["png", "pdf"])
    targets.append(f"results/tables/treatment_by_risk_{subset}.tsv")
    targets += expand("results/tables/table_s3_{subset}.{ext}", subset=subset, ext=["tsv", "png", "pdf"])
    return targets


# RNA-seq (rnaseq.smk)

RNASEQ_DIR = "results/rnaseq"
RNASEQ_DIRECTIONS = ["up", "down", "all"]


def rnaseq_libraries():
    """Gene-set libraries: name -> GMT path; the synthetic cohort's own library by default."""
    libraries = dict(config["rnaseq"]["genesets"])
    if not libraries and uses_synthetic_cohort():
        libraries = {"demo": f"{SYNTHETIC_DIR}/genesets.gmt"}
    return libraries


RNASEQ_LIBRARIES = rnaseq_libraries()
RNASEQ_LIBRARY_PATTERN = "|".join(map(re.escape, RNASEQ_LIBRARIES)) or "(?!)"
RNASEQ_DIRECTION_PATTERN = "|".join(RNASEQ_DIRECTIONS)

if config["rnaseq"]["risk_labels"] == "truth" and not uses_synthetic_cohort():
    raise WorkflowError("config rnaseq.risk_labels: 'truth' needs the synthetic cohort (cohort.source: synthetic)")
if has_rnaseq() and not RNASEQ_LIBRARIES:
    logger.warning("config rnaseq.genesets is empty: no GO/KEGG enrichment (give local GMT files)")


def rnaseq_deseq2_inputs(wildcards):
    inputs = {
        "counts": f"{VALIDATED_DIR}/rnaseq_counts.tsv",
        "clinical": f"{VALIDATED_DIR}/clinical.tsv",
    }
    if config["rnaseq"]["risk_labels"] == "truth":
        inputs["ground_truth"] = f"{SYNTHETIC_DIR}/ground_truth.tsv"
    else:
        inputs["risk_groups"] = "results/risk_groups.tsv"
    if config["rnaseq"]["id_map"]:
        inputs["id_map"] = config["rnaseq"]["id_map"]
    return inputs


def rnaseq_library_file(wildcards):
    return RNASEQ_LIBRARIES[wildcards.library]


def rnaseq_targets():
    """Tables and figures of the RNA-seq branch (for rule all)."""
    if not has_rnaseq():
        return []
    targets = [
        f"{RNASEQ_DIR}/deseq2_results.tsv",
        f"{RNASEQ_DIR}/degs.tsv",
        "results/figures/rnaseq_volcano.png",
        "results/figures/rnaseq_volcano.pdf",
        "results/figures/rnaseq_heatmap.png",
        "results/figures/rnaseq_heatmap.pdf",
    ]
    targets += expand(
        f"{RNASEQ_DIR}/enrichment_{{library}}_{{direction}}.tsv",
        library=RNASEQ_LIBRARIES,
        direction=RNASEQ_DIRECTIONS,
    )
    targets += expand(
        "results/figures/rnaseq_top_terms_{library}_{direction}.{ext}",
        library=RNASEQ_LIBRARIES,
        direction=RNASEQ_DIRECTIONS,
        ext=["png", "pdf"],
    )
    return targets


# Frozen run and external validation (external.smk)

FROZEN_DIR = "results/frozen"
EXTERNAL_DIR = "results/external"
# the schema's defaults do not reach into a block that may be null: they are set here
EXTERNAL = config["external"]
if EXTERNAL is not None:
    EXTERNAL = {
        "name": "External cohort",
        **{key: None for key in ("clinical", "images", "columns", "labels", "synthetic")},
        **EXTERNAL,
    }


def uses_external():
    return EXTERNAL is not None


def uses_synthetic_external():
    return uses_external() and EXTERNAL["synthetic"] is not None


if uses_external():
    from survsig.cohort.patients import SyntheticSettings

    if uses_synthetic_external() == bool(EXTERNAL["clinical"] or EXTERNAL["images"]):
        raise WorkflowError(
            "config: external needs its sheets (external.clinical and external.images) or the simulator's "
            "other centre (external.synthetic: {}), one of the two"
        )
    if not uses_synthetic_external() and not (EXTERNAL["clinical"] and EXTERNAL["images"]):
        raise WorkflowError("config: external needs both external.clinical and external.images")
    if config["imaging"]["signatures"] != "trained":
        raise WorkflowError(
            "config: external validation scores other patients with the trained networks; "
            "set imaging.signatures: trained"
        )
    if FUSION_SIGNATURE in config["stratify"]["nomograms"]:
        raise WorkflowError(
            "config: the fusion nomogram is not frozen for another cohort (its embedding components are the "
            "run's own); take it out of stratify.nomograms to validate externally"
        )
    if uses_synthetic_external():
        _unknown = sorted(set(EXTERNAL["synthetic"]) - set(SyntheticSettings.__dataclass_fields__))
        if _unknown:
            raise WorkflowError(
                f"config: external.synthetic.{_unknown[0]} is not a key of the synthetic cohort's settings"
            )
        if {**config["synthetic"], **EXTERNAL["synthetic"]}.get("image_format") == "dicom_rt":
            raise WorkflowError(
                "config: the synthetic other centre is written as images (nifti, nrrd, mha or dicom), "
                "not as a DICOM export; set external.synthetic.image_format"
            )

EXTERNAL_IMAGES = CohortImages(
    "validate_external", f"{EXTERNAL_DIR}/preprocessed", f"{EXTERNAL_DIR}/radiomics/features", "validate_external"
)
EXTERNAL_SYNTHETIC_DIR = f"{EXTERNAL_DIR}/synthetic"


def external_sheets(wildcards=None):
    """The external cohort's clinical and image sheets: simulated, or the user's."""
    if uses_synthetic_external():
        return {"clinical": f"{EXTERNAL_SYNTHETIC_DIR}/clinical.tsv", "images": f"{EXTERNAL_SYNTHETIC_DIR}/images.tsv"}
    return {"clinical": EXTERNAL["clinical"], "images": EXTERNAL["images"]}


def external_mapping(key):
    """The external sheets' ``columns`` or ``labels`` mapping: their own, else the cohort's."""
    own = EXTERNAL.get(key) if uses_external() else None
    return own if own is not None else config["cohort"].get(key, {})


def external_signature_files(wildcards):
    return [f"{EXTERNAL_DIR}/signatures/{m}.tsv" for m in nomogram_models(wildcards)]


# the frozen run: what scores other patients (survsig predict, the external cohort)
FROZEN_SIGNATURES = {
    **{model: f"{FROZEN_DIR}/signature_{model}.json" for model in MODELS},
    **({RADIOMICS_SIGNATURE: f"{FROZEN_DIR}/{RADIOMICS_SIGNATURE}.json"} if RADIOMICS["enabled"] else {}),
}


def external_targets():
    """Every table and figure of the external validation (none without ``external``)."""
    if not uses_external():
        return []
    tables, figures = f"{EXTERNAL_DIR}/tables", f"{EXTERNAL_DIR}/figures"
    targets = [f"{FROZEN_DIR}/run.json"]
    targets += expand(f"{EXTERNAL_DIR}/signatures/{{signature}}.tsv", signature=list(FROZEN_SIGNATURES))
    targets += expand(f"{EXTERNAL_DIR}/nomograms/{{nomogram}}_scores.tsv", nomogram=FROZEN_NOMOGRAMS)
    targets += expand(f"{tables}/cindex.{{ext}}", ext=["tsv", "png", "pdf"])
    targets.append(f"{tables}/tdauc.tsv")
    targets += expand(f"{figures}/roc.{{ext}}", ext=["png", "pdf"])
    targets += expand(f"{tables}/calibration_{{nomogram}}.tsv", nomogram=FROZEN_NOMOGRAMS)
    targets += expand(f"{figures}/calibration_{{nomogram}}.{{ext}}", nomogram=FROZEN_NOMOGRAMS, ext=["png", "pdf"])
    targets += expand(f"{tables}/risk_groups_{{nomogram}}.tsv", nomogram=STRATIFY["nomograms"])
    targets += expand(f"{figures}/km_{{nomogram}}.{{ext}}", nomogram=STRATIFY["nomograms"], ext=["png", "pdf"])
    targets.append(f"{tables}/subgroups.tsv")
    targets += expand(f"{figures}/subgroup_{{variable}}.{{ext}}", variable=STRATIFY_SUBGROUPS, ext=["png", "pdf"])
    targets.append(f"{tables}/shift.tsv")
    targets += expand(f"{figures}/shift.{{ext}}", ext=["png", "pdf"])
    if uses_synthetic_external():
        targets.append(f"{tables}/vs_oracle.tsv")
    return targets


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
    targets += expand("results/figures/signature_km_{model}_{split}.png", model=MODELS, split=["train", "test"])
    targets += radiomics_targets()
    if uses_synthetic_cohort():
        targets.append("results/tables/signature_vs_oracle.tsv")
    targets += nomogram_targets()
    targets += evaluate_targets()
    targets += internal_validation_targets()
    targets += stratify_targets()
    targets += rnaseq_targets()
    targets += external_targets()
    return targets
