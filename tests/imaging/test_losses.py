"""The DeepSurv loss equals R survival's Cox partial log-likelihood (coxph, lung data)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from lifelines import CoxPHFitter

from survsig.imaging.losses import cox_partial_nll

COVARIATES = ["age", "sex", "ph.ecog"]


@pytest.fixture
def lung(shared_dir):
    data = pd.read_csv(shared_dir / "reference/R/data/lung.csv")
    data = data.dropna(subset=["time", "status", *COVARIATES]).reset_index(drop=True)
    reference = json.loads((shared_dir / "reference/R/out/lung_cox.json").read_text())
    return data, reference


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_partial_loglik_equals_r_coxph(lung, ties):
    """Mirrors coxph(Surv(time, status) ~ age + sex + ph.ecog, ties=...) fit$loglik."""
    data, reference = lung
    fit = reference[ties]
    beta = np.array([fit["coef"][c] for c in COVARIATES])
    lp = torch.tensor(data[COVARIATES].to_numpy(float) @ beta)
    event = torch.tensor(data["status"].to_numpy())
    time = torch.tensor(data["time"].to_numpy(float))
    loss = cox_partial_nll(lp, event, time, ties=ties, reduction="sum")
    assert loss.item() == pytest.approx(-fit["loglik_model"], abs=1e-8)
    null = cox_partial_nll(torch.zeros_like(lp), event, time, ties=ties, reduction="sum")
    assert null.item() == pytest.approx(-fit["loglik_null"], abs=1e-8)
    mean = cox_partial_nll(lp, event, time, ties=ties)
    assert mean.item() == pytest.approx(loss.item() / fit["nevent"], rel=1e-12)


def test_gradient_vanishes_at_the_fitted_coefficients(lung):
    """At R's Efron estimate the score is zero: autograd through the loss agrees."""
    data, reference = lung
    beta = torch.tensor([reference["efron"]["coef"][c] for c in COVARIATES], dtype=torch.float64, requires_grad=True)
    x = torch.tensor(data[COVARIATES].to_numpy(float))
    loss = cox_partial_nll(
        x @ beta, torch.tensor(data["status"].to_numpy()), torch.tensor(data["time"].to_numpy(float)), reduction="sum"
    )
    loss.backward()
    assert np.abs(beta.grad.numpy()).max() < 1e-6


def test_efron_equals_lifelines_with_many_ties():
    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame(
        {"x": rng.normal(size=n), "time": rng.integers(1, 8, size=n), "event": rng.integers(0, 2, size=n)}
    )
    fitter = CoxPHFitter().fit(frame, "time", "event")  # lifelines uses Efron ties
    lp = torch.tensor(frame[["x"]].to_numpy(float) @ fitter.params_.to_numpy())
    loss = cox_partial_nll(
        lp, torch.tensor(frame.event.to_numpy()), torch.tensor(frame.time.to_numpy(float)), reduction="sum"
    )
    # lifelines reports its log-likelihood at its last Newton step, within ~1e-7 of the optimum
    assert loss.item() == pytest.approx(-fitter.log_likelihood_, abs=1e-6)


def test_no_events_gives_zero_and_order_does_not_matter():
    lp = torch.tensor([0.3, -1.0, 2.0, 0.5], requires_grad=True)
    time = torch.tensor([5.0, 3.0, 3.0, 1.0])
    assert cox_partial_nll(lp, torch.zeros(4), time).item() == 0.0
    event = torch.tensor([1, 1, 1, 0])
    perm = torch.tensor([2, 0, 3, 1])
    a = cox_partial_nll(lp, event, time)
    b = cox_partial_nll(lp[perm], event[perm], time[perm])
    assert a.item() == pytest.approx(b.item(), abs=1e-12)
    with pytest.raises(ValueError, match="ties"):
        cox_partial_nll(lp, event, time, ties="exact")
