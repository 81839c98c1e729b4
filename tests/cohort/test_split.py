"""Train/test split: sizes, event stratification, seeds, and the sheet's own split."""

import numpy as np
import pandas as pd
import pytest

from survsig.cohort.split import split_cohort
from survsig.core.errors import InputError


def cohort(n=100, event_rate=0.42, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "patient_id": [f"P{i:03d}" for i in range(n)],
            "os_months": rng.uniform(1, 60, n).round(1),
            "os_event": (rng.random(n) < event_rate).astype(int),
        }
    )


def rates(clinical, split):
    joined = clinical.merge(split, on="patient_id")
    return joined.groupby("split")["os_event"].agg(["mean", "size", "sum"])


@pytest.mark.parametrize(
    ("n", "fraction", "n_train"),
    [(100, 0.6, 60), (101, 0.6, 61), (420, 0.6, 252), (5, 0.5, 3), (7, 0.3, 2), (2, 0.5, 1)],
)
def test_sizes_are_round_n_times_fraction(n, fraction, n_train):
    clinical = cohort(n, seed=n)
    clinical.loc[0, "os_event"], clinical.loc[1, "os_event"] = 0, 1  # both strata present
    split = split_cohort(clinical, train_fraction=fraction, seed=1)
    assert list(split.columns) == ["patient_id", "split"]
    assert list(split["patient_id"]) == list(clinical["patient_id"])  # sheet's row order
    assert (split["split"] == "train").sum() == n_train
    assert (split["split"] == "test").sum() == n - n_train


@pytest.mark.parametrize("seed", [0, 1, 2022])
@pytest.mark.parametrize("n", [40, 97, 420])
def test_stratified_by_event(n, seed):
    clinical = cohort(n, seed=seed + n)
    split = split_cohort(clinical, train_fraction=0.6, seed=seed)
    r = rates(clinical, split)
    n_train, n_test = r.loc["train", "size"], r.loc["test", "size"]
    events = clinical["os_event"].sum()
    # the training set gets its proportional share of the deaths, to the nearest patient
    assert abs(r.loc["train", "sum"] - events * n_train / n) <= 0.5
    # hence event rates differ by at most half a patient in each set
    assert abs(r.loc["train", "mean"] - r.loc["test", "mean"]) <= 0.5 * (1 / n_train + 1 / n_test) + 1e-12
    assert abs(r.loc["train", "mean"] - r.loc["test", "mean"]) <= 1 / min(n_train, n_test)


def test_420_patients_event_rates_close():
    clinical = cohort(420, event_rate=0.42, seed=5)
    split = split_cohort(clinical, seed=2022)
    r = rates(clinical, split)
    assert (r.loc["train", "size"], r.loc["test", "size"]) == (252, 168)
    assert abs(r.loc["train", "mean"] - r.loc["test", "mean"]) < 0.005


def test_same_seed_same_split_different_seed_different():
    clinical = cohort(200, seed=3)
    a = split_cohort(clinical, seed=11)
    b = split_cohort(clinical.copy(), seed=11)
    c = split_cohort(clinical, seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert not a["split"].equals(c["split"])


def test_row_order_does_not_change_assignment():
    clinical = cohort(150, seed=4)
    shuffled = clinical.sample(frac=1.0, random_state=9).reset_index(drop=True)
    a = split_cohort(clinical, seed=3).set_index("patient_id")["split"]
    b = split_cohort(shuffled, seed=3)
    assert list(b["patient_id"]) == list(shuffled["patient_id"])
    assert b.set_index("patient_id")["split"].sort_index().equals(a.sort_index())


def test_unstratified_split():
    clinical = cohort(50, seed=6).drop(columns="os_event")
    split = split_cohort(clinical, seed=1, stratify_by_event=False, train_fraction=0.7)
    assert (split["split"] == "train").sum() == 35


def test_sheet_split_used_as_is():
    clinical = cohort(10, seed=7)
    labels = ["train"] * 3 + ["test"] * 7  # deliberately not 6:4
    clinical["split"] = labels
    split = split_cohort(clinical, seed=1)
    assert list(split["split"]) == labels
    # from_sheet=False ignores the column and draws the seeded 6:4 split
    drawn = split_cohort(clinical, seed=1, from_sheet=False)
    assert (drawn["split"] == "train").sum() == 6


@pytest.mark.parametrize("bad", ["Train", "validation", np.nan])
def test_bad_sheet_label_names_column_and_patient(bad):
    clinical = cohort(6, seed=8)
    clinical["split"] = pd.Series(["train", "test", "train", bad, "test", "train"], dtype=object)
    with pytest.raises(InputError) as err:
        split_cohort(clinical, seed=1)
    assert err.value.column == "split"
    assert err.value.patient == "P003"
    assert err.value.row == 4
    assert "P003" in str(err.value) and "'split'" in str(err.value)


def test_empty_sheet_split_raises():
    clinical = cohort(6, seed=8)
    clinical["split"] = "train"
    with pytest.raises(InputError, match="'test'") as err:
        split_cohort(clinical, seed=1)
    assert err.value.column == "split"


def test_bad_options_one_message():
    clinical = cohort(20)
    with pytest.raises(InputError) as err:
        split_cohort(clinical, train_fraction=1.5, seed=-1, stratify_by_event="yes")
    message = str(err.value)
    assert message.startswith("invalid split options")
    assert "train_fraction" in message and "seed" in message and "stratify_by_event" in message


@pytest.mark.parametrize("fraction", [0.0, 1.0, True, "0.6", float("nan")])
def test_train_fraction_out_of_range(fraction):
    with pytest.raises(InputError, match="train_fraction"):
        split_cohort(cohort(20), train_fraction=fraction, seed=1)


def test_too_small_cohort_raises():
    with pytest.raises(InputError, match="both sets"):
        split_cohort(cohort(3), train_fraction=0.9, seed=1)


def test_bad_event_raises_naming_patient():
    clinical = cohort(10)
    clinical["os_event"] = clinical["os_event"].astype(object)
    clinical.loc[4, "os_event"] = "dead"
    with pytest.raises(InputError) as err:
        split_cohort(clinical, seed=1)
    assert (err.value.column, err.value.patient, err.value.row) == ("os_event", "P004", 5)


def test_duplicate_patient_raises():
    clinical = cohort(10)
    clinical.loc[3, "patient_id"] = "P001"
    with pytest.raises(InputError, match="duplicate") as err:
        split_cohort(clinical, seed=1)
    assert err.value.patient == "P001"
