"""Median survival with its confidence interval against R's print(survfit(...)).

References from ``tests/data/r_survfit/median_survival.R`` (survival 3.5-3): lung by sex,
colon deaths by treatment, veteran by treatment, a curve at exactly 0.5 over an interval
(R takes the midpoint to the next drop) and medians or limits not reached; for the
conf.types log (R's default), log-log and plain.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from survsig.core.formats import format_median
from survsig.survival.groups import compare_groups
from survsig.survival.km import kaplan_meier, median_survival

DATA = Path(__file__).resolve().parents[1] / "data" / "r_survfit"
REFERENCE = pd.read_csv(DATA / "median_survival.csv")
CASES = pd.read_csv(DATA / "median_cases.csv")


@pytest.mark.parametrize(("case", "conf_type"), sorted(set(zip(REFERENCE["case"], REFERENCE["conf_type"]))))
def test_median_and_limits_equal_survfit(case, conf_type):
    reference = REFERENCE[(REFERENCE["case"] == case) & (REFERENCE["conf_type"] == conf_type)]
    data = CASES[CASES["case"] == case]
    for row in reference.itertuples():
        part = data[data["group"] == row.group]
        assert (len(part), int(part["status"].sum())) == (row.n, row.events)
        curve = kaplan_meier(part["time"], part["status"], conf_type=conf_type)
        got = median_survival(curve)
        # times are R's own numbers (or midpoints of two): equal to 1e-9, NaN where R says NA
        np.testing.assert_allclose(got, [row.median, row.lower, row.upper], rtol=0, atol=1e-9, equal_nan=True)


def test_midpoint_and_not_reached_cases_are_in_the_reference():
    half = REFERENCE[(REFERENCE["case"] == "half") & (REFERENCE["conf_type"] == "log")].iloc[0]
    assert half["median"] == 3.5  # S = 0.5 from t = 3 until the drop at t = 4
    assert REFERENCE["median"].isna().any() and REFERENCE["upper"].isna().any()


def test_groups_report_their_medians_and_legends_say_not_reached():
    data = CASES[CASES["case"] == "colon_rx"]
    result = compare_groups(data["time"], data["status"], data["group"], levels=("Obs", "Lev+5FU"), time_months=1095)
    ref = REFERENCE[(REFERENCE["case"] == "colon_rx") & (REFERENCE["conf_type"] == "log")].set_index("group")
    assert result["median_Obs"] == ref.loc["Obs", "median"]
    assert (result["median_Obs_lower"], result["median_Obs_upper"]) == (
        ref.loc["Obs", "lower"],
        ref.loc["Obs", "upper"],
    )
    assert np.isnan(result["median_Lev+5FU"]) and result["median_Lev+5FU_lower"] == ref.loc["Lev+5FU", "lower"]
    assert format_median(result["median_Obs"], result["median_Obs_lower"], result["median_Obs_upper"]) == (
        "median OS 2083.0 months (1656.0\u20132789.0)"
    )
    assert format_median(np.nan, 2725.0, np.nan) == "median OS not reached (lower limit 2725.0 months)"
    assert format_median(12.0, 8.5, np.nan) == "median OS 12.0 months (8.5\u2013NR)"
