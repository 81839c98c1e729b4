"""Decision curves at the horizon (survsig.statistics.decision, rule ``decision_curve``): the net benefit
against the formula with lifelines' Kaplan-Meier, the reference strategies, bad input, and
the rule's script."""

import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from survsig.core.errors import InputError
from survsig.core.figures import save_figure
from survsig.statistics.decision import COLUMNS, decision_curve, decision_curve_figure, threshold_grid
from survsig.statistics.nomogram import CoxNomogram

REPO = Path(__file__).resolve().parents[2]
HORIZON = 36.0
THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.05), 2)

# 14 patients: deaths and censorings before and after 36 months, a death exactly at 36,
# tied times; two models' risks of death by 36 months, with ties and the bounds 0 and 1
TIME = np.array([3.0, 7.5, 12.0, 12.0, 20.0, 24.0, 30.0, 36.0, 40.0, 44.0, 52.0, 60.0, 66.0, 75.0])
EVENT = np.array([1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 0, 0])
RISKS = {
    "clinical": np.array([0.9, 0.35, 0.7, 0.55, 0.2, 0.6, 0.45, 0.5, 0.65, 0.3, 0.25, 0.4, 0.1, 0.0]),
    "integrated": np.array([1.0, 0.2, 0.85, 0.85, 0.3, 0.75, 0.6, 0.7, 0.8, 0.15, 0.05, 0.5, 0.1, 0.2]),
}


def net_benefit_by_hand(time, event, risk, pt, horizon=HORIZON):
    """(NB, test-positive rate, tp rate, fp rate) with lifelines' Kaplan-Meier."""
    positive = risk >= pt
    rate = positive.mean()
    if not positive.any():
        return 0.0, 0.0, 0.0, 0.0
    km = KaplanMeierFitter().fit(time[positive], event[positive])
    s = float(km.survival_function_at_times(horizon).iloc[0])
    return (1 - s) * rate - s * rate * pt / (1 - pt), rate, (1 - s) * rate, s * rate


def curve(table, model, column="net_benefit"):
    return table.loc[table["model"] == model, column].to_numpy()


