"""Scoring new patients with a saved nomogram: ``survsig score``, rule ``score_new``'s
script, checks of the nomogram file, of the new patients and of the follow-up."""

import copy
import errno
import json
import logging
import math
import os
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from survsig.cli import main
from survsig.core.errors import InputError
from survsig.statistics.axes import points_scale
from survsig.statistics.nomogram import MAX_ABS_LP, CoxNomogram, accepted_range, scored_extremes
from survsig.statistics.scoring import OUTSIDE_TRAINING_RANGE, score_new_patients, score_new_patients_file
from survsig.statistics.terms import Term, term_for

REPO = Path(__file__).resolve().parents[2]
SURVSIG = str(Path(sys.executable).with_name("survsig"))
TERMS = ["age", "rT_stage", "signature_petct"]
COLUMNS = [
    "patient_id",
    "points_age",
    "points_rT_stage",
    "points_signature_petct",
    "total_points",
    "lp",
    "survival_12m",
    "survival_36m",
    "survival_60m",
    OUTSIDE_TRAINING_RANGE,
]


def cohort(n=200, seed=1, censor=(10.0, 80.0)):
    """Exponential survival with log hazard ratios 0.04/year of age, 0.9 for rT3-4 and
    0.8/SD of the signature; ages 25 to 80; uniform censoring in ``censor`` (months)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "patient_id": [f"P{i:03d}" for i in range(n)],
            "split": "train",
            "sex": rng.choice(["M", "F"], n),
            "age": rng.normal(55, 10, n).round().clip(25, 80),
            "rT_stage": rng.choice(["T1", "T2", "T3", "T4"], n),
            "N_stage": rng.choice(["N0", "N1"], n),
            "ebv_dna": rng.choice(["undetectable", "detectable"], n),
            "signature_petct": rng.normal(size=n),
        }
    )
    frame.loc[[0, 1], "age"] = [25.0, 80.0]  # training range of age: exactly 25-80
    lp = 0.04 * (frame["age"] - 55) + 0.9 * frame["rT_stage"].isin(["T3", "T4"]) + 0.8 * frame["signature_petct"]
    event_time = rng.exponential(40 * np.exp(-lp))
    censor_time = rng.uniform(*censor, n)
    frame["os_months"] = np.minimum(event_time, censor_time).round(2) + 0.01
    frame["os_event"] = (event_time <= censor_time).astype(int)
    return frame


@pytest.fixture(scope="module")
def nomogram():
    return CoxNomogram(TERMS, name="integrated").fit(cohort())


@pytest.fixture
def nomogram_file(nomogram, tmp_path):
    path = tmp_path / "integrated.json"
    nomogram.save(path)
    return path


def new_sheet(**changes):
    sheet = pd.DataFrame(
        {
            "patient_id": ["A", "B", "C"],
            "age": [40.0, 62.0, 71.0],
            "rT_stage": ["T1", "T4", "T3"],
            "signature_petct": [-1.0, 0.5, 1.5],
        }
    )
    return sheet.assign(**changes)


def write_sheet(path, sheet):
    sheet.to_csv(path, sep="\t", index=False)
    return path


def run_rule_script(nomogram_path, sheet_path, output, log):
    snakemake = SimpleNamespace(
        input=SimpleNamespace(nomogram=str(nomogram_path), sheet=str(sheet_path)), output=[str(output)], log=[str(log)]
    )
    runpy.run_path(
        str(REPO / "workflow" / "scripts" / "statistics" / "score_new.py"), init_globals={"snakemake": snakemake}
    )


# --------------------------------------------------------------------------- the command
def test_cli_writes_the_rules_table(nomogram, nomogram_file, tmp_path, capsys):
    sheet = write_sheet(tmp_path / "new.tsv", new_sheet())
    out = tmp_path / "cli" / "scores.tsv"
    main(["score", str(nomogram_file), str(sheet), "-o", str(out)])
    assert capsys.readouterr().err == ""
    rule_out = tmp_path / "rule" / "scores.tsv"
    run_rule_script(nomogram_file, sheet, rule_out, tmp_path / "rule.log")
    assert out.read_bytes() == rule_out.read_bytes()

    table = pd.read_csv(out, sep="\t", keep_default_na=False)
    assert list(table.columns) == COLUMNS
    assert table["patient_id"].tolist() == ["A", "B", "C"]
    assert table[OUTSIDE_TRAINING_RANGE].tolist() == ["", "", ""]
    # lp = (x - means) . coef; S(t) = S0(t) ** exp(lp); points / sc + intercept = lp
    x = np.column_stack([[40.0, 62.0, 71.0], [0.0, 1.0, 1.0], [-1.0, 0.5, 1.5]])
    lp = (x - nomogram.means_.to_numpy()) @ nomogram.coef_.to_numpy()
    np.testing.assert_allclose(table["lp"], lp, rtol=1e-9, atol=1e-12)
    for t in (12, 36, 60):
        s0 = nomogram.baseline_survival_[float(t)]
        assert 0 < s0 < 1
        np.testing.assert_allclose(table[f"survival_{t}m"], s0 ** np.exp(lp), rtol=1e-9)
    scale = nomogram.scale_
    np.testing.assert_allclose(scale["intercept"] + table["total_points"] / scale["sc"], lp, rtol=1e-9, atol=1e-12)
    # patient A is T1: no rT points; B and C are T3-4: the rT axis' top
    assert table["points_rT_stage"].tolist()[0] == 0
    np.testing.assert_allclose(table["points_rT_stage"].iloc[1:], max(scale["axes"]["rT_stage"]["points"]))


def test_cli_subprocess_error_is_one_line_and_status_2(nomogram_file, tmp_path):
    sheet = write_sheet(tmp_path / "new.tsv", new_sheet(age=[40.0, 300.0, 71.0]))
    out = tmp_path / "scores.tsv"
    result = subprocess.run(
        [SURVSIG, "score", str(nomogram_file), str(sheet), "-o", str(out)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert result.stderr.startswith(f"survsig score: {sheet}, patient B, row 2, column 'age': 300 is refused: ")
    assert "Traceback" not in result.stderr
    assert not out.exists() and sorted(tmp_path.iterdir()) == sorted([nomogram_file, sheet])  # no temporary left

    good = write_sheet(tmp_path / "good.tsv", new_sheet())
    result = subprocess.run(
        [SURVSIG, "score", str(nomogram_file), str(good), "-o", str(out)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    expected = tmp_path / "expected.tsv"
    score_new_patients_file(nomogram_file, good, expected)
    assert out.read_bytes() == expected.read_bytes()


def test_cli_refuses_a_tampered_nomogram_without_writing(nomogram_file, tmp_path, capsys):
    data = json.loads(nomogram_file.read_text())
    data["coef"]["age"] = float("nan")
    nomogram_file.write_text(json.dumps(data))
    sheet = write_sheet(tmp_path / "new.tsv", new_sheet())
    out = tmp_path / "scores.tsv"
    with pytest.raises(SystemExit) as exit_info:
        main(["score", str(nomogram_file), str(sheet), "-o", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == f"survsig score: {nomogram_file}: nomogram key 'coef.age' must be a finite number, got NaN\n"
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read the sheet of new patients (No such file or directory)"),
        ("", "cannot read the sheet of new patients (No columns to parse from file)"),
        ("patient_id\tage\tage\trT_stage\tsignature_petct\nA\t40\t41\tT1\t0\n", "column 'age': column name repeats"),
        ("patient_id\tage\trT_stage\nA\t40\tT1\n", "column 'signature_petct': column needed by term"),
        ("patient_id\tage\trT_stage\tsignature_petct\nA\t40\tT9\t0\n", "column 'rT_stage': 'T9' is not one of"),
    ],
)
def test_cli_refuses_unreadable_sheets(nomogram_file, tmp_path, capsys, content, expected):
    sheet = tmp_path / "new.tsv"
    if content is not None:
        sheet.write_text(content)
    with pytest.raises(SystemExit) as exit_info:
        main(["score", str(nomogram_file), str(sheet), "-o", str(tmp_path / "out.tsv")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"survsig score: {sheet}") and err.count("\n") == 1
    assert expected in err
    assert not (tmp_path / "out.tsv").exists()


def test_rule_script_reports_bad_input_in_one_line_and_writes_nothing(nomogram_file, tmp_path):
    sheet = write_sheet(tmp_path / "new.tsv", new_sheet(patient_id=["A", "B", "A"]))
    out, log = tmp_path / "scores.tsv", tmp_path / "score_new.log"
    with pytest.raises(SystemExit) as exit_info:
        run_rule_script(nomogram_file, sheet, out, log)
    assert exit_info.value.code == 1
    assert not out.exists()
    assert f"{sheet}, patient A, row 3, column 'patient_id': duplicate patient id (first in data row 1)" in (
        log.read_text()
    )


# --------------------------------------------------------------------------- nomogram files
def test_saved_nomogram_loads_back_and_scores_identically(nomogram, nomogram_file):
    loaded = CoxNomogram.load(nomogram_file)
    assert json.dumps(loaded.to_dict()) == json.dumps(nomogram.to_dict())
    pd.testing.assert_frame_equal(score_new_patients(loaded, new_sheet()), score_new_patients(nomogram, new_sheet()))
    data = json.loads(nomogram_file.read_text())
    train = cohort()
    assert data["training_range"] == {
        "age": [train["age"].min(), train["age"].max()],
        "signature_petct": [train["signature_petct"].min(), train["signature_petct"].max()],
    }
    assert data["max_followup_months"] == train["os_months"].max()


def test_file_without_training_range_and_followup_falls_back(nomogram, nomogram_file):
    data = json.loads(nomogram_file.read_text())
    del data["training_range"], data["max_followup_months"]
    old = CoxNomogram.from_dict(data, file="old.json")
    assert old.max_followup_months_ == nomogram.baseline_times_[-1]
    for name in ("age", "signature_petct"):
        axis = nomogram.scale_["axes"][name]["values"]
        assert old.training_range_[name] == (min(axis), max(axis))
    # the axis range holds the training range: what scores in the new file scores in the old
    scored = score_new_patients(old, new_sheet())
    np.testing.assert_array_equal(scored["lp"], score_new_patients(nomogram, new_sheet())["lp"])


def _set(path, value):
    """A mutation setting the key at ``path`` (a tuple of keys and indexes) to ``value``."""

    def mutate(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value(target[path[-1]]) if callable(value) else value

    return mutate


def _drop(*path):
    def mutate(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def _swap_baseline_times(data):
    times = data["baseline"]["times"]
    times[3], times[4] = times[4], times[3]


def _negate(values):
    return [-v for v in values]


def _term(i, **changes):
    return _set(("terms", i), lambda term: {**term, **changes})


TAMPERED = [
    ("format", _set(("format",), "something/1"), "not a survsig nomogram file (format 'something/1'"),
    ("terms-missing", _drop("terms"), "nomogram key 'terms' is missing"),
    ("terms-empty", _set(("terms",), []), "nomogram key 'terms' must hold at least 1 value(s), got 0"),
    ("terms-type", _set(("terms",), "age"), "nomogram key 'terms' must be an array, got a string"),
    (
        "term-kind-unknown",
        _term(0, kind="ordinal"),
        "nomogram key 'terms[0].kind' must be one of continuous, binary, got 'ordinal'",
    ),
    ("term-kind-missing", _drop("terms", 0, "kind"), "nomogram key 'terms[0].kind' is missing"),
    ("term-name-type", _term(0, name=3), "nomogram key 'terms[0].name' must be a string, got a number"),
    ("term-repeated", _term(2, name="age"), "nomogram key 'terms[2].name' repeats the term 'age'"),
    ("binary-without-positive", _drop("terms", 1, "positive"), "nomogram key 'terms[1].positive' is missing"),
    ("binary-without-negative", _term(1, negative=[]), "nomogram key 'terms[1].negative' must hold at least 1"),
    (
        "binary-one-level-label",
        _term(1, level_labels=["T0-2"]),
        "nomogram key 'terms[1].level_labels' must hold 2 values, got 1",
    ),
    (
        "binary-label-both-levels",
        _term(1, positive=["T2", "T3", "T4"]),
        "nomogram key 'terms[1].positive' shares the label 'T2' with terms[1].negative",
    ),
    ("ties", _set(("ties",), "exact"), "nomogram key 'ties' must be one of efron, breslow, got 'exact'"),
    ("time-unit", _set(("time_unit",), "days"), 'nomogram key \'time_unit\' must be "months", got "days"'),
    (
        "survival-times-type",
        _set(("survival_times",), "12,36"),
        "nomogram key 'survival_times' must be an array, got a string",
    ),
    ("survival-time-zero", _set(("survival_times", 0), 0), "nomogram key 'survival_times[0]' must be greater than 0"),
    ("coef-missing", _drop("coef"), "nomogram key 'coef' is missing"),
    ("coef-type", _set(("coef",), [0.04, 0.9, 0.8]), "nomogram key 'coef' must be an object, got an array"),
    ("coef-term-missing", _drop("coef", "age"), "nomogram key 'coef.age' is missing"),
    ("coef-nan", _set(("coef", "age"), float("nan")), "nomogram key 'coef.age' must be a finite number, got NaN"),
    ("coef-text", _set(("coef", "age"), "0.04"), "nomogram key 'coef.age' must be a number, got a string \"0.04\""),
    (
        "coef-extra",
        _set(("coef", "sex"), 0.1),
        "nomogram key 'coef' has an entry 'sex' that is not a term of the nomogram (terms: age, rT_stage, "
        "signature_petct)",
    ),
    (
        "terms-fewer-than-coef",
        _set(("terms",), lambda terms: terms[:2]),
        "nomogram key 'coef' has an entry 'signature_petct' that is not a term of the nomogram",
    ),
    ("means-missing", _drop("means"), "nomogram key 'means' is missing"),
    (
        "means-infinite",
        _set(("means", "signature_petct"), float("inf")),
        "nomogram key 'means.signature_petct' must be a finite number, got Infinity",
    ),
    ("se-missing", _drop("se"), "nomogram key 'se' is missing"),
    ("se-null", _set(("se", "age"), None), "nomogram key 'se.age' must be a number, got null"),
    ("se-negative", _set(("se", "age"), -0.01), "nomogram key 'se.age' must be at least 0, got -0.01"),
    ("cov-shape", _set(("cov",), lambda cov: cov[:2]), "nomogram key 'cov' must hold 3 values, got 2"),
    ("n-fraction", _set(("n",), 199.5), "nomogram key 'n' must be a whole number, got 199.5"),
    ("events-above-n", _set(("events",), 1000), "nomogram key 'events' must be at most 200, got 1000"),
    ("loglik-missing", _drop("loglik"), "nomogram key 'loglik' is missing"),
    ("lp-range-reversed", _set(("lp_range",), lambda r: r[::-1]), "nomogram key 'lp_range' must be [lowest, highest]"),
    ("baseline-missing", _drop("baseline"), "nomogram key 'baseline' is missing"),
    ("baseline-times-missing", _drop("baseline", "times"), "nomogram key 'baseline.times' is missing"),
    (
        "baseline-times-not-increasing",
        _swap_baseline_times,
        "nomogram key 'baseline.times[4]' ({t3}) is not after baseline.times[3] ({t4}): death times must increase "
        "strictly",
    ),
    (
        "baseline-times-negative",
        _set(("baseline", "times", 0), -1.0),
        "nomogram key 'baseline.times[0]' must be at least 0, got -1.0",
    ),
    (
        "baseline-cumhaz-negated",
        _set(("baseline", "cumhaz"), _negate),
        "nomogram key 'baseline.cumhaz[0]' must be at least 0, got -",
    ),
    (
        "baseline-cumhaz-nan",
        _set(("baseline", "cumhaz", 2), float("nan")),
        "nomogram key 'baseline.cumhaz[2]' must be a finite number, got NaN",
    ),
    (
        "baseline-cumhaz-decreasing",
        _set(("baseline", "cumhaz", 5), 0.0),
        "nomogram key 'baseline.cumhaz[5]' (0) is below baseline.cumhaz[4] ({h4}): a cumulative hazard never decreases",
    ),
    (
        "baseline-lengths",
        _set(("baseline", "cumhaz"), lambda h: h[:-1]),
        "nomogram key 'baseline.cumhaz' must hold {n_times} values, got {n_times_less_1}",
    ),
    (
        "max-followup-before-last-death",
        _set(("max_followup_months",), 1.0),
        "nomogram key 'max_followup_months' (1) is before the last baseline death time",
    ),
    (
        "max-followup-nan",
        _set(("max_followup_months",), float("nan")),
        "nomogram key 'max_followup_months' must be a finite number, got NaN",
    ),
    (
        "training-range-nan",
        _set(("training_range", "age", 0), float("nan")),
        "nomogram key 'training_range.age[0]' must be a finite number, got NaN",
    ),
    (
        "training-range-reversed",
        _set(("training_range", "age"), lambda r: r[::-1]),
        "nomogram key 'training_range.age' must be [lowest, highest]",
    ),
    (
        "training-range-binary",
        _set(("training_range", "rT_stage"), [0, 1]),
        "nomogram key 'training_range' has an entry 'rT_stage' that is not a continuous term",
    ),
    (
        "baseline-survival-above-1",
        _set(("baseline_survival", "36"), 2.17),
        "nomogram key 'baseline_survival.36' must be at most 1, got 2.17",
    ),
    (
        "baseline-survival-negative",
        _set(("baseline_survival", "12"), -0.5),
        "nomogram key 'baseline_survival.12' must be at least 0, got -0.5",
    ),
    (
        "baseline-survival-not-the-baselines",
        _set(("baseline_survival", "12"), 0.5),
        "nomogram key 'baseline_survival.12' disagrees with exp(-baseline cumulative hazard at 12 months)",
    ),
    (
        "baseline-survival-missing-time",
        _drop("baseline_survival", "60"),
        "nomogram key 'baseline_survival.60' is missing",
    ),
    ("points-scale-missing", _drop("points_scale"), "nomogram key 'points_scale' is missing"),
    ("points-scale-sc-missing", _drop("points_scale", "sc"), "nomogram key 'points_scale.sc' is missing"),
    (
        "points-scale-sc-nan",
        _set(("points_scale", "sc"), float("nan")),
        "nomogram key 'points_scale.sc' must be a finite number, got NaN",
    ),
    (
        "points-scale-sc-doubled",
        _set(("points_scale", "sc"), lambda sc: 2 * sc),
        "nomogram key 'points_scale.axes.age.points' disagrees with points_scale.axes.age.xbeta above its lowest",
    ),
    (
        "points-scale-axis-missing",
        _drop("points_scale", "axes", "signature_petct"),
        "nomogram key 'points_scale.axes.signature_petct' is missing",
    ),
    (
        "points-scale-xbeta-infinite",
        _set(("points_scale", "axes", "age", "xbeta", 1), float("-inf")),
        "nomogram key 'points_scale.axes.age.xbeta[1]' must be a finite number, got -Infinity",
    ),
    (
        "coef-edited-not-the-scale",
        _set(("coef", "age"), lambda b: 2 * b),
        "nomogram key 'points_scale.axes.age.xbeta' disagrees with coef.age times points_scale.axes.age.values",
    ),
    (
        "means-edited-not-the-scale",
        _set(("means", "age"), lambda m: m + 1),
        "nomogram key 'points_scale.intercept' disagrees with minus the sum of coef times means",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [case[1:] for case in TAMPERED], ids=[case[0] for case in TAMPERED])
def test_tampered_nomogram_file_is_one_clear_error(nomogram_file, mutate, expected):
    data = json.loads(nomogram_file.read_text())
    times = data["baseline"]["times"]
    expected = expected.format(
        t3=f"{times[3]:g}",
        t4=f"{times[4]:g}",
        h4=f"{data['baseline']['cumhaz'][4]:g}",
        n_times=len(times),
        n_times_less_1=len(times) - 1,
    )
    mutate(data)
    nomogram_file.write_text(json.dumps(data))
    with pytest.raises(InputError) as err:
        CoxNomogram.load(nomogram_file)
    assert err.value.file == str(nomogram_file)
    assert str(err.value).startswith(f"{nomogram_file}: ")
    assert expected in str(err.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"format": ', "the nomogram file is not valid JSON (Expecting value: line 1 column 12 (char 11))"),
        ("[1, 2]", "not a survsig nomogram file: the JSON holds an array, not an object"),
        ("", "the nomogram file is not valid JSON"),
    ],
)
def test_nomogram_file_that_is_not_a_nomogram(tmp_path, text, expected):
    path = tmp_path / "nomogram.json"
    path.write_text(text)
    with pytest.raises(InputError, match="^" + str(path).replace("\\", "\\\\") + ": ") as err:
        CoxNomogram.load(path)
    assert expected in str(err.value)
    with pytest.raises(InputError, match="cannot read the nomogram file \\(No such file or directory\\)"):
        CoxNomogram.load(tmp_path / "absent.json")


def test_terms_refuse_unknown_kinds_and_binary_terms_without_labels():
    with pytest.raises(InputError, match="kind must be one of continuous, binary, got 'ordinal'"):
        Term("grade", "grade", "ordinal", "Grade")
    with pytest.raises(InputError, match="binary term 'ebv' needs its positive and negative labels"):
        Term("ebv", "ebv", "binary", "EBV", positive=("detectable",))


# --------------------------------------------------------------------------- new patients
def test_age_300_is_refused_naming_patient_row_and_column(nomogram):
    with pytest.raises(InputError) as err:
        score_new_patients(nomogram, new_sheet(age=[40.0, 300.0, 71.0]), file="new.tsv")
    assert (err.value.file, err.value.patient, err.value.row, err.value.column) == ("new.tsv", "B", 2, "age")
    assert str(err.value) == (
        "new.tsv, patient B, row 2, column 'age': 300 is refused: the nomogram scores age from 0 to 120 (the "
        "training range 25 to 80 widened by its width on each side, cut to the plausible 0 to 120); a typo or "
        "another unit?"
    )
    # without a file the patient says where
    with pytest.raises(InputError, match="^patient C, column 'age': -5 is refused"):
        score_new_patients(nomogram, new_sheet(age=[40.0, 62.0, -5.0]))


def test_accepted_range_is_the_training_range_widened_within_plausible_bounds(nomogram):
    assert nomogram.training_range_["age"] == (25.0, 80.0)
    assert accepted_range(nomogram, term_for("age")) == (0.0, 120.0)  # 25 - 55 and 80 + 55, cut to 0-120
    low, high = nomogram.training_range_["signature_petct"]
    width = high - low
    assert accepted_range(nomogram, term_for("signature_petct")) == (low - width, high + width)
    with pytest.raises(InputError, match="patient A, row 1, column 'signature_petct': 9.5 is refused") as err:
        score_new_patients(nomogram, new_sheet(signature_petct=[9.5, 0.0, 0.0]), file="new.tsv")
    assert "widened by its width on each side)" in str(err.value)  # no plausible bounds of its own
    assert 9.5 > high + width
    assert len(score_new_patients(nomogram, new_sheet(age=[0.0, 120.0, 71.0]))) == 3  # the bounds themselves score


def test_duplicate_and_missing_patient_ids_are_refused(nomogram):
    with pytest.raises(InputError) as err:
        score_new_patients(nomogram, new_sheet(patient_id=["A", "B", "A"]), file="new.tsv")
    assert (err.value.patient, err.value.row, err.value.column) == ("A", 3, "patient_id")
    assert "duplicate patient id (first in data row 1)" in str(err.value)
    with pytest.raises(InputError, match="^new.tsv, row 2, column 'patient_id': patient id is missing$"):
        score_new_patients(nomogram, new_sheet(patient_id=["A", None, "C"]), file="new.tsv")
    with pytest.raises(InputError, match="the sheet has no patients"):
        score_new_patients(nomogram, new_sheet().iloc[:0], file="new.tsv")


def test_values_outside_the_training_range_are_scored_and_flagged(nomogram, caplog):
    low, high = nomogram.training_range_["signature_petct"]
    sheet = new_sheet(age=[40.0, 90.0, 95.0], signature_petct=[0.0, 0.0, high + 1.0])
    with caplog.at_level(logging.WARNING, logger="survsig"):
        scored = score_new_patients(nomogram, sheet, file="new.tsv")
    assert scored[OUTSIDE_TRAINING_RANGE].tolist() == ["", "age", "age;signature_petct"]
    assert "2 patient(s) have values outside the training range" in caplog.text
    assert "first: patient B, age" in caplog.text
    # points extrapolate the axis linearly: 90 is 10 years past the axis' top at 80
    axis = nomogram.scale_["axes"]["age"]
    per_year = (axis["points"][-1] - axis["points"][0]) / (axis["values"][-1] - axis["values"][0])
    assert axis["values"][-1] == 80
    assert scored["points_age"].iloc[1] == pytest.approx(axis["points"][-1] + 10 * per_year, rel=1e-12)
    assert scored["points_age"].iloc[1] > max(axis["points"])


# --------------------------------------------------------------------------- follow-up
def test_survival_after_the_training_followup_is_nan(tmp_path, caplog):
    train = cohort(censor=(5.0, 30.0))  # nobody followed beyond 30 months
    short = CoxNomogram(TERMS, survival_times=(12, 24, 60), name="short").fit(train)
    assert short.max_followup_months_ == train["os_months"].max() < 30.02
    assert short.baseline_times_[-1] <= short.max_followup_months_
    with caplog.at_level(logging.WARNING, logger="survsig"):
        scored = score_new_patients(short, new_sheet())
    assert scored["survival_60m"].isna().all()
    for t in (12, 24):
        values = scored[f"survival_{t}m"].to_numpy()
        assert np.all((values > 0) & (values < 1))
    assert scored["survival_24m"].lt(scored["survival_12m"]).all()
    assert (
        f"survival at 60 months is left empty (NaN): the training data's follow-up ends at "
        f"{short.max_followup_months_:g} months"
    ) in caplog.text
    assert np.isnan(short.baseline_survival_[60.0]) and np.isnan(short.predict_survival(new_sheet(), [60])).all()
    # between the last death and the last follow-up the estimate stands (the step's last value)
    assert float(short.cumulative_hazard(short.max_followup_months_)) == short.baseline_cumhaz_[-1]

    # the file says null; scoring it writes an empty cell that reads back as NaN
    path = tmp_path / "short.json"
    short.save(path)
    assert json.loads(path.read_text())["baseline_survival"]["60"] is None
    sheet = write_sheet(tmp_path / "new.tsv", new_sheet())
    written = score_new_patients_file(path, sheet, tmp_path / "scores.tsv")
    table = pd.read_csv(tmp_path / "scores.tsv", sep="\t")
    assert table["survival_60m"].isna().all() and not table["survival_12m"].isna().any()
    np.testing.assert_allclose(table["survival_12m"], written["survival_12m"], rtol=1e-9)
    # an older file without max_followup_months stops at the last death time, even with a stored value
    data = json.loads(path.read_text())
    del data["max_followup_months"]
    data["baseline_survival"]["60"] = math.exp(-data["baseline"]["cumhaz"][-1])
    old = CoxNomogram.from_dict(copy.deepcopy(data), file="old.json")
    assert old.max_followup_months_ == short.baseline_times_[-1]
    assert np.isnan(old.baseline_survival_[60.0])
    assert score_new_patients(old, new_sheet())["survival_60m"].isna().all()


# --------------------------------------------------------------------------- paths
def score_cli(nomogram_path, sheet_path, output, capsys):
    """``survsig score`` in this process: (exit status, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main(["score", str(nomogram_path), str(sheet_path), "-o", str(output)])
    return exit_info.value.code, capsys.readouterr().err


BAD_INPUTS = {
    "nomogram FIFO": ("nomogram", "fifo", "cannot read the nomogram file: it is a named pipe (FIFO), not a regular"),
    "sheet FIFO": ("sheet", "fifo", "cannot read the sheet of new patients: it is a named pipe (FIFO), not a regular"),
    "nomogram /dev/zero": ("nomogram", "/dev/zero", "cannot read the nomogram file: it is a character device"),
    "sheet /dev/zero": ("sheet", "/dev/zero", "cannot read the sheet of new patients: it is a character device"),
    "nomogram folder": ("nomogram", "folder", "cannot read the nomogram file: it is a folder, not a regular file"),
    "sheet folder": ("sheet", "folder", "cannot read the sheet of new patients: it is a folder, not a regular file"),
    "sheet missing parent": (
        "sheet",
        "absent/new.tsv",
        "cannot read the sheet of new patients (No such file or directory)",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_cli_refuses_pipes_devices_and_folders_as_inputs(nomogram_file, tmp_path, capsys, deadline, case):
    which, kind, expected = BAD_INPUTS[case]
    inputs = {"nomogram": nomogram_file, "sheet": write_sheet(tmp_path / "new.tsv", new_sheet())}
    if kind == "fifo":
        inputs[which] = tmp_path / "pipe"
        os.mkfifo(inputs[which])
    elif kind == "folder":
        inputs[which] = tmp_path / "folder"
        inputs[which].mkdir()
    else:
        inputs[which] = Path(kind) if kind.startswith("/") else tmp_path / kind
    out = tmp_path / "out" / "scores.tsv"
    code, err = score_cli(inputs["nomogram"], inputs["sheet"], out, capsys)
    assert code == 2
    assert err.startswith(f"survsig score: {inputs[which]}: {expected}") and err.count("\n") == 1, err
    assert not out.parent.exists()


def test_cli_with_a_fifo_sheet_exits_2_without_waiting(nomogram_file, tmp_path):
    pipe = tmp_path / "new.tsv"
    os.mkfifo(pipe)
    result = subprocess.run(
        [SURVSIG, "score", str(nomogram_file), str(pipe), "-o", str(tmp_path / "scores.tsv")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"survsig score: {pipe}: cannot read the sheet of new patients: it is a named pipe")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["integrated.json", "new.tsv"]


BAD_OUTPUTS = {
    "empty": (lambda tmp, sheet, nomogram: "", "survsig score: no path given for the output (the name is empty)"),
    "folder": (lambda tmp, sheet, nomogram: tmp, "survsig score: {out}: cannot write the output: it is a folder"),
    "/proc": (
        lambda tmp, sheet, nomogram: "/proc/x",
        "survsig score: cannot write /proc/x (No such file or directory)",
    ),
    "under a file": (
        lambda tmp, sheet, nomogram: sheet / "scores.tsv",
        "survsig score: {out}: cannot write the output (Not a directory)",
    ),
    "the sheet": (
        lambda tmp, sheet, nomogram: sheet,
        "survsig score: {out}: cannot write the output: it is the input {sheet}, which writing would overwrite",
    ),
    "the nomogram by another name": (
        lambda tmp, sheet, nomogram: tmp / ".." / tmp.name / nomogram.name,
        "survsig score: {out}: cannot write the output: it is the input {nomogram}, which writing would overwrite",
    ),
}


@pytest.mark.parametrize("case", list(BAD_OUTPUTS))
def test_cli_refuses_outputs_it_cannot_or_must_not_write(nomogram_file, tmp_path, capsys, case):
    sheet = write_sheet(tmp_path / "new.tsv", new_sheet())
    before = {p: p.read_bytes() for p in (sheet, nomogram_file)}
    output, expected = BAD_OUTPUTS[case]
    out = output(tmp_path, sheet, nomogram_file)
    code, err = score_cli(nomogram_file, sheet, out, capsys)
    assert code == 2
    assert err.startswith(expected.format(out=out, sheet=sheet, nomogram=nomogram_file)), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert {p: p.read_bytes() for p in before} == before  # the inputs are untouched
    assert sorted(tmp_path.iterdir()) == sorted([sheet, nomogram_file])  # nothing written, no temporary left


@pytest.mark.parametrize(
    ("code", "expected"), [(errno.EROFS, "the file system is read-only"), (errno.ENOSPC, "the disk is full")]
)
def test_cli_names_the_output_when_the_disk_refuses_it(nomogram_file, tmp_path, capsys, monkeypatch, code, expected):
    import tempfile

    def refuse(*, dir, prefix, suffix):  # noqa: A002 - mkstemp's own argument names
        raise OSError(code, os.strerror(code), os.path.join(dir, prefix + "k1ll3d_9" + suffix))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    sheet = write_sheet(tmp_path / "new.tsv", new_sheet())
    out = tmp_path / "scores.tsv"
    status, err = score_cli(nomogram_file, sheet, out, capsys)
    assert status == 1
    assert err == f"survsig score: cannot write {out}: {expected} ({os.strerror(code)})\n"
    assert not out.exists()


# --------------------------------------------------------------------------- absurd numbers and nesting
def crafted(nomogram, **coefs) -> CoxNomogram:
    """A copy of ``nomogram`` with other coefficients and the points scale they give: a
    file consistent in every key, as someone who edits it with care would write it."""
    model = copy.deepcopy(nomogram)
    for name, value in coefs.items():
        model.coef_[name] = value
    values = {name: model.scale_["axes"][name]["values"] for name in model.term_names}
    center = float(model.means_.to_numpy() @ model.coef_.to_numpy())
    model.scale_ = points_scale(model.coef_.to_dict(), values, center=center, lp_range=model.lp_range_)
    return model


@pytest.mark.parametrize("coef", [1e308, -1e308])
def test_a_coefficient_of_1e308_is_refused(nomogram, nomogram_file, tmp_path, capsys, coef):
    sheet = write_sheet(tmp_path / "new.tsv", new_sheet())
    out = tmp_path / "scores.tsv"
    # a consistent file: rT_stage is 0 or 1, so its axis and points stay finite
    crafted(nomogram, rT_stage=coef).save(nomogram_file)
    status, err = score_cli(nomogram_file, sheet, out, capsys)
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(
        f"survsig score: {nomogram_file}: nomogram key 'coef.rT_stage' ({coef:g}) gives the patients the nomogram "
        f"scores a linear predictor beyond +-{MAX_ABS_LP:g}"
    ), err
    assert not out.exists()
    # an edit of one number: age's axis would reach inf, which no check may take as equal to inf
    nomogram.save(nomogram_file)
    data = json.loads(nomogram_file.read_text())
    data["coef"]["age"] = coef
    nomogram_file.write_text(json.dumps(data))
    status, err = score_cli(nomogram_file, sheet, out, capsys)
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(
        f"survsig score: {nomogram_file}: nomogram key 'points_scale.axes.age.xbeta' cannot be checked: "
        f"coef.age times points_scale.axes.age.values is not finite ({math.copysign(math.inf, coef)!r})"
    ), err
    assert not out.exists()


def test_the_linear_predictor_bound_holds_for_every_value_scoring_accepts(nomogram, tmp_path):
    """Just inside the bound a file loads and its most extreme patients score a finite lp
    within +-MAX_ABS_LP; just outside it is refused."""
    others = {
        t.name: float(np.abs(nomogram.coef_[t.name] * (scored_extremes(nomogram, t) - nomogram.means_[t.name])).max())
        for t in nomogram.terms
        if t.name != "signature_petct"
    }
    signature = term_for("signature_petct")
    spread = float(np.abs(scored_extremes(nomogram, signature) - nomogram.means_["signature_petct"]).max())
    path = tmp_path / "edge.json"
    limit = (MAX_ABS_LP - sum(others.values())) / spread
    crafted(nomogram, signature_petct=0.999 * limit).save(path)
    edge = CoxNomogram.load(path)
    corners = []
    for age in accepted_range(edge, term_for("age")):
        for stage in ("T1", "T4"):
            for value in accepted_range(edge, signature):
                corners.append({"age": age, "rT_stage": stage, "signature_petct": value})
    sheet = pd.DataFrame(corners).assign(patient_id=[f"P{i}" for i in range(len(corners))])
    scored = score_new_patients(edge, sheet)
    assert np.isfinite(scored["lp"]).all() and np.abs(scored["lp"]).max() <= MAX_ABS_LP
    assert np.abs(scored["lp"]).max() > 0.99 * MAX_ABS_LP  # the corners reach the bound: it is not loose
    assert np.isfinite(scored[[c for c in scored.columns if c.startswith(("points_", "survival_"))]]).all().all()
    crafted(nomogram, signature_petct=1.001 * limit).save(path)
    with pytest.raises(InputError, match=r"nomogram key 'coef.signature_petct' .* beyond \+-100"):
        CoxNomogram.load(path)


def test_a_baseline_hazard_beyond_its_bound_is_refused(nomogram, nomogram_file):
    data = json.loads(nomogram_file.read_text())
    data["baseline"]["cumhaz"][-1] = 1e300
    nomogram_file.write_text(json.dumps(data))
    with pytest.raises(
        InputError, match=r"nomogram key 'baseline.cumhaz\[\d+\]' must be at most [\d.e+]+, got 1e\+300"
    ):
        CoxNomogram.load(nomogram_file)


def test_a_nomogram_nested_100000_deep_is_one_line(nomogram_file, tmp_path, capsys):
    nomogram_file.write_text('{"format": ' + "[" * 100_000 + "]" * 100_000 + "}")
    sheet = write_sheet(tmp_path / "new.tsv", new_sheet())
    status, err = score_cli(nomogram_file, sheet, tmp_path / "scores.tsv", capsys)
    assert status == 2
    assert err == (
        f"survsig score: {nomogram_file}: the nomogram file nests arrays and objects more than 64 deep: "
        "not a file of this workflow\n"
    )
