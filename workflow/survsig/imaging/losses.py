"""Survival losses for neural networks (DeepSurv): plain functions of tensors."""

from __future__ import annotations

import torch


def cox_partial_nll(log_hazard, event, time, *, ties="efron", reduction="mean"):
    """Negative Cox partial log-likelihood of predicted log hazards (the DeepSurv loss).

    Parameters
    ----------
    log_hazard : torch.Tensor
        (n,) or (n, 1) predicted log hazard (risk score; higher = higher risk).
    event : torch.Tensor
        (n,) 1 for an observed death, 0 for censoring.
    time : torch.Tensor
        (n,) follow-up time (any unit; only the order matters).
    ties : {"efron", "breslow"}
        Handling of tied event times, as R's ``coxph(ties=...)``.
    reduction : {"mean", "sum"}
        ``sum`` is minus the partial log-likelihood (R's ``fit$loglik``); ``mean``
        divides it by the number of events, so the scale does not grow with the batch.

    Returns
    -------
    torch.Tensor
        Scalar loss. With no event in the batch it is 0 (and keeps the graph).
    """
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    eta = log_hazard.reshape(-1)
    event = event.reshape(-1).to(torch.bool)
    time = time.reshape(-1).to(eta.dtype)
    n_events = event.sum()
    if n_events == 0:
        return eta.sum() * 0.0

    # work in float64: the log-sum over risk sets loses precision in half precision
    eta64 = eta.double()
    shift = eta64.max().detach()
    weight = torch.exp(eta64 - shift)
    event_time = time[event].double()
    at_risk = time.double()[None, :] >= event_time[:, None]  # (events, n)
    risk_sum = (at_risk * weight[None, :]).sum(dim=1)
    if ties == "efron":
        event_weight = weight[event]
        tied = event_time[None, :] == event_time[:, None]  # (events, events)
        tie_sum = (tied * event_weight[None, :]).sum(dim=1)
        tie_count = tied.sum(dim=1)
        # rank of each event within its tie group: Efron removes l/d of the group's weight
        rank = torch.tril(tied, diagonal=-1).sum(dim=1)
        risk_sum = risk_sum - rank / tie_count * tie_sum
    log_likelihood = (eta64[event] - shift - torch.log(risk_sum)).sum()
    loss = -log_likelihood
    if reduction == "mean":
        loss = loss / n_events
    return loss.to(eta.dtype)