def test_net_benefit_is_the_formula_with_kaplan_meier():
    table = decision_curve(TIME, EVENT, RISKS, horizon=HORIZON, thresholds=THRESHOLDS)
    assert list(table.columns) == COLUMNS
    assert list(dict.fromkeys(table["model"])) == ["clinical", "integrated", "all", "none"]
    assert (table["horizon_months"] == HORIZON).all()
    for model in ("clinical", "integrated", "all"):
        part = table[table["model"] == model]
        np.testing.assert_array_equal(part["threshold"], THRESHOLDS)
        risk = np.ones(len(TIME)) if model == "all" else RISKS[model]
        expected = np.array([net_benefit_by_hand(TIME, EVENT, risk, pt) for pt in THRESHOLDS])
        for k, column in enumerate(("net_benefit", "test_pos_rate", "tp_rate", "fp_rate")):
            np.testing.assert_allclose(part[column], expected[:, k], rtol=0, atol=1e-12, err_msg=f"{model} {column}")
    # treat all: everyone, KM of the whole cohort; treat none: 0
    km = KaplanMeierFitter().fit(TIME, EVENT)
    s = float(km.survival_function_at_times(HORIZON).iloc[0])
    np.testing.assert_allclose(curve(table, "all"), (1 - s) - s * THRESHOLDS / (1 - THRESHOLDS), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(curve(table, "all", "test_pos_rate"), 1.0)
    for column in ("net_benefit", "test_pos_rate", "tp_rate", "fp_rate"):
        np.testing.assert_array_equal(curve(table, "none", column), 0.0)
    # the rule's check of its own arithmetic
    nb = table["tp_rate"] - table["fp_rate"] * table["threshold"] / (1 - table["threshold"])
    np.testing.assert_allclose(table["net_benefit"], nb, rtol=0, atol=1e-15)


def test_perfect_predictor_dominates_treat_all():
    # no censoring before the horizon: who dies by 36 months is known
    time = np.array([2.0, 5.0, 9.0, 14.0, 21.0, 30.0, 40.0, 48.0, 50.0, 61.0, 70.0, 72.0])
    event = np.array([1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 1, 0])
    dead = ((time <= HORIZON) & (event == 1)).astype(float)
    thresholds = threshold_grid({"from": 0.01, "to": 0.99, "by": 0.01})
    table = decision_curve(
        time, event, {"perfect": dead, "useless": np.full(12, 0.5)}, horizon=HORIZON, thresholds=thresholds
    )
    perfect, treat_all = curve(table, "perfect"), curve(table, "all")
    # the test positives all die before the horizon: dcurves leaves these NaN, we fill S = 0
    np.testing.assert_allclose(perfect, dead.mean(), rtol=0, atol=1e-12)
    assert (perfect > treat_all).all() and (perfect > 0).all()
    np.testing.assert_allclose(treat_all[0], dead.mean() - (1 - dead.mean()) * 0.01 / 0.99, rtol=0, atol=1e-12)
    # a constant risk is treat all below it and treat none above it
    useless = curve(table, "useless")
    np.testing.assert_allclose(useless[thresholds <= 0.5], treat_all[thresholds <= 0.5], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(useless[thresholds > 0.5], 0.0)


def test_follow_up_ending_censored_before_the_horizon_leaves_a_gap():
    # the two highest risks: one death at 3 months and one censored at 10 months
    time = np.array([3.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
    event = np.array([1, 0, 1, 0, 1, 0, 0])
    risk = np.array([0.9, 0.8, 0.5, 0.4, 0.3, 0.2, 0.1])
    table = decision_curve(time, event, {"clinical": risk}, horizon=HORIZON, thresholds=[0.5, 0.7, 0.85, 0.95])
    nb = curve(table, "clinical")
    assert np.isfinite(nb[0])  # follow-up of the test positives reaches 36 months
    assert np.isnan(nb[1])  # last one followed censored at 10 months: S(36) unknown
    np.testing.assert_allclose(nb[2], 1 / 7, rtol=0, atol=1e-15)  # only the death at 3 months
    assert nb[3] == 0.0  # nobody test positive


def test_threshold_grid():
    grid = threshold_grid({"from": 0.01, "to": 0.99, "by": 0.01})
    assert len(grid) == 99 and grid[0] == 0.01 and grid[-1] == 0.99 and grid[6] == 0.07
    np.testing.assert_array_equal(threshold_grid({"from": 0.1, "to": 0.45, "by": 0.1}), [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(InputError, match="decision_thresholds"):
        threshold_grid({"from": 0.5, "to": 0.2, "by": 0.1})


def bad(**changes):
    args = {
        "time": TIME.copy(),
        "event": EVENT.copy(),
        "risks": {k: v.copy() for k, v in RISKS.items()},
        "horizon": HORIZON,
        "thresholds": THRESHOLDS,
    }
    args.update(changes)
    return args


def with_risk(model, index, value, *, ids=False):
    risks = {k: v.copy() for k, v in RISKS.items()}
    risks[model][index] = value
    if ids:
        risks[model] = pd.Series(risks[model], index=[f"P{i:02d}" for i in range(len(TIME))])
    return risks


@pytest.mark.parametrize(
    "args, message",
    [
        (
            bad(risks=with_risk("integrated", 4, 1.2, ids=True)),
            r"^patient P04, column 'integrated': predicted risk of death by 36 months is 1\.2, not a probability",
        ),
        (
            bad(risks=with_risk("clinical", 2, -0.1)),
            r"^column 'clinical': predicted risk of death by 36 months is -0\.1, not a probability in \[0, 1\] "
            r"\(patient 3 of 14\)",
        ),
        (bad(risks=with_risk("clinical", 5, np.nan, ids=True)), r"patient P05, column 'clinical': .* nan, not a"),
        (bad(risks={"clinical": RISKS["clinical"][:5]}), r"column 'clinical': 5 predicted risks for 14 patients"),
        (bad(risks={"all": RISKS["clinical"]}), r"column 'all': a model may not be named 'all'"),
        (bad(risks={}), "no model to evaluate"),
        (bad(thresholds=[0.0, 0.5]), r"decision threshold 0\.0 is not strictly between 0 and 1"),
        (bad(thresholds=[0.5, 1.0]), r"decision threshold 1\.0 is not strictly between 0 and 1"),
        (bad(thresholds=[0.2, 1.5]), r"decision threshold 1\.5 is not"),
        (bad(thresholds=[0.5, 0.2]), "strictly increasing"),
        (bad(thresholds=[]), "non-empty"),
        (
            bad(event=np.where(TIME <= HORIZON, 0, EVENT)),
            r"column 'os_event': no death by the horizon \(36 months\) among 14 patients",
        ),
        (bad(time=np.minimum(TIME, 30.0)), r"column 'os_months': follow-up ends at 30 months, before the horizon"),
        (
            bad(time=pd.Series(np.r_[-1.0, TIME[1:]], index=[f"P{i:02d}" for i in range(14)])),
            r"patient P00, column 'os_months': negative survival time -1",
        ),
        (bad(event=np.r_[2, EVENT[1:]]), r"events must be 0 \(censored\) or 1 \(death\)"),
        (bad(horizon=0), "the horizon must be a positive number"),
    ],
)
def test_bad_input_raises_one_input_error(args, message):
    with pytest.raises(InputError, match=message):
        decision_curve(args.pop("time"), args.pop("event"), args.pop("risks"), **args)


def test_figure_is_written(tmp_path):
    table = decision_curve(
        TIME, EVENT, RISKS, horizon=HORIZON, thresholds=threshold_grid({"from": 0.01, "to": 0.99, "by": 0.01})
    )
    png, pdf = tmp_path / "dca.png", tmp_path / "dca.pdf"
    save_figure(decision_curve_figure(table, title="Decision curves, test set"), png, pdf, dpi=80)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    again = tmp_path / "again.png"
    save_figure(decision_curve_figure(table, title="Decision curves, test set"), again, None, dpi=80)
    assert again.read_bytes() == png.read_bytes()


# --------------------------------------------------------------------------- the rule's script
def cohort(n=120, seed=3):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "patient_id": [f"P{i:03d}" for i in range(n)],
            "split": np.where(np.arange(n) % 5 < 3, "train", "test"),
            "age": rng.normal(55, 10, n).round().clip(25, 80),
            "rT_stage": rng.choice(["T1", "T2", "T3", "T4"], n),
            "signature_petct": rng.normal(size=n),
        }
    )
    lp = 0.04 * (frame["age"] - 55) + 0.9 * frame["rT_stage"].isin(["T3", "T4"]) + 0.8 * frame["signature_petct"]
    event_time = rng.exponential(40 * np.exp(-lp))
    censor_time = rng.uniform(20, 90, n)
    frame["os_months"] = np.minimum(event_time, censor_time).round(2) + 0.01
    frame["os_event"] = (event_time <= censor_time).astype(int)
    return frame


@pytest.fixture(scope="module")
def rule_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nomograms")
    frame = cohort()
    paths = {}
    for name, terms in (("clinical", ["age", "rT_stage"]), ("integrated", ["age", "rT_stage", "signature_petct"])):
        nomogram = CoxNomogram(terms, name=name).fit(frame[frame["split"] == "train"])
        nomogram.save(folder / f"{name}.json")
        scores = frame[["patient_id", "split", "os_months", "os_event"]].assign(lp=nomogram.points(frame)["lp"])
        scores.to_csv(folder / f"{name}_scores.tsv", sep="\t", index=False)
        paths[name] = (folder / f"{name}.json", folder / f"{name}_scores.tsv", nomogram)
    return frame, paths


def run_rule_script(paths, out: Path, split="test", scores=None):
    names = list(paths)
    snakemake = SimpleNamespace(
        input=SimpleNamespace(
            nomograms=[str(paths[n][0]) for n in names], scores=[str(scores or paths[n][1]) for n in names]
        ),
        output=SimpleNamespace(
            tsv=str(out / "decision_curve.tsv"),
            png=str(out / "decision_curve.png"),
            pdf=str(out / "decision_curve.pdf"),
        ),
        params=SimpleNamespace(
            evaluate={"horizon_months": 36, "decision_thresholds": {"from": 0.01, "to": 0.99, "by": 0.01}},
            nomograms=names,
            figures={"dpi": 80},
        ),
        wildcards=SimpleNamespace(split=split),
        log=[str(out / "decision_curve.log")],
    )
    runpy.run_path(
        str(REPO / "workflow" / "scripts" / "statistics" / "decision_curve.py"), init_globals={"snakemake": snakemake}
    )


def test_rule_script_writes_the_table_and_the_figure(rule_inputs, tmp_path):
    frame, paths = rule_inputs
    run_rule_script(paths, tmp_path)
    table = pd.read_csv(tmp_path / "decision_curve.tsv", sep="\t")
    assert list(table.columns) == ["split", *COLUMNS]
    assert (table["split"] == "test").all()
    assert list(dict.fromkeys(table["model"])) == ["clinical", "integrated", "all", "none"]
    assert len(table) == 4 * 99
    assert (tmp_path / "decision_curve.png").stat().st_size > 0
    assert (tmp_path / "decision_curve.pdf").stat().st_size > 0
    # the risks are 1 - S(36 | patient) of each nomogram on the test set
    test = frame[frame["split"] == "test"]
    nomogram = paths["integrated"][2]
    risk = 1 - nomogram.survival_at(nomogram.points(test)["lp"], 36)
    expected = [
        net_benefit_by_hand(test["os_months"].to_numpy(), test["os_event"].to_numpy(), risk, pt)[0]
        for pt in (0.1, 0.3, 0.5)
    ]
    part = table[table["model"] == "integrated"].set_index("threshold")
    np.testing.assert_allclose(part.loc[[0.1, 0.3, 0.5], "net_benefit"], expected, rtol=1e-5, atol=1e-6)


def test_rule_script_stops_on_bad_input_and_writes_nothing(rule_inputs, tmp_path):
    frame, paths = rule_inputs
    scores = frame[["patient_id", "split", "os_months", "os_event"]].assign(lp=0.0)
    scores.loc[scores["split"] == "test", "os_event"] = 0  # no death in the test set
    bad_scores = tmp_path / "bad_scores.tsv"
    scores.to_csv(bad_scores, sep="\t", index=False)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(SystemExit) as stop:
        run_rule_script(paths, out, scores=bad_scores)
    assert stop.value.code == 1
    assert sorted(p.name for p in out.iterdir()) == ["decision_curve.log"]
    log = (out / "decision_curve.log").read_text()
    assert "no death by the horizon (36 months)" in log
    assert log.count("ERROR") == 1
