"""Canonical names of the cohort's columns and the labels each category accepts.

Every stage speaks these names; a user's own column names and labels are mapped to
them once, at validation (see ``config/README.md``, keys ``cohort.columns`` and
``cohort.labels``).
"""

PATIENT_ID = "patient_id"
OS_MONTHS = "os_months"
OS_EVENT = "os_event"
SPLIT = "split"

#: Required clinical columns, in the order the validated sheet is written.
CLINICAL_REQUIRED = (
    PATIENT_ID,
    OS_MONTHS,
    OS_EVENT,
    "age",
    "sex",
    "rT_stage",
    "N_stage",
    "ebv_dna",
    "treatment",
)

#: Optional PET uptake columns (SUV, g/mL). Lymph-node values are 0 without a node.
SUV_COLUMNS = (
    "tumor_suv_max",
    "tumor_suv_peak",
    "tumor_suv_mean",
    "node_suv_max",
    "node_suv_peak",
    "node_suv_mean",
)

#: Categorical clinical columns and their canonical levels (reference level first).
CATEGORY_LEVELS = {
    "sex": ("M", "F"),
    "rT_stage": ("T0", "T1", "T2", "T3", "T4"),
    "N_stage": ("N0", "N1", "N2", "N3"),
    "ebv_dna": ("undetectable", "detectable"),
    "treatment": ("surgery", "reirradiation", "chemotherapy"),
}

SPLIT_LEVELS = ("train", "test")
#: The split label of an external cohort's patients (scored with the frozen run, never fit on)
EXTERNAL = "external"
#: Split labels a scores or signature file may hold
SCORED_SPLITS = (*SPLIT_LEVELS, EXTERNAL)

#: Plausibility bounds of the clinical values, for the sheets and for new patients alike:
#: beyond them a value is a typo or a unit error (days for months), not a patient.
MAX_AGE = 120
MAX_MONTHS = 1200
MAX_SUV = 200.0

#: Columns of the image sheet; ``ct``, ``pet`` and ``roi`` are paths relative to the sheet.
IMAGE_COLUMNS = (PATIENT_ID, "ct", "pet", "roi")
IMAGE_MODALITIES = ("ct", "pet", "roi")

# ----------------------------------------------------------------- files between stages
#: Linear predictor of a nomogram or signature (higher = higher hazard).
LP = "lp"
RISK_GROUP = "risk_group"
LOW, HIGH = "low", "high"
#: Risk groups, reference first: hazard ratios are high vs low.
RISK_LEVELS = (LOW, HIGH)

#: ``results/split.tsv``.
SPLIT_COLUMNS = (PATIENT_ID, SPLIT)
#: A nomogram's scores, ``results/nomograms/{nomogram}_scores.tsv``.
SCORE_COLUMNS = (PATIENT_ID, SPLIT, OS_MONTHS, OS_EVENT, LP)
#: ``results/risk_groups.tsv`` and ``results/stratify/{nomogram}_groups.tsv``.
RISK_GROUP_COLUMNS = (PATIENT_ID, SPLIT, LP, RISK_GROUP)

#: Which true predictor of the synthetic cohort (``ground_truth.tsv``) a model's
#: channels can see; a model seeing CT and PET sees ``lp_image``.
ORACLE_PREDICTOR = {
    frozenset({"ct"}): "lp_image_ct",
    frozenset({"ct", "roi"}): "lp_image_ct",
    frozenset({"roi"}): "lp_image_ct",
    frozenset({"pet"}): "lp_image_pet",
    frozenset({"pet", "roi"}): "lp_image_pet",
}
ORACLE_IMAGE = "lp_image"
#: The latent tumour traits (``ground_truth.tsv``) each true image predictor is the
#: weighted sum of (:data:`survsig.cohort.patients.HAZARD`).
ORACLE_TRAITS = {
    "lp_image": ("tumor_volume", "shape_irregularity", "necrotic_core", "uptake_level", "uptake_heterogeneity"),
    "lp_image_ct": ("tumor_volume", "shape_irregularity", "necrotic_core"),
    "lp_image_pet": ("tumor_volume", "uptake_level", "uptake_heterogeneity"),
}
