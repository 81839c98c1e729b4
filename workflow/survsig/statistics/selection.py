"""Term selection of the nomograms: a univariable p filter, then backward AIC.

:func:`select_terms` picks the clinical factors and SUV columns of the nomograms on the
training set: those with a univariable Wald p below a threshold enter a multivariable Cox
model reduced by :func:`backward_aic` (R's ``step()``). :func:`selection_table` shows the
selection for people, and :func:`nomogram_term_names` gives each nomogram's terms from it.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from survsig.core import columns as col
from survsig.core.errors import InputError
from survsig.core.vocabulary import SIGNATURE_NOMOGRAMS
from survsig.statistics.terms import CLINICAL_TERMS, SIGNATURE_PREFIX, design_matrix, term_for
from survsig.survival.cox import fit_cox

log = logging.getLogger(__name__)

TRAIN, TEST = col.SPLIT_LEVELS


# --------------------------------------------------------------------------- selection
def backward_aic(time, event, X: pd.DataFrame, *, keep=(), min_terms=1, ties="efron", what="the training set"):
    """Backward elimination by AIC, as R's ``step(fit, direction = "backward")``.

    At each step every droppable term is removed in turn; the removal giving the
    lowest AIC is made if that AIC is below the current model's (on equal AIC the
    model is kept, and among equal removals the first term in column order goes, as
    R's ``order()`` ranks ``drop1()``'s rows). Stops when no removal lowers the AIC.

    Parameters
    ----------
    time, event : array_like
        Survival time (months) and event indicator.
    X : pandas.DataFrame
        Candidate terms (columns).
    keep : sequence of str
        Terms never dropped (R's ``scope = list(lower = ...)``).
    min_terms : int, default 1
        Never drop below this many terms. R's ``step()`` may drop every term (the null
        model); a nomogram needs at least one, so by default the last term stays.
    ties : {"efron", "breslow"}

    Returns
    -------
    (list of str, pandas.DataFrame)
        Selected terms in column order, and the trace: one row per step with
        ``step`` (``""`` for the start, ``"- term"``), ``terms`` and ``aic``.
    """
    current = list(X.columns)
    fit = fit_cox(time, event, X[current], ties=ties, what=what)
    aic = fit.aic
    trace = [{"step": "", "terms": " + ".join(current), "aic": aic}]
    while True:
        droppable = [t for t in current if t not in keep]
        if not droppable or len(current) <= min_terms:
            break
        candidates = []
        for term in droppable:
            rest = [t for t in current if t != term]
            candidates.append((fit_cox(time, event, X[rest], ties=ties, what=what).aic, term))
        best_aic = min(a for a, _ in candidates)
        if not best_aic < aic:
            break
        term = next(t for a, t in candidates if a == best_aic)
        current.remove(term)
        aic = best_aic
        trace.append({"step": f"- {term}", "terms": " + ".join(current), "aic": aic})
    return current, pd.DataFrame(trace, columns=["step", "terms", "aic"])


def select_terms(frame: pd.DataFrame, *, clinical_factors, p_threshold=0.05, ties="efron", use_suv=True) -> dict:
    """Pick the clinical factors and SUV columns of the nomograms on the training set.

    Clinical factors with a univariable Wald p below ``p_threshold`` on the training
    set enter a multivariable Cox model reduced by :func:`backward_aic`. SUV columns
    are picked the same way, their backward step starting from the picked clinical
    factors plus the significant SUV columns, with the clinical factors kept.

    Fallbacks (logged and recorded under ``notes``): when no clinical factor passes the
    p filter, the one with the smallest p is used alone; when no SUV column passes,
    (or the sheet has none, or ``use_suv`` is false) the SUV nomograms get no SUV term.

    Returns
    -------
    dict
        ``clinical`` and ``suv`` (lists of term names), ``univariable`` (name -> p on
        the training set), ``clinical_trace`` / ``suv_trace`` (records of the backward
        steps), ``p_threshold``, ``ties`` and ``notes``.
    """
    train = frame[frame[col.SPLIT] == TRAIN]
    time, event = train[col.OS_MONTHS].to_numpy(float), train[col.OS_EVENT].to_numpy(int)
    notes = []
    univariable = {}

    def p_values(names):
        out = {}
        for name in names:
            term = term_for(name)
            try:
                fit = fit_cox(time, event, design_matrix(train, [term]), ties=ties, what="the training set")
                out[name] = float(fit.summary()["p_value"].iloc[0]) if fit.converged else float("nan")
            except InputError as err:
                if "no events" in err.reason:
                    raise
                log.warning("selection: %s left out: %s", name, err.reason)
                out[name] = float("nan")
        return out

    factors = [f for f in clinical_factors if CLINICAL_TERMS[f].source in frame.columns]
    if not factors:
        raise InputError("no clinical factor of nomogram.clinical_factors is in the clinical sheet")
    clinical_p = p_values(factors)
    univariable.update(clinical_p)
    candidates = [f for f in factors if clinical_p[f] < p_threshold]
    if not candidates:
        finite = {f: p for f, p in clinical_p.items() if np.isfinite(p)}
        if not finite:
            raise InputError("no clinical factor can be fitted on the training set")
        best = min(finite, key=finite.get)
        notes.append(f"no clinical factor had univariable p < {p_threshold:g}; using the smallest-p factor {best}")
        log.warning("selection: %s", notes[-1])
        candidates = [best]
    X = design_matrix(train, [term_for(f) for f in candidates])
    clinical, clinical_trace = backward_aic(time, event, X, ties=ties)

    suv_columns = [c for c in col.SUV_COLUMNS if c in frame.columns] if use_suv else []
    suv, suv_trace = [], pd.DataFrame(columns=["step", "terms", "aic"])
    if suv_columns:
        suv_p = p_values(suv_columns)
        univariable.update(suv_p)
        suv_candidates = [c for c in suv_columns if suv_p[c] < p_threshold]
        if suv_candidates:
            X = design_matrix(train, [term_for(t) for t in (*clinical, *suv_candidates)])
            kept, suv_trace = backward_aic(time, event, X, keep=clinical, ties=ties)
            suv = [t for t in kept if t in suv_candidates]
        if not suv:
            notes.append("no SUV column was selected; the SUV nomograms equal those without SUV")
            log.warning("selection: %s", notes[-1])
    else:
        notes.append("no SUV column is used; the SUV nomograms equal those without SUV")
    log.info("selected clinical factors: %s; SUV: %s", ", ".join(clinical), ", ".join(suv) or "none")
    return {
        "clinical": clinical,
        "suv": suv,
        "univariable_p": univariable,
        "p_threshold": p_threshold,
        "ties": ties,
        "clinical_trace": clinical_trace.to_dict("records"),
        "suv_trace": suv_trace.to_dict("records"),
        "notes": notes,
    }


def selection_table(selection: dict) -> pd.DataFrame:
    """The selection for people: univariable p, then each backward step's AIC.

    Columns ``stage`` (``univariable``, ``backward_clinical``, ``backward_suv``,
    ``selected``), ``term``, ``terms``, ``p_value``, ``aic``.
    """
    rows = [
        {"stage": "univariable", "term": t, "terms": "", "p_value": p, "aic": np.nan}
        for t, p in selection["univariable_p"].items()
    ]
    for stage, key in (("backward_clinical", "clinical_trace"), ("backward_suv", "suv_trace")):
        rows += [
            {
                "stage": stage,
                "term": step["step"].removeprefix("- "),
                "terms": step["terms"],
                "p_value": np.nan,
                "aic": step["aic"],
            }
            for step in selection[key]
        ]
    rows += [
        {"stage": "selected", "term": t, "terms": "", "p_value": np.nan, "aic": np.nan}
        for t in (*selection["clinical"], *selection["suv"])
    ]
    return pd.DataFrame(rows, columns=["stage", "term", "terms", "p_value", "aic"])


def nomogram_term_names(nomogram: str, selection: dict, *, integrated_model: str) -> list:
    """Term names of ``nomogram`` given the :func:`select_terms` result."""
    clinical, suv = list(selection["clinical"]), list(selection["suv"])
    signature = f"{SIGNATURE_PREFIX}{integrated_model}"
    if nomogram == "clinical":
        return clinical
    if nomogram == "clinical_suv":
        return clinical + suv
    if nomogram == "integrated":
        return clinical + [signature]
    if nomogram == "integrated_suv":
        return clinical + suv + [signature]
    if nomogram.startswith("dl_") and len(nomogram) > 3:
        return [f"{SIGNATURE_PREFIX}{nomogram[3:]}"]
    if nomogram in SIGNATURE_NOMOGRAMS:
        return [f"{SIGNATURE_PREFIX}{nomogram}"]
    raise InputError(f"unknown nomogram {nomogram!r}")
