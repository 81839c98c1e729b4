"""What the stages and the workflow call things: nomograms, subgroups, labels and titles.

The floor under every stage module, with no import beyond the standard library, so the
Snakefile reads the same lists the stages use (``workflow/rules/common.smk``). Labels
of the networks are derived from the configured model names: a user's model ``mri``
is "MRI" wherever the study's ``petct`` is "PET/CT".
"""

from __future__ import annotations

#: En dash of ranges and intervals (``25.0–40.1``).
EN_DASH = "\u2013"
#: Minus sign of negative numbers in tables (not a hyphen).
MINUS = "\u2212"

#: Prefix of the deep-learning-only nomograms (``dl_{model}``).
DL_PREFIX = "dl_"
#: Nomograms that do not depend on the networks, in the order tables list them.
CLINICAL_NOMOGRAMS = ("clinical", "clinical_suv")
INTEGRATED_NOMOGRAMS = ("integrated", "integrated_suv")
#: The radiomics comparator: its signature (``results/signatures/radiomics.tsv``) and nomogram.
RADIOMICS = "radiomics"
#: The deep-radiomics fusion signature (``results/signatures/fusion.tsv``) and nomogram.
FUSION = "fusion"
#: Nomograms of one signature of their own name, nothing else.
SIGNATURE_NOMOGRAMS = (RADIOMICS, FUSION)

#: Short names of the study's networks (a model's imaging modalities), and of the
#: radiomics comparator's signature.
MODEL_NAMES = {"ct": "CT", "pet": "PET", "petct": "PET/CT", RADIOMICS: "Radiomics", FUSION: "Deep radiomics fusion"}
#: Names that tell a single-modality network from the combined one.
MODEL_ONLY_NAMES = {"ct": "CT-only", "pet": "PET-only"}

NOMOGRAM_LABELS = {
    "clinical": "Clinical",
    "clinical_suv": "Clinical + SUV",
    "integrated": "Integrated",
    "integrated_suv": "Integrated + SUV",
    RADIOMICS: "Radiomics",
    FUSION: "Deep radiomics fusion",
}

#: Sites and kinds of the SUV columns (``tumor_suv_max`` ...).
SUV_SITE_LABELS = {"tumor": "Tumor", "node": "Lymph node"}
SUV_KIND_LABELS = {"max": "SUVmax", "peak": "SUVpeak", "mean": "SUVmean"}

SPLIT_TITLES = {"train": "training set", "test": "test set", "external": "external cohort", "all": "all patients"}
RISK_LABELS = {"low": "Low risk", "high": "High risk"}

#: The treatments as figures and the text name them (Table 1 keeps the paper's "Re-radiation").
TREATMENT_LABELS = {"surgery": "Surgery", "reirradiation": "Re-irradiation", "chemotherapy": "Chemotherapy"}

#: Subgroups of Fig. 4: variable -> [(level name, title, canonical levels pooled)].
SUBGROUPS = {
    "sex": [("M", "Male", ("M",)), ("F", "Female", ("F",))],
    "ebv_dna": [
        ("undetectable", "EBV DNA undetectable", ("undetectable",)),
        ("detectable", "EBV DNA detectable", ("detectable",)),
    ],
    "N_stage": [("N0", "N0", ("N0",)), ("N1-3", f"N1{EN_DASH}N3", ("N1", "N2", "N3"))],
    "treatment": [(level, TREATMENT_LABELS[level], (level,)) for level in TREATMENT_LABELS],
}


def nomogram_names(models, *, radiomics=False, fusion=False) -> list:
    """The nomograms of a run: clinical, clinical_suv, ``dl_{model}`` per model, radiomics
    (with the radiomics comparator), fusion (with the fusion signature), integrated,
    integrated_suv."""
    signatures = [RADIOMICS] if radiomics else []
    signatures += [FUSION] if fusion else []
    return [*CLINICAL_NOMOGRAMS, *(f"{DL_PREFIX}{m}" for m in models), *signatures, *INTEGRATED_NOMOGRAMS]


def model_name(model: str) -> str:
    """``petct`` -> ``PET/CT``; a model of the user's own, ``mri`` -> ``MRI``."""
    return MODEL_NAMES.get(model, model.upper())


def model_label(model: str) -> str:
    """``ct`` -> ``CT-only``, ``petct`` -> ``PET/CT``, ``mri`` -> ``MRI``."""
    return MODEL_ONLY_NAMES.get(model, model_name(model))


def nomogram_label(name: str) -> str:
    """``dl_petct`` -> ``Deep learning, PET/CT``; ``integrated`` -> ``Integrated``."""
    if name.startswith(DL_PREFIX):
        return f"Deep learning, {model_label(name[len(DL_PREFIX) :])}"
    return NOMOGRAM_LABELS.get(name, name)


def nomogram_title(name: str) -> str:
    """``dl_petct`` -> ``PET/CT deep learning nomogram``; ``clinical`` -> ``Clinical nomogram``."""
    if name.startswith(DL_PREFIX):
        return f"{model_name(name[len(DL_PREFIX) :])} deep learning nomogram"
    return f"{NOMOGRAM_LABELS.get(name, name)} nomogram"


def signature_label(model: str) -> str:
    """``petct`` -> ``PET/CT signature``."""
    return f"{model_label(model)} signature"


def horizon_text(months) -> str:
    """36 -> ``3-year``; 18 -> ``18-month`` (as in "3-year OS")."""
    months = float(months)
    years = months / 12
    return f"{years:g}-year" if years.is_integer() else f"{months:g}-month"


def horizon_span(months) -> str:
    """36 -> ``3 years``; 12 -> ``1 year``; 18 -> ``18 months`` (as in "death by 3 years")."""
    months = float(months)
    years = months / 12
    if years.is_integer():
        return f"{years:g} year" + ("" if years == 1 else "s")
    return f"{months:g} months"
