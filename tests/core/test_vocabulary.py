"""Names, labels and number formats shared by the stages (survsig.core.vocabulary, survsig.core.formats)."""

import math

import numpy as np
import pandas as pd
import pytest

from survsig.core.formats import format_hr, format_interval, format_median, format_p, format_p_cell, format_survival
from survsig.core.vocabulary import (
    horizon_span,
    horizon_text,
    model_label,
    nomogram_label,
    nomogram_names,
    nomogram_title,
    signature_label,
)


def test_nomogram_names_follow_the_configured_models():
    assert nomogram_names(["ct", "pet"]) == [
        "clinical",
        "clinical_suv",
        "dl_ct",
        "dl_pet",
        "integrated",
        "integrated_suv",
    ]
    assert nomogram_names([]) == ["clinical", "clinical_suv", "integrated", "integrated_suv"]
    # the radiomics comparator's nomogram follows the deep learning ones
    assert nomogram_names(["petct"], radiomics=True) == [
        "clinical",
        "clinical_suv",
        "dl_petct",
        "radiomics",
        "integrated",
        "integrated_suv",
    ]
    assert (nomogram_label("radiomics"), nomogram_title("radiomics")) == ("Radiomics", "Radiomics nomogram")
    assert signature_label("radiomics") == "Radiomics signature"


@pytest.mark.parametrize(
    "model, label, title",
    [
        ("ct", "Deep learning, CT-only", "CT deep learning nomogram"),
        ("petct", "Deep learning, PET/CT", "PET/CT deep learning nomogram"),
        ("mri", "Deep learning, MRI", "MRI deep learning nomogram"),
    ],
)
def test_labels_of_a_model_come_from_its_name(model, label, title):
    assert nomogram_label(f"dl_{model}") == label
    assert nomogram_title(f"dl_{model}") == title
    assert signature_label(model) == f"{model_label(model)} signature"


def test_labels_of_the_clinical_and_integrated_nomograms():
    assert nomogram_label("clinical_suv") == "Clinical + SUV"
    assert nomogram_title("integrated") == "Integrated nomogram"


@pytest.mark.parametrize(
    "months, text, span",
    [
        (36, "3-year", "3 years"),
        (12, "1-year", "1 year"),
        (18, "18-month", "18 months"),
        (30.5, "30.5-month", "30.5 months"),
    ],
)
def test_horizon_texts(months, text, span):
    assert horizon_text(months) == text
    assert horizon_span(months) == span


@pytest.mark.parametrize("undefined", [None, float("nan"), np.nan, pd.NA, float("inf")])
def test_an_undefined_p_value_prints_as_such(undefined):
    assert format_p_cell(undefined) == ""
    assert format_p(undefined) == "p = NA"


def test_p_values_in_tables_and_in_text():
    assert [format_p_cell(p) for p in (0.0004, 0.012, 0.05, 0.5)] == ["< 0.001*", "0.012*", "0.050", "0.500"]
    assert [format_p(p) for p in (0.0004, 0.012, np.float64(0.5))] == ["p < 0.001", "p = 0.012", "p = 0.500"]
    assert format_p(0.04, digits=1) == "p < 0.1"


def test_intervals_use_minus_signs_and_en_dashes():
    assert format_interval(-0.0123, -0.05, 0.02, sep=", ") == "\u22120.012 (\u22120.050, 0.020)"
    assert format_interval(0.7, 0.65, 0.75) == "0.700 (0.650\u20130.750)"
    assert format_interval(0.7, math.nan, 0.75) == "NA"
    assert format_hr(4.561, 2.8, 7.42) == "HR 4.56 (95% CI 2.80\u20137.42)"
    assert format_hr(np.nan, 1, 2) == "HR NA"
    assert format_survival(0.892, 0.841, 0.945) == "89.2% (84.1\u201394.5)"
    assert format_survival(0.5, np.nan, 0.6) == "50.0%"
    assert format_median(np.nan, np.nan, np.nan) == "median OS not reached"
