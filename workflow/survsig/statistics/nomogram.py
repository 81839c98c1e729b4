"""Cox nomograms: univariable Cox (Table 2), AIC selection, fitted nomograms, points.

The study's nomograms are Cox proportional hazards models (R ``coxph``/``rms::cph``,
Efron ties) drawn as ``rms`` nomograms. This module holds

* the model terms: clinical factors coded as in Table 2 of the study (sex female vs
  male, age per year, rT3-4 vs rT0-2, N1-3 vs N0, EBV DNA detectable vs undetectable),
  SUV columns (per g/mL) and deep learning signatures (per training SD);
* Cox fits from :mod:`survsig.survival.cox` (Efron or Breslow ties; coefficients, standard
  errors, log-likelihood and AIC agree with R's ``coxph`` to 1e-9 on R's ``lung`` data,
  tests/statistics/test_nomogram.py);
* :func:`univariable_table` (Table 2), :func:`backward_aic` (R's ``step()``) and
  :func:`select_terms` (univariable p filter, then backward AIC on the training set);
* :class:`CoxNomogram`: a fitted nomogram that scores new patients (linear predictor,
  survival, points) and saves itself as JSON; its points scale follows ``rms``'s
  ``nomogram()`` (:func:`points_scale`, :func:`r_pretty`);
* :func:`plot_nomogram` and :func:`nomogram_figure` (Fig. 2A), :func:`table2_figure`.

Times are in months. Sign convention: a higher linear predictor means a higher hazard.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from survsig.core import columns as col
from survsig.core.errors import InputError
from survsig.core.figures import new_figure, style, table_figure
from survsig.core.files import read_split
from survsig.core.formats import format_interval, format_p_cell, suv_mathtext
from survsig.core.io import atomic_path, first_repeat, read_table, write_tsv
from survsig.core.jsonkeys import JsonKeys, json_type, show
from survsig.core.vocabulary import EN_DASH as DASH
from survsig.core.vocabulary import RADIOMICS, SUV_KIND_LABELS, SUV_SITE_LABELS, horizon_text, signature_label
from survsig.survival.cox import TIES, CoxFit, baseline_cumulative_hazard, fit_cox, linear_predictor

log = logging.getLogger(__name__)

TRAIN, TEST = col.SPLIT_LEVELS
#: Version tag written into every nomogram JSON file.
JSON_FORMAT = "survsig-cox-nomogram/1"


# --------------------------------------------------------------------------- terms
#: Kinds of model terms: a number per unit, or a label coded 0/1.
TERM_KINDS = ("continuous", "binary")


@dataclass(frozen=True)
class Term:
    """One covariate of a Cox model, built from one column of the patient table.

    Attributes
    ----------
    name : str
        Name of the model term (key of ``coef_``).
    source : str
        Column of the patient table it is computed from.
    kind : {"continuous", "binary"}
        ``continuous``: the column's number (per unit); ``binary``: 1 when the column's
        label is in ``positive``, 0 when it is in ``negative``.
    label : str
        Axis and table label for people.
    positive, negative : tuple of str
        Labels coded 1 and 0 (binary terms only).
    level_labels : tuple of str
        Text of the 0 and 1 levels on a nomogram axis (binary terms only).
    unit : str
        What one unit of a continuous term is (Table 2's "per" text).

    Raises
    ------
    InputError
        An unknown ``kind``, or a binary term without its 0 and 1 labels.
    """

    name: str
    source: str
    kind: str
    label: str
    positive: tuple = ()
    negative: tuple = ()
    level_labels: tuple = ()
    unit: str = ""

    def __post_init__(self):
        # anything else would be scored silently as a number
        if self.kind not in TERM_KINDS:
            raise InputError(f"term {self.name!r}: kind must be one of {', '.join(TERM_KINDS)}, got {self.kind!r}")
        if self.kind == "binary" and not (self.positive and self.negative and len(self.level_labels) == 2):
            raise InputError(f"binary term {self.name!r} needs its positive and negative labels and two level labels")

    def to_dict(self) -> dict:
        out = {"name": self.name, "source": self.source, "kind": self.kind, "label": self.label}
        if self.kind == "binary":
            out.update(positive=list(self.positive), negative=list(self.negative), level_labels=list(self.level_labels))
        if self.unit:
            out["unit"] = self.unit
        return out

    @classmethod
    def from_dict(cls, data, *, key="term", file=None) -> Term:
        """The term of :meth:`to_dict`'s dict, every key checked.

        Parameters
        ----------
        data : dict
        key : str
            Where ``data`` sits in the nomogram file (``"terms[1]"``), for messages.
        file : str, optional
            The nomogram file, for messages.

        Raises
        ------
        InputError
            A missing or mistyped key, an unknown kind, or a binary term without its
            labels (naming the file and the key).
        """
        keys = JsonKeys(file, kind="nomogram")
        data = keys.mapping(data, key)
        text = {name: keys.text(keys.get(data, name, key), f"{key}.{name}") for name in ("name", "source", "label")}
        kind = keys.text(keys.get(data, "kind", key), f"{key}.kind")
        if kind not in TERM_KINDS:
            raise keys.error(f"{key}.kind", f"must be one of {', '.join(TERM_KINDS)}, got {kind!r}")
        labels = {}
        for name, count in (("positive", None), ("negative", None), ("level_labels", 2)):
            if kind == "binary":
                labels[name] = keys.texts(keys.get(data, name, key), f"{key}.{name}", length=count)
            else:
                labels[name] = ()
        if kind == "binary":
            both = set(labels["positive"]) & set(labels["negative"])
            if both:
                raise keys.error(f"{key}.positive", f"shares the label {sorted(both)[0]!r} with {key}.negative")
        unit = keys.text(data.get("unit", ""), f"{key}.unit")
        return cls(name=text["name"], source=text["source"], kind=kind, label=text["label"], unit=unit, **labels)

    def encode(self, values: pd.Series, *, patients=None, file=None) -> np.ndarray:
        """The term's numbers for ``values`` (one per patient); bad values raise.

        Parameters
        ----------
        values : pandas.Series
            The ``source`` column.
        patients : sequence, optional
            Patient ids, aligned with ``values``, for the error message.
        file : str, optional
            File the values came from, for the error message.
        """
        if self.kind == "binary":
            text = values.astype(object).where(values.notna(), None)
            out = np.where(text.isin(self.positive), 1.0, np.where(text.isin(self.negative), 0.0, np.nan))
            accepted = ", ".join((*self.negative, *self.positive))
            reason = "{value!r} is not one of " + accepted
        else:
            out = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            reason = "{value!r} is not a finite number"
        bad = ~np.isfinite(out)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                reason.format(value=values.iloc[i]),
                file=file,
                patient=None if patients is None else list(patients)[i],
                row=i + 1 if file is not None else None,  # a file's data row; else the patient says it
                column=self.source,
            )
        return out


def _binary(name, label, negative, positive, level_labels):
    return Term(name, name, "binary", label, tuple(positive), tuple(negative), tuple(level_labels))


#: Clinical factors of Table 2, coded as the study reports them (the first level is 0).
CLINICAL_TERMS = {
    "sex": _binary("sex", "Sex (female vs. male)", ["M"], ["F"], ["Male", "Female"]),
    "age": Term("age", "age", "continuous", "Age (years)", unit="year"),
    "rT_stage": _binary(
        "rT_stage",
        f"rT-stage (T3{DASH}4 vs. T0{DASH}2)",
        ["T0", "T1", "T2"],
        ["T3", "T4"],
        [f"T0{DASH}2", f"T3{DASH}4"],
    ),
    "N_stage": _binary("N_stage", f"N-stage (N1{DASH}3 vs. N0)", ["N0"], ["N1", "N2", "N3"], ["N0", f"N1{DASH}3"]),
    "ebv_dna": _binary(
        "ebv_dna",
        "EBV DNA (detectable vs. undetectable)",
        ["undetectable"],
        ["detectable"],
        ["Undetectable", "Detectable"],
    ),
}
SIGNATURE_PREFIX = "signature_"


def suv_term(column: str) -> Term:
    """Continuous term of an SUV column (``tumor_suv_max`` ...), per g/mL."""
    site, kind = column.split("_suv_")
    return Term(column, column, "continuous", f"{SUV_SITE_LABELS[site]} {SUV_KIND_LABELS[kind]}", unit="g/mL")


def signature_term(model: str) -> Term:
    """Continuous term of the deep learning signature of ``model`` (column ``signature_{model}``)."""
    name = f"{SIGNATURE_PREFIX}{model}"
    return Term(name, name, "continuous", signature_label(model), unit="training SD")


def term_for(name: str) -> Term:
    """The :class:`Term` called ``name``: a clinical factor, an SUV column or ``signature_{model}``."""
    if name in CLINICAL_TERMS:
        return CLINICAL_TERMS[name]
    if name in col.SUV_COLUMNS:
        return suv_term(name)
    if name.startswith(SIGNATURE_PREFIX) and len(name) > len(SIGNATURE_PREFIX):
        return signature_term(name[len(SIGNATURE_PREFIX) :])
    raise InputError(f"unknown model term {name!r}: not a clinical factor, SUV column or signature_<model>")


def design_matrix(frame: pd.DataFrame, terms, *, file=None) -> pd.DataFrame:
    """Numbers of ``terms`` for every patient of ``frame`` (columns = term names).

    Raises
    ------
    InputError
        A term's column is missing, or a value is missing, not a number or not a
        known label (naming patient, row and column).
    """
    patients = frame[col.PATIENT_ID].tolist() if col.PATIENT_ID in frame.columns else None
    out = {}
    for term in terms:
        if term.source not in frame.columns:
            raise InputError(f"column needed by term '{term.name}' is missing", file=file, column=term.source)
        out[term.name] = term.encode(frame[term.source].reset_index(drop=True), patients=patients, file=file)
    return pd.DataFrame(out, index=frame.index)


# --------------------------------------------------------------------------- data
def _split_labels(split: pd.DataFrame, *, file=None) -> pd.Series:
    for column in (col.PATIENT_ID, col.SPLIT):
        if column not in split.columns:
            raise InputError("the split table lacks this column", file=file, column=column)
    ids = split[col.PATIENT_ID].astype(str)
    if ids.duplicated().any():
        raise InputError("duplicate patient in the split table", file=file, patient=ids[ids.duplicated()].iloc[0])
    bad = ~split[col.SPLIT].isin(col.SPLIT_LEVELS)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"split label {split[col.SPLIT].iloc[i]!r} is not one of {', '.join(col.SPLIT_LEVELS)}",
            file=file,
            patient=ids.iloc[i],
            row=i + 1,
            column=col.SPLIT,
        )
    return pd.Series(split[col.SPLIT].to_numpy(), index=ids.to_numpy())


def patient_table(clinical: pd.DataFrame, split: pd.DataFrame, signatures=None, *, files=None) -> pd.DataFrame:
    """One row per patient: the validated clinical columns, ``split`` and ``signature_{model}``.

    Parameters
    ----------
    clinical : pandas.DataFrame
        Validated clinical sheet (canonical columns; ``os_months`` in months).
    split : pandas.DataFrame
        ``patient_id, split`` for every patient of ``clinical``.
    signatures : dict of str to pandas.DataFrame, optional
        Model name -> its signature table (``patient_id, split, signature``; higher =
        higher risk, standardised with training statistics).
    files : dict, optional
        Names of the files behind ``"clinical"``, ``"split"`` and each model, used in
        error messages.

    Raises
    ------
    InputError
        A patient without split, a split or signature patient not in the clinical
        sheet, a clinical patient missing from a signature file, a signature that is
        missing or not finite, or a signature file whose split disagrees.
    """
    files = files or {}
    for column in (col.PATIENT_ID, col.OS_MONTHS, col.OS_EVENT):
        if column not in clinical.columns:
            raise InputError("the clinical sheet lacks this column", file=files.get("clinical"), column=column)
    frame = clinical.copy()
    frame[col.PATIENT_ID] = frame[col.PATIENT_ID].astype(str)
    if frame[col.PATIENT_ID].duplicated().any():
        dup = frame.loc[frame[col.PATIENT_ID].duplicated(), col.PATIENT_ID].iloc[0]
        raise InputError("duplicate patient id", file=files.get("clinical"), patient=dup, column=col.PATIENT_ID)
    labels = _split_labels(split, file=files.get("split"))
    ids = frame[col.PATIENT_ID]
    unknown = labels.index[~labels.index.isin(ids)]
    if len(unknown):
        raise InputError(
            "patient of the split table is not in the clinical sheet", file=files.get("split"), patient=unknown[0]
        )
    missing = ids[~ids.isin(labels.index)]
    if len(missing):
        raise InputError(
            "patient of the clinical sheet has no split",
            file=files.get("split"),
            patient=missing.iloc[0],
            column=col.SPLIT,
        )
    frame[col.SPLIT] = labels.reindex(ids.to_numpy()).to_numpy()
    for model, table in (signatures or {}).items():
        file = files.get(model)
        for column in (col.PATIENT_ID, "signature"):
            if column not in table.columns:
                raise InputError("the signature file lacks this column", file=file, column=column)
        sig_ids = table[col.PATIENT_ID].astype(str)
        if sig_ids.duplicated().any():
            raise InputError(
                "duplicate patient in the signature file", file=file, patient=sig_ids[sig_ids.duplicated()].iloc[0]
            )
        extra = sig_ids[~sig_ids.isin(ids)]
        if len(extra):
            raise InputError(
                "patient of the signature file is not in the clinical sheet", file=file, patient=extra.iloc[0]
            )
        absent = ids[~ids.isin(sig_ids)]
        if len(absent):
            raise InputError(
                f"patient has no signature of model '{model}' ({len(absent)} patient(s) missing)",
                file=file,
                patient=absent.iloc[0],
                column="signature",
            )
        values = pd.Series(
            pd.to_numeric(table["signature"], errors="coerce").to_numpy(dtype=float), index=sig_ids.to_numpy()
        )
        bad = ~np.isfinite(values.to_numpy())
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"signature is not a finite number: {table['signature'].iloc[i]!r}",
                file=file,
                patient=sig_ids.iloc[i],
                row=i + 1,
                column="signature",
            )
        if col.SPLIT in table.columns:
            theirs = pd.Series(table[col.SPLIT].to_numpy(), index=sig_ids.to_numpy()).reindex(ids.to_numpy())
            differ = theirs.to_numpy() != frame[col.SPLIT].to_numpy()
            if differ.any():
                i = int(np.flatnonzero(differ)[0])
                raise InputError(
                    f"split {theirs.iloc[i]!r} of the signature file disagrees with the split table "
                    f"({frame[col.SPLIT].iloc[i]!r})",
                    file=file,
                    patient=ids.iloc[i],
                    column=col.SPLIT,
                )
        frame[f"{SIGNATURE_PREFIX}{model}"] = values.reindex(ids.to_numpy()).to_numpy()
    return frame


def read_patient_table(clinical, split, signatures=None) -> pd.DataFrame:
    """:func:`patient_table` from files: the validated clinical sheet, the split table
    and ``{model: signature file}``; error messages name the files."""
    signatures = dict(signatures or {})
    files = {"clinical": str(clinical), "split": str(split), **{m: str(p) for m, p in signatures.items()}}
    tables = {m: read_table(p, dtype={col.PATIENT_ID: str}) for m, p in signatures.items()}
    return patient_table(
        read_table(clinical, dtype={col.PATIENT_ID: str}),
        read_split(split),
        tables,
        files=files,
    )


# --------------------------------------------------------------------------- Table 2
TABLE2_COLUMNS = (
    "term",
    "label",
    "group",
    "split",
    "n",
    "events",
    "coef",
    "se",
    "hr",
    "hr_lower",
    "hr_upper",
    "p_value",
    "note",
)


def univariable_table(frame: pd.DataFrame, terms, *, ties="efron", confidence=0.95) -> pd.DataFrame:
    """Univariable Cox hazard ratios of each term on the training and the test set (Table 2).

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`patient_table` output (``os_months``, ``os_event``, ``split`` and the
        terms' columns).
    terms : sequence of Term
    ties : {"efron", "breslow"}
    confidence : float
        Level of the Wald confidence interval of the hazard ratio.

    Returns
    -------
    pandas.DataFrame
        :data:`TABLE2_COLUMNS`, one row per term and split (training first). HR per
        unit of the term (years, g/mL, training SD of a signature; binary terms: the
        level coded 1 vs 0). A term that cannot be fitted on a split (constant there,
        no events, likelihood without maximum) gets NaN numbers and a ``note``.
    """
    rows = []
    for term in terms:
        for split in col.SPLIT_LEVELS:
            part = frame[frame[col.SPLIT] == split]
            row = dict.fromkeys(TABLE2_COLUMNS, np.nan)
            row.update(
                term=term.name,
                label=term.label,
                group=_term_group(term),
                split=split,
                n=len(part),
                events=int(part[col.OS_EVENT].sum()),
                note="",
            )
            x = design_matrix(part, [term])
            try:
                fit = fit_cox(part[col.OS_MONTHS], part[col.OS_EVENT], x, ties=ties, what=f"the {split} set")
            except InputError as err:
                row["note"] = err.reason
                log.warning("Table 2, %s on the %s set: %s", term.name, split, err.reason)
                rows.append(row)
                continue
            summary = fit.summary(confidence=confidence).iloc[0]
            row.update({k: summary[k] for k in ("coef", "se", "hr", "hr_lower", "hr_upper", "p_value")})
            if not fit.converged:
                row.update(
                    hr=np.nan,
                    hr_lower=np.nan,
                    hr_upper=np.nan,
                    p_value=np.nan,
                    note="no finite maximum of the likelihood (all events in one group?)",
                )
            rows.append(row)
    table = pd.DataFrame(rows, columns=list(TABLE2_COLUMNS))
    table["n"] = table["n"].astype(int)
    table["events"] = table["events"].astype(int)
    return table


def _term_group(term: Term) -> str:
    if term.name in CLINICAL_TERMS:
        return "clinical"
    if term.name in col.SUV_COLUMNS:
        return "suv"
    return "signature"


def table2_terms(frame: pd.DataFrame, clinical_factors, models) -> list:
    """Terms of Table 2: the clinical factors, SUV columns present, then each signature."""
    terms = [term_for(name) for name in clinical_factors if CLINICAL_TERMS[name].source in frame.columns]
    terms += [suv_term(c) for c in col.SUV_COLUMNS if c in frame.columns]
    terms += [signature_term(m) for m in models]
    return terms


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
    if nomogram == RADIOMICS:
        return [f"{SIGNATURE_PREFIX}{RADIOMICS}"]
    raise InputError(f"unknown nomogram {nomogram!r}")


# --------------------------------------------------------------------------- R's pretty()
def r_pretty(lo, hi, n=5, *, min_n=None, shrink_sml=0.75, high_u_bias=1.5, u5_bias=None) -> np.ndarray:
    """Equally spaced "round" values covering ``[lo, hi]``, as R's ``pretty()`` (R 4.2).

    A port of R's ``R_pretty`` (src/appl/pretty.c) with ``pretty.default``'s defaults:
    about ``n + 1`` values whose step is 1, 2 or 5 times a power of 10.
    """
    lo, hi = float(min(lo, hi)), float(max(lo, hi))
    min_n = n // 3 if min_n is None else min_n
    u5_bias = 0.5 + 1.5 * high_u_bias if u5_bias is None else u5_bias
    h, h5 = high_u_bias, u5_bias
    rounding_eps = 1e-10
    eps = np.finfo(float).eps
    dx = hi - lo
    if dx == 0 and hi == 0:
        cell, i_small = 1.0, True
    else:
        cell = max(abs(lo), abs(hi))
        u = 1 + (1 / (1 + h) if h5 >= 1.5 * h + 0.5 else 1.5 / (1 + h5))
        u *= max(1, n) * eps
        i_small = dx < cell * u * 3
    if i_small:
        if cell > 10:
            cell = 9 + cell / 10
        cell *= shrink_sml
        if min_n > 1:
            cell /= min_n
    else:
        cell = dx
        if n > 1:
            cell /= n
    cell = max(cell, 20 * np.finfo(float).tiny)
    base = 10.0 ** math.floor(math.log10(cell))
    unit = base
    if 2 * base - cell < h * (cell - unit):
        unit = 2 * base
        if 5 * base - cell < h5 * (cell - unit):
            unit = 5 * base
            if 10 * base - cell < h * (cell - unit):
                unit = 10 * base
    ns = math.floor(lo / unit + rounding_eps)
    nu = math.ceil(hi / unit - rounding_eps)
    while ns * unit > lo + rounding_eps * unit:
        ns -= 1
    while nu * unit < hi - rounding_eps * unit:
        nu += 1
    k = int(0.5 + nu - ns)
    if k < min_n:
        k = min_n - k
        if ns >= 0:
            nu += k // 2
            ns -= k // 2 + k % 2
        else:
            ns -= k // 2
            nu += k // 2 + k % 2
        ndiv = min_n
    else:
        ndiv = k
    if ns * unit < lo:
        lo = ns * unit
    if nu * unit > hi:
        hi = nu * unit
    if ndiv == 0:
        return np.array([lo])
    values = lo + np.arange(ndiv + 1) * ((hi - lo) / ndiv)
    values[-1] = hi
    values[np.abs(values) < 1e-14 * (hi - lo) / ndiv] = 0.0
    return values


# --------------------------------------------------------------------------- points (rms)
#: A numeric term with at most this many distinct training values gets one tick per
#: value (rms ``datadist(n.unique = 10)`` treats it as discrete); others get
#: ``r_pretty(min, max, nint)`` ticks.
N_UNIQUE_DISCRETE = 10


def axis_values(x, *, kind="continuous", nint=10) -> np.ndarray:
    """Values marked on a variable's nomogram axis, as ``rms::nomogram`` picks them.

    Binary terms: 0 and 1. Numeric terms with at most :data:`N_UNIQUE_DISCRETE`
    distinct values: those values; otherwise ``pretty(range(x), nint)``.
    """
    if kind == "binary":
        return np.array([0.0, 1.0])
    x = np.asarray(x, dtype=float)
    distinct = np.unique(x)
    if len(distinct) <= N_UNIQUE_DISCRETE:
        return distinct
    return r_pretty(distinct[0], distinct[-1], nint)


def points_scale(coef: dict, values: dict, *, center: float, lp_range, maxscale=100.0, nint=10) -> dict:
    """The points scale of an ``rms`` nomogram (R ``rms::nomogram``, ``maxscale = 100``).

    For term ``v`` with axis values ``x`` the points are
    ``sc * (beta_v * x - min(beta_v * x))`` with ``sc = maxscale / max_v range(beta_v * x)``,
    so the term with the widest effect spans 0 to ``maxscale``. The centred linear
    predictor of a patient is ``intercept + total_points / sc`` with
    ``intercept = -center + sum_v min(beta_v * x)``.

    Parameters
    ----------
    coef : dict
        Term -> coefficient (log hazard ratio per unit).
    values : dict
        Term -> axis values (:func:`axis_values`).
    center : float
        ``sum(beta * means)``: the linear predictor is centred at the training means.
    lp_range : (float, float)
        Range of the training set's centred linear predictor (for the axis ticks).

    Returns
    -------
    dict
        ``sc``, ``intercept``, ``maxscale``, ``axes`` (term -> ``values``, ``xbeta``,
        ``points``), ``lp_at`` (ticks of the linear predictor axis) and
        ``total_points`` (ticks of the total points axis).
    """
    axes = {}
    low = {}
    widest = 0.0
    for name, beta in coef.items():
        x = np.asarray(values[name], dtype=float)
        xbeta = beta * x
        low[name] = float(xbeta.min())
        widest = max(widest, float(xbeta.max() - xbeta.min()))
        axes[name] = {"values": x.tolist(), "xbeta": xbeta.tolist()}
    if widest <= 0:
        raise InputError("every term of the nomogram has a zero effect; no points scale exists")
    sc = maxscale / widest
    for name in axes:
        axes[name]["points"] = [(xb - low[name]) * sc for xb in axes[name]["xbeta"]]
    intercept = -center + sum(low.values())
    lp_at = r_pretty(lp_range[0], lp_range[1], nint)
    sum_max = maxscale if len(coef) == 1 else max(maxscale, sc * float(np.max(lp_at - intercept)))
    total = r_pretty(0.0, sum_max, nint)
    return {
        "sc": sc,
        "intercept": intercept,
        "maxscale": maxscale,
        "axes": axes,
        "lp_at": lp_at.tolist(),
        "total_points": total.tolist(),
    }


# --------------------------------------------------------------------------- nomogram
@dataclass
class CoxNomogram:
    """A Cox proportional hazards nomogram that scores new patients.

    Parameters
    ----------
    terms : sequence of Term or str
        Model terms (names are looked up with :func:`term_for`).
    ties : {"efron", "breslow"}, default "efron"
    survival_times : sequence of float, default (12, 36, 60)
        Times (months) of the survival axes and of ``baseline_survival_``.
    name : str, optional
        Name of the nomogram ("integrated").
    confidence : float, default 0.95

    Attributes
    ----------
    coef_, se_ : pandas.Series
        Log hazard ratio per unit of each term and its standard error.
    means_ : pandas.Series
        Training means of the terms; the linear predictor is centred at them.
    baseline_times_, baseline_cumhaz_ : numpy.ndarray
        Death times (months) and the baseline cumulative hazard (at the means).
    max_followup_months_ : float
        Longest follow-up of the training data: the baseline hazard is unknown after
        it, so survival there is NaN (:meth:`cumulative_hazard`).
    baseline_survival_ : dict
        ``survival_times`` -> baseline survival there (NaN after the follow-up).
    loglik_, loglik_null_, aic_ : float
    n_, events_ : int
    lp_range_ : tuple of float
        Range of the training set's linear predictor.
    training_range_ : dict
        Continuous term -> (lowest, highest) training value; new patients outside it
        are flagged, far outside it refused (:func:`score_new_patients`).
    scale_ : dict
        :func:`points_scale` of the nomogram.
    """

    terms: list
    ties: str = "efron"
    survival_times: tuple = (12.0, 36.0, 60.0)
    name: str = ""
    confidence: float = 0.95
    notes: list = field(default_factory=list)

    def __post_init__(self):
        self.terms = [t if isinstance(t, Term) else term_for(t) for t in self.terms]
        if not self.terms:
            raise InputError(f"nomogram {self.name!r} has no terms")
        if self.ties not in TIES:
            raise InputError(f"ties must be one of {', '.join(TIES)}, got {self.ties!r}")
        self.survival_times = tuple(float(t) for t in self.survival_times)

    @property
    def term_names(self) -> list:
        return [t.name for t in self.terms]

    def fit(self, frame: pd.DataFrame, *, what="the training set") -> CoxNomogram:
        """Fit on ``frame`` (``os_months``, ``os_event`` and the terms' columns); returns self."""
        X = design_matrix(frame, self.terms)
        time = frame[col.OS_MONTHS].to_numpy(dtype=float)
        event = frame[col.OS_EVENT].to_numpy(dtype=int)
        fit = fit_cox(time, event, X, ties=self.ties, what=what)
        if not fit.converged:
            raise InputError(
                f"the Cox model of nomogram {self.name!r} did not converge on {what}: "
                "a term separates deaths from survivors (infinite hazard ratio)"
            )
        self.coef_ = pd.Series(fit.coef, index=self.term_names)
        self.se_ = pd.Series(fit.se, index=self.term_names)
        self.cov_ = pd.DataFrame(fit.cov, index=self.term_names, columns=self.term_names)
        self.means_ = pd.Series(fit.means, index=self.term_names)
        self.loglik_, self.loglik_null_, self.aic_ = fit.loglik, fit.loglik_null, fit.aic
        self.n_, self.events_ = fit.n, fit.events
        lp = linear_predictor(X.to_numpy(), fit.coef, fit.means)
        self.baseline_times_, self.baseline_cumhaz_ = baseline_cumulative_hazard(time, event, lp, ties=self.ties)
        self.max_followup_months_ = float(time.max())
        self.baseline_survival_ = {t: float(np.exp(-self.cumulative_hazard(t))) for t in self.survival_times}
        self.lp_range_ = (float(lp.min()), float(lp.max()))
        self.training_range_ = {
            t.name: (float(X[t.name].min()), float(X[t.name].max())) for t in self.terms if t.kind == "continuous"
        }
        values = {t.name: axis_values(X[t.name], kind=t.kind) for t in self.terms}
        self.scale_ = points_scale(
            self.coef_.to_dict(), values, center=float(fit.means @ fit.coef), lp_range=self.lp_range_
        )
        return self

    def _check_fitted(self):
        if not hasattr(self, "coef_"):
            raise RuntimeError("the nomogram is not fitted; call fit() or load() first")

    def _cumhaz(self, t):
        """The baseline step function as estimated: 0 before the first death, its last
        value after the last one (at any time; :meth:`cumulative_hazard` stops at the
        follow-up)."""
        i = np.searchsorted(self.baseline_times_, np.asarray(t, dtype=float), side="right")
        return np.r_[0.0, self.baseline_cumhaz_][i]

    def cumulative_hazard(self, times) -> np.ndarray:
        """Baseline cumulative hazard at ``times`` (months); NaN after the training follow-up.

        The estimate is a step function that is known up to the longest follow-up of
        the training data (``max_followup_months_``): later deaths were never observed,
        so the hazard there is unknown, not constant, and those times get NaN (as R's
        ``summary(survfit(...), times, extend = FALSE)`` leaves them out).
        """
        self._check_fitted()
        times = np.asarray(times, dtype=float)
        return np.where(times > self.max_followup_months_, np.nan, self._cumhaz(times))

    def predict_lp(self, frame: pd.DataFrame, *, file=None) -> np.ndarray:
        """Linear predictor ``(x - means) . coef`` of each patient (higher = higher risk)."""
        self._check_fitted()
        X = design_matrix(frame, self.terms, file=file)
        return linear_predictor(X.to_numpy(), self.coef_.to_numpy(), self.means_.to_numpy())

    def predict_survival(self, frame: pd.DataFrame, times, *, file=None) -> np.ndarray:
        """Survival probability of each patient (rows) at ``times`` (columns, months).

        ``S(t | x) = exp(-H0(t) exp(lp))`` with the baseline of
        :func:`baseline_cumulative_hazard` (R's ``survfit.coxph``); NaN at times after
        the training follow-up (:meth:`cumulative_hazard`).
        """
        lp = self.predict_lp(frame, file=file)
        return survival_from_lp(lp, self.cumulative_hazard(np.atleast_1d(times)))

    def survival_at(self, lp, t) -> np.ndarray:
        """Survival at time ``t`` (months) for linear predictor values ``lp``.

        Reads the baseline step function as estimated, also after the training
        follow-up, where it keeps its last value (the calibration's horizon reads it so);
        :meth:`predict_survival` and :func:`score_new_patients` give NaN there.
        """
        self._check_fitted()
        return np.exp(-float(self._cumhaz(t)) * np.exp(np.asarray(lp, dtype=float)))

    def points(self, frame: pd.DataFrame, *, file=None) -> pd.DataFrame:
        """Nomogram points of each term, total points and the linear predictor per patient."""
        self._check_fitted()
        X = design_matrix(frame, self.terms, file=file)
        sc = self.scale_["sc"]
        out = pd.DataFrame(index=frame.index)
        if col.PATIENT_ID in frame.columns:
            out[col.PATIENT_ID] = frame[col.PATIENT_ID].to_numpy()
        for name in self.term_names:
            low = min(self.scale_["axes"][name]["xbeta"])
            out[f"points_{name}"] = (self.coef_[name] * X[name].to_numpy() - low) * sc
        out["total_points"] = out[[f"points_{n}" for n in self.term_names]].sum(axis=1)
        out["lp"] = self.scale_["intercept"] + out["total_points"] / sc
        return out

    def summary(self) -> pd.DataFrame:
        """Per term: coefficient, SE, HR with its Wald CI, p."""
        self._check_fitted()
        fit = CoxFit(
            self.term_names,
            self.coef_.to_numpy(),
            self.se_.to_numpy(),
            self.cov_.to_numpy(),
            self.loglik_,
            self.loglik_null_,
            self.aic_,
            self.n_,
            self.events_,
            self.means_.to_numpy(),
        )
        table = fit.summary(confidence=self.confidence)
        table.insert(1, "label", [t.label for t in self.terms])
        return table

    # ---------------------------------------------------------------- JSON
    def to_dict(self) -> dict:
        """The nomogram as JSON-ready data (keys in fixed order; NaN survival as null)."""
        self._check_fitted()
        return {
            "format": JSON_FORMAT,
            "name": self.name,
            "ties": self.ties,
            "time_unit": "months",
            "confidence": self.confidence,
            "terms": [t.to_dict() for t in self.terms],
            "coef": self.coef_.to_dict(),
            "se": self.se_.to_dict(),
            "cov": self.cov_.to_numpy().tolist(),
            "means": self.means_.to_dict(),
            "n": self.n_,
            "events": self.events_,
            "loglik": self.loglik_,
            "loglik_null": self.loglik_null_,
            "aic": self.aic_,
            "lp_range": list(self.lp_range_),
            "training_range": {name: list(bounds) for name, bounds in self.training_range_.items()},
            "max_followup_months": self.max_followup_months_,
            "survival_times": list(self.survival_times),
            # unknown after the follow-up: null, as JSON has no NaN
            "baseline_survival": {
                f"{t:g}": s if math.isfinite(s) else None for t, s in self.baseline_survival_.items()
            },
            "baseline": {"times": self.baseline_times_.tolist(), "cumhaz": self.baseline_cumhaz_.tolist()},
            "points_scale": self.scale_,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data, *, file=None) -> CoxNomogram:
        """The nomogram of :meth:`to_dict`'s data, every key checked before it is used.

        Files written before ``training_range`` and ``max_followup_months`` were saved
        get each continuous term's axis range and the last baseline death time instead.

        Parameters
        ----------
        data : dict
        file : str, optional
            The file the data came from, named in error messages.

        Raises
        ------
        InputError
            Naming the file and the key (``coef.age``, ``baseline.times[3]``): a missing
            key or one of the wrong type; an unknown term kind or a binary term without
            its labels; coefficients, means or standard errors missing, extra or not
            finite; a baseline whose times are negative or not strictly increasing, or
            whose cumulative hazard is negative, decreasing or not finite; a baseline
            survival outside [0, 1] or not the baseline's; a points scale missing, not
            finite or not the coefficients'.
        """
        keys = JsonKeys(file, kind="nomogram")
        if not isinstance(data, dict):
            raise InputError(f"not a survsig nomogram file: the JSON holds {json_type(data)}, not an object", file=file)
        if data.get("format") != JSON_FORMAT:
            raise InputError(
                f"not a survsig nomogram file (format {data.get('format')!r}, expected {JSON_FORMAT})", file=file
            )
        terms = [
            Term.from_dict(t, key=f"terms[{i}]", file=file)
            for i, t in enumerate(keys.array(keys.get(data, "terms"), "terms"))
        ]
        names = [t.name for t in terms]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise keys.error(f"terms[{i}].name", f"repeats the term {name!r}")
        ties = keys.text(keys.get(data, "ties"), "ties")
        if ties not in TIES:
            raise keys.error("ties", f"must be one of {', '.join(TIES)}, got {ties!r}")
        if data.get("time_unit", "months") != "months":
            raise keys.error("time_unit", f'must be "months", got {show(data["time_unit"])}')
        survival_times = keys.numbers(keys.get(data, "survival_times"), "survival_times", above=0)
        if len(set(survival_times)) < len(survival_times):
            raise keys.error("survival_times", f"repeats a time: {show(survival_times.tolist())}")
        model = cls(
            terms,
            ties=ties,
            survival_times=tuple(survival_times),
            name=keys.text(data.get("name", ""), "name"),
            confidence=keys.number(data.get("confidence", 0.95), "confidence", above=0, below=1),
            notes=list(keys.texts(data.get("notes", []), "notes", min_length=0)),
        )

        model.coef_ = keys.per_term(data, "coef", names)
        model.se_ = keys.per_term(data, "se", names, low=0)
        model.means_ = keys.per_term(data, "means", names)
        rows = keys.array(keys.get(data, "cov"), "cov", length=len(names))
        model.cov_ = pd.DataFrame(
            [keys.numbers(r, f"cov[{i}]", length=len(names)) for i, r in enumerate(rows)], index=names, columns=names
        )
        model.n_ = keys.number(keys.get(data, "n"), "n", low=1, integer=True)
        model.events_ = keys.number(keys.get(data, "events"), "events", low=1, high=model.n_, integer=True)
        model.loglik_, model.loglik_null_, model.aic_ = (
            keys.number(keys.get(data, k), k) for k in ("loglik", "loglik_null", "aic")
        )
        lp_range = keys.numbers(keys.get(data, "lp_range"), "lp_range", length=2)
        if lp_range[0] > lp_range[1]:
            raise keys.error("lp_range", f"must be [lowest, highest], got {show(lp_range.tolist())}")
        model.lp_range_ = (float(lp_range[0]), float(lp_range[1]))

        baseline = keys.mapping(keys.get(data, "baseline"), "baseline")
        times = keys.numbers(keys.get(baseline, "times", "baseline"), "baseline.times", low=0)
        cumhaz = keys.numbers(keys.get(baseline, "cumhaz", "baseline"), "baseline.cumhaz", low=0, length=len(times))
        step = np.flatnonzero(np.diff(times) <= 0)
        if len(step):
            i = int(step[0]) + 1
            raise keys.error(
                f"baseline.times[{i}]",
                f"({times[i]:g}) is not after baseline.times[{i - 1}] "
                f"({times[i - 1]:g}): death times must increase strictly",
            )
        step = np.flatnonzero(np.diff(cumhaz) < 0)
        if len(step):
            i = int(step[0]) + 1
            raise keys.error(
                f"baseline.cumhaz[{i}]",
                f"({cumhaz[i]:g}) is below baseline.cumhaz[{i - 1}] "
                f"({cumhaz[i - 1]:g}): a cumulative hazard never decreases",
            )
        model.baseline_times_, model.baseline_cumhaz_ = times, cumhaz
        model.max_followup_months_ = keys.number(
            data.get("max_followup_months", float(times[-1])), "max_followup_months"
        )
        if model.max_followup_months_ < times[-1]:
            raise keys.error(
                "max_followup_months",
                f"({model.max_followup_months_:g}) is before the last baseline death time ({times[-1]:g})",
            )

        model.scale_ = _points_scale_from_dict(keys, data, model)
        model.training_range_ = _training_range_from_dict(keys, data, model)
        model.baseline_survival_ = _baseline_survival_from_dict(keys, data, model)
        return model

    def save(self, path) -> None:
        """Write the nomogram as JSON (atomic; floats at full precision, keys in fixed order)."""
        try:
            # NaN is not JSON, and load() would refuse it
            text = json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n"
        except ValueError as err:
            raise InputError(
                f"nomogram {self.name!r} holds a number that is not finite; not saved ({err})", file=path
            ) from None
        with atomic_path(path) as tmp:
            tmp.write_text(text)

    @classmethod
    def load(cls, path) -> CoxNomogram:
        """Read a nomogram written by :meth:`save`, checking every key (:meth:`from_dict`).

        Raises
        ------
        InputError
            The file cannot be read, is not JSON, or holds no valid nomogram (naming
            the file and the key).
        """
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as err:
            raise InputError(f"cannot read the nomogram file ({err.strerror or err})", file=path) from None
        except ValueError as err:  # not UTF-8
            raise InputError(f"the nomogram file is not text ({err})", file=path) from None
        try:
            data = json.loads(text)
        except ValueError as err:
            raise InputError(f"the nomogram file is not valid JSON ({err})", file=path) from None
        return cls.from_dict(data, file=path)


def _points_scale_from_dict(keys: JsonKeys, data: dict, model: CoxNomogram) -> dict:
    """The checked ``points_scale`` of a nomogram file: finite, and the one its
    coefficients and means give (:func:`points_scale`), so points and lp agree."""
    scale = keys.mapping(keys.get(data, "points_scale"), "points_scale")
    where = "points_scale"
    sc = keys.number(keys.get(scale, "sc", where), f"{where}.sc", above=0)
    intercept = keys.number(keys.get(scale, "intercept", where), f"{where}.intercept")
    maxscale = keys.number(keys.get(scale, "maxscale", where), f"{where}.maxscale", above=0)
    axes = keys.mapping(keys.get(scale, "axes", where), f"{where}.axes")
    extra = [k for k in axes if k not in model.term_names]
    if extra:
        raise keys.error(f"{where}.axes", f"has an axis {extra[0]!r} that is not a term of the nomogram")
    checked = {}
    for term in model.terms:
        at = f"{where}.axes.{term.name}"
        axis = keys.mapping(keys.get(axes, term.name, f"{where}.axes"), at)
        values = keys.numbers(keys.get(axis, "values", at), f"{at}.values")
        if term.kind == "binary" and values.tolist() != [0.0, 1.0]:
            raise keys.error(f"{at}.values", f"of a binary term must be [0, 1], got {show(values.tolist())}")
        xbeta = keys.numbers(keys.get(axis, "xbeta", at), f"{at}.xbeta", length=len(values))
        points = keys.numbers(keys.get(axis, "points", at), f"{at}.points", length=len(values))
        keys.close(xbeta, model.coef_[term.name] * values, f"{at}.xbeta", f"coef.{term.name} times {at}.values")
        keys.close(points, (xbeta - xbeta.min()) * sc, f"{at}.points", f"{at}.xbeta above its lowest, times {where}.sc")
        checked[term.name] = {"values": values.tolist(), "xbeta": xbeta.tolist(), "points": points.tolist()}
    widest = max(max(a["xbeta"]) - min(a["xbeta"]) for a in checked.values())
    keys.close(
        sc,
        maxscale / widest if widest > 0 else np.inf,
        f"{where}.sc",
        f"{where}.maxscale over the widest axis' xbeta range",
    )
    center = float(np.sum(model.coef_.to_numpy() * model.means_.to_numpy()))
    keys.close(
        intercept,
        -center + sum(min(a["xbeta"]) for a in checked.values()),
        f"{where}.intercept",
        "minus the sum of coef times means, plus each axis' lowest xbeta",
    )
    return {
        "sc": sc,
        "intercept": intercept,
        "maxscale": maxscale,
        "axes": checked,
        "lp_at": keys.numbers(keys.get(scale, "lp_at", where), f"{where}.lp_at").tolist(),
        "total_points": keys.numbers(keys.get(scale, "total_points", where), f"{where}.total_points").tolist(),
    }


def _training_range_from_dict(keys: JsonKeys, data: dict, model: CoxNomogram) -> dict:
    """Continuous term -> (lowest, highest) training value; the axis range in older files."""
    continuous = [t.name for t in model.terms if t.kind == "continuous"]
    if "training_range" not in data:
        return {
            name: (min(model.scale_["axes"][name]["values"]), max(model.scale_["axes"][name]["values"]))
            for name in continuous
        }
    ranges = keys.mapping(data["training_range"], "training_range")
    extra = [k for k in ranges if k not in continuous]
    if extra:
        raise keys.error("training_range", f"has an entry {extra[0]!r} that is not a continuous term")
    out = {}
    for name in continuous:
        low, high = keys.numbers(keys.get(ranges, name, "training_range"), f"training_range.{name}", length=2)
        if low > high:
            raise keys.error(f"training_range.{name}", f"must be [lowest, highest], got {show([low, high])}")
        out[name] = (float(low), float(high))
    return out


def _baseline_survival_from_dict(keys: JsonKeys, data: dict, model: CoxNomogram) -> dict:
    """Survival time -> baseline survival, in [0, 1] and equal to the baseline's; NaN
    after the follow-up (null in new files, the step function's last value in older ones)."""
    stored = keys.mapping(keys.get(data, "baseline_survival"), "baseline_survival")
    labels = {f"{t:g}": t for t in model.survival_times}
    extra = [k for k in stored if k not in labels]
    if extra:
        raise keys.error("baseline_survival", f"has an entry {extra[0]!r} that is not one of survival_times")
    out = {}
    for label, t in labels.items():
        key = f"baseline_survival.{label}"
        value = keys.get(stored, label, "baseline_survival")
        if t > model.max_followup_months_:
            if value is not None:
                keys.number(value, key, low=0, high=1)
            out[t] = float("nan")
            continue
        out[t] = keys.number(value, key, low=0, high=1)
        keys.close(out[t], np.exp(-model._cumhaz(t)), key, f"exp(-baseline cumulative hazard at {label} months)")
    return out


def survival_from_lp(lp, cumhaz) -> np.ndarray:
    """``exp(-H0 * exp(lp))``: rows = patients, columns = the cumulative hazards given."""
    return np.exp(-np.outer(np.exp(np.asarray(lp, dtype=float)), np.asarray(cumhaz, dtype=float)))


def score_table(nomogram: CoxNomogram, frame: pd.DataFrame) -> pd.DataFrame:
    """``patient_id, split, os_months, os_event, lp`` for every patient (the scores file)."""
    return pd.DataFrame(
        {
            col.PATIENT_ID: frame[col.PATIENT_ID].to_numpy(),
            col.SPLIT: frame[col.SPLIT].to_numpy(),
            col.OS_MONTHS: frame[col.OS_MONTHS].to_numpy(dtype=float),
            col.OS_EVENT: frame[col.OS_EVENT].to_numpy(dtype=int),
            "lp": nomogram.predict_lp(frame),
        }
    )


#: How far beyond its training range a continuous value may lie, in widths of that
#: range, before it is refused rather than flagged: a value one width beyond either end
#: already scores up to twice the term's span of points.
EXTRAPOLATION_WIDTHS = 1.0

#: Column that lists, per new patient, the terms whose values lie outside the
#: training range (``;``-separated; empty when none).
OUTSIDE_TRAINING_RANGE = "outside_training_range"


def plausible_bounds() -> dict:
    """Column -> (lowest, highest) value that can be a patient's: the bounds the
    clinical sheet is validated with (age 0-120 years, SUV 0-200 g/mL)."""
    return {"age": (0.0, float(col.MAX_AGE)), **{c: (0.0, float(col.MAX_SUV)) for c in col.SUV_COLUMNS}}


def accepted_range(nomogram: CoxNomogram, term: Term) -> tuple:
    """Values of continuous ``term`` that :func:`score_new_patients` scores: ``(low, high)``.

    The training range widened by :data:`EXTRAPOLATION_WIDTHS` of its width on each
    side, cut to the plausible bounds of the column (:func:`plausible_bounds`; the
    training range itself is always accepted).
    """
    low, high = nomogram.training_range_[term.name]
    width = high - low
    lo, hi = low - EXTRAPOLATION_WIDTHS * width, high + EXTRAPOLATION_WIDTHS * width
    bounds = plausible_bounds().get(term.source)
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return min(lo, low), max(hi, high)


def score_new_patients(nomogram: CoxNomogram, sheet: pd.DataFrame, *, file=None) -> pd.DataFrame:
    """Score a sheet of new patients: points per term, total points, lp and survival.

    The sheet needs ``patient_id`` and the columns of the nomogram's terms, in the
    canonical names and labels (``rT_stage`` as T0-T4, ``signature_{model}`` already
    standardised with the training statistics, as the signature files are).

    Checks come first; the first failure raises and nothing is scored:

    * every row has a patient id and no id repeats;
    * every term's column is there, with finite numbers or the term's labels;
    * continuous values lie in :func:`accepted_range`: the training range widened by
      its width on each side, within the column's plausible bounds (age 0-120 years,
      SUV 0-200 g/mL). Beyond it a value is a typo or a unit error, or so far from the
      training data that the nomogram's extrapolation means nothing (age 300 would
      score 185 points on a 0-100 axis): it is refused, naming patient, row and column.

    Values inside the accepted range but outside the training range are scored (their
    points extrapolate the axis linearly, so they may fall below 0 or beyond the axis)
    and flagged: column ``outside_training_range`` names those terms, ``;``-separated.

    Survival at a time after the longest follow-up of the training data
    (``max_followup_months_``) is NaN, with a warning: the baseline hazard is unknown
    there (:meth:`CoxNomogram.cumulative_hazard`).

    Parameters
    ----------
    nomogram : CoxNomogram
    sheet : pandas.DataFrame
    file : str, optional
        The sheet's file; errors then name it and its 1-based data row.

    Returns
    -------
    pandas.DataFrame
        ``patient_id``, ``points_{term}`` per term, ``total_points``, ``lp``,
        ``survival_{t}m`` per survival time and ``outside_training_range``, one row
        per patient in the sheet's order.

    Raises
    ------
    InputError
        On the first bad row, naming the file, patient, row and column.
    """
    nomogram._check_fitted()

    def row(i):  # a file's data row; without a file the patient says it
        return i + 1 if file is not None else None

    if col.PATIENT_ID not in sheet.columns:
        raise InputError("the sheet lacks the patient id column", file=file, column=col.PATIENT_ID)
    if sheet.empty:
        raise InputError("the sheet has no patients", file=file)
    raw_ids = sheet[col.PATIENT_ID].reset_index(drop=True)
    ids = raw_ids.astype(str)
    missing = raw_ids.isna().to_numpy() | ids.str.strip().eq("").to_numpy()
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise InputError("patient id is missing", file=file, row=i + 1, column=col.PATIENT_ID)
    repeated = ids.duplicated().to_numpy()
    if repeated.any():
        i = int(np.flatnonzero(repeated)[0])
        first = int(np.flatnonzero(ids.eq(ids.iloc[i]).to_numpy())[0])
        raise InputError(
            f"duplicate patient id (first in data row {first + 1})",
            file=file,
            patient=ids.iloc[i],
            row=row(i),
            column=col.PATIENT_ID,
        )
    frame = sheet.reset_index(drop=True).assign(**{col.PATIENT_ID: ids})

    X = design_matrix(frame, nomogram.terms, file=file)
    outside = [[] for _ in range(len(frame))]
    for term in nomogram.terms:
        if term.kind != "continuous":
            continue
        values = X[term.name].to_numpy()
        low, high = accepted_range(nomogram, term)
        bad = (values < low) | (values > high)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            train_low, train_high = nomogram.training_range_[term.name]
            bounds = plausible_bounds().get(term.source)
            cut = "" if bounds is None else f", cut to the plausible {bounds[0]:g} to {bounds[1]:g}"
            raise InputError(
                f"{values[i]:g} is refused: the nomogram scores {term.source} from {low:g} to {high:g} (the training "
                f"range {train_low:g} to {train_high:g} widened by its width on each side{cut}); a typo or another "
                "unit?",
                file=file,
                patient=ids.iloc[i],
                row=row(i),
                column=term.source,
            )
        train_low, train_high = nomogram.training_range_[term.name]
        for i in np.flatnonzero((values < train_low) | (values > train_high)):
            outside[i].append(term.name)

    out = nomogram.points(frame, file=file).reset_index(drop=True)
    survival = nomogram.predict_survival(frame, nomogram.survival_times, file=file)
    for j, t in enumerate(nomogram.survival_times):
        out[f"survival_{t:g}m"] = survival[:, j]
    beyond = [t for t in nomogram.survival_times if t > nomogram.max_followup_months_]
    if beyond:
        log.warning(
            "survival at %s months is left empty (NaN): the training data's follow-up ends at %g months, "
            "after which the baseline hazard is unknown",
            ", ".join(f"{t:g}" for t in beyond),
            nomogram.max_followup_months_,
        )
    out[OUTSIDE_TRAINING_RANGE] = [";".join(names) for names in outside]
    flagged = [i for i, names in enumerate(outside) if names]
    if flagged:
        log.warning(
            "%d patient(s) have values outside the training range, scored by extrapolation and flagged in "
            "column %s (first: patient %s, %s)",
            len(flagged),
            OUTSIDE_TRAINING_RANGE,
            ids.iloc[flagged[0]],
            ", ".join(outside[flagged[0]]),
        )
    return out


def read_new_patients(path) -> pd.DataFrame:
    """The sheet of new patients (CSV or TSV; patient ids read as text).

    Raises
    ------
    InputError
        The sheet cannot be read or parsed, or a column name repeats in its header
        (pandas would read the first and rename the second).
    """
    try:
        header = read_table(path, header=None, nrows=1, dtype=str).iloc[0].tolist()
        sheet = read_table(path, dtype={col.PATIENT_ID: str})
    except OSError as err:
        raise InputError(f"cannot read the sheet of new patients ({err.strerror or err})", file=path) from None
    except ValueError as err:  # pandas' parser errors, an empty file, bytes that are not text
        reason = " ".join(str(err).split())
        raise InputError(f"cannot read the sheet of new patients ({reason})", file=path) from None
    repeated = first_repeat(str(name) for name in header)
    if repeated is not None:
        raise InputError("column name repeats in the header", file=path, column=repeated)
    return sheet


def score_new_patients_file(nomogram_path, sheet_path, output_path) -> pd.DataFrame:
    """Score the sheet of new patients ``sheet_path`` with the nomogram file
    ``nomogram_path`` and write the table to ``output_path`` (TSV).

    One implementation for ``survsig score`` and rule ``score_new``: every check of
    :meth:`CoxNomogram.load`, :func:`read_new_patients` and :func:`score_new_patients`
    runs before anything is written, and the table is written atomically, so on an
    error no output exists.

    Returns
    -------
    pandas.DataFrame
        The table written (:func:`score_new_patients`).
    """
    nomogram = CoxNomogram.load(nomogram_path)
    table = score_new_patients(nomogram, read_new_patients(sheet_path), file=str(sheet_path))
    write_tsv(table, output_path, float_format="%.10g")
    log.info("scored %d new patient(s) with nomogram %s: %s", len(table), nomogram.name or nomogram_path, output_path)
    return table


# --------------------------------------------------------------------------- figure
def _format_tick(value) -> str:
    text = f"{value:.6g}"
    return "0" if text in ("-0", "0") else text


def survival_axis(nomogram: CoxNomogram, t, ticks) -> tuple:
    """Positions (total points) and labels of the ``t``-month survival axis.

    The exact inverse of ``S(t) = S0(t)^exp(lp)`` places each tick; ticks whose
    linear predictor falls outside the linear predictor axis are left out, as
    ``rms`` does.
    """
    scale = nomogram.scale_
    s0 = float(np.exp(-nomogram._cumhaz(t)))
    lp_at = np.asarray(scale["lp_at"])
    positions, labels = [], []
    if not 0 < s0 < 1:
        return positions, labels
    for s in ticks:
        if not 0 < s < 1:
            continue
        lp = math.log(math.log(s) / math.log(s0))
        if lp_at.min() - 1e-12 <= lp <= lp_at.max() + 1e-12:
            positions.append((lp - scale["intercept"]) * scale["sc"])
            labels.append(_format_tick(s))
    return positions, labels


def plot_nomogram(
    nomogram: CoxNomogram,
    ax=None,
    *,
    survival_ticks=(0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05),
    title=None,
):
    """Draw the nomogram as ``rms``'s ``plot.nomogram`` does (Fig. 2A of the study).

    From the top: a Points axis (0-100), one axis per term with its values placed at
    their points, Total Points, Linear Predictor, and one overall-survival axis per
    ``nomogram.survival_times``. Faint vertical lines help reading points off.

    Parameters
    ----------
    nomogram : CoxNomogram
        A fitted nomogram.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure's when None.
    survival_ticks : sequence of float
        Survival probabilities marked on the survival axes.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    nomogram._check_fitted()
    scale = nomogram.scale_
    if ax is None:
        fig = new_figure(9, 1.0 + 0.55 * (len(nomogram.terms) + 3 + len(nomogram.survival_times)))
        ax = fig.add_subplot()
    total_ticks = np.asarray(scale["total_points"])
    total_max = float(total_ticks.max())
    to_x = 100.0 / total_max  # total points -> the points axis' width
    rows = [("Points", np.arange(0, 101, 10.0), [f"{v:g}" for v in range(0, 101, 10)], np.arange(0, 101, 5.0))]
    for term in nomogram.terms:
        axis = scale["axes"][term.name]
        values, points = np.asarray(axis["values"]), np.asarray(axis["points"])
        if term.kind == "binary":
            labels = [term.level_labels[int(v)] for v in values]
        else:
            labels = [_format_tick(v) for v in values]
        rows.append((_axis_title(term), points, labels, None))
    rows.append(("Total Points", total_ticks * to_x, [_format_tick(v) for v in total_ticks], None))
    lp_at = np.asarray(scale["lp_at"])
    rows.append(
        ("Linear Predictor", (lp_at - scale["intercept"]) * scale["sc"] * to_x, [_format_tick(v) for v in lp_at], None)
    )
    for t in nomogram.survival_times:
        positions, labels = survival_axis(nomogram, t, survival_ticks)
        rows.append((f"{horizon_text(t)} OS", np.asarray(positions) * to_x, labels, None))

    n = len(rows)
    ax.set_xlim(-48, 104)
    bbox = ax.get_position()
    units_per_inch = 152.0 / max(bbox.width * ax.figure.get_figwidth(), 1e-6)
    char_width = 0.6 * 8.5 / 72 * units_per_inch  # a DejaVu Sans character at 8.5 pt, in points units
    ax.set_ylim(n - 0.4, -0.9)
    ax.axis("off")
    for x in np.arange(0, 101, 10.0):
        ax.axvline(x, color="0.88", linewidth=0.6, zorder=0)
    for i, (label, positions, labels, minor) in enumerate(rows):
        y = i + 0.15
        ax.text(
            -46,
            y,
            label,
            ha="left",
            va="center",
            fontsize=10,
            fontweight="bold" if label in ("Points", "Total Points") else "normal",
        )
        if len(positions) == 0:
            ax.text(0, y, "(outside the range of the linear predictor)", fontsize=8, color="0.4", va="center")
            continue
        lo, hi = float(np.min(positions)), float(np.max(positions))
        ax.plot([lo, hi], [y, y], color="black", linewidth=0.9, solid_capstyle="butt")
        if minor is not None:
            for x in minor:
                ax.plot([x, x], [y, y - 0.1], color="black", linewidth=0.7)
        order = np.argsort(positions, kind="stable")
        last_right = -np.inf
        for k in order:
            x = float(positions[k])
            ax.plot([x, x], [y, y - 0.18], color="black", linewidth=0.9)
            text = labels[k]
            half = 0.5 * len(text) * char_width + 0.3 * char_width  # label half-width plus a gap
            if x - half < last_right:
                continue  # thin out labels that would overlap, as rms does with label.every
            ax.text(x, y - 0.24, text, ha="center", va="bottom", fontsize=8.5)
            last_right = x + half
    if title:
        ax.set_title(title, fontsize=12, fontweight="bold", loc="left")
    return ax


def _axis_title(term: Term) -> str:
    if term.kind == "binary":
        return term.label.split(" (")[0]
    return term.label


def nomogram_figure(nomogram: CoxNomogram, *, survival_ticks, title=None):
    """Fig. 2A: :func:`plot_nomogram` on a figure of its own, with a title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    with style():
        n_rows = len(nomogram.terms) + 3 + len(nomogram.survival_times)
        fig = new_figure(10, 1.2 + 0.62 * n_rows)
        ax = fig.add_axes([0.02, 0.02, 0.96, 0.92 if title else 0.96])
        plot_nomogram(nomogram, ax=ax, survival_ticks=survival_ticks)
        if title:
            fig.text(0.02, 0.985, title, ha="left", va="top", fontsize=12, fontweight="bold")
    return fig


# --------------------------------------------------------------------------- table figures
def table2_figure(table: pd.DataFrame, *, confidence=0.95, ties="efron"):
    """Table 2 of the study as a figure: HR (95% CI) and p per term, training and test set.

    Returns
    -------
    matplotlib.figure.Figure
    """
    counts = {
        s: int(table.loc[table["split"] == s, "n"].max()) if (table["split"] == s).any() else 0
        for s in col.SPLIT_LEVELS
    }
    headers = [
        ["", f"Training set (n = {counts[TRAIN]})", "", f"Test set (n = {counts[TEST]})", ""],
        [
            "Characteristics",
            f"Hazard ratio ({confidence:.0%} CI)",
            "p value",
            f"Hazard ratio ({confidence:.0%} CI)",
            "p value",
        ],
    ]
    lines = []
    group_titles = {"suv": "Metabolic parameters (SUV)", "signature": "Deep learning signature"}
    seen = set()
    for term in dict.fromkeys(table["term"]):
        rows = table[table["term"] == term].set_index("split")
        group = rows["group"].iloc[0]
        if group in group_titles and group not in seen:
            lines.append(([group_titles[group], "", "", "", ""], False, True))
            seen.add(group)
        cells = [suv_mathtext(str(rows["label"].iloc[0]))]
        for split in col.SPLIT_LEVELS:
            r = rows.loc[split] if split in rows.index else None
            if r is None or not np.isfinite(r["hr"]):
                cells += ["NA", ""]
            else:
                cells += [format_interval(r["hr"], r["hr_lower"], r["hr_upper"]), format_p_cell(r["p_value"])]
        lines.append((cells, group in group_titles, False))
    footnote = (
        f"Univariable Cox proportional hazards models ({ties.capitalize()} ties) fitted separately on "
        "each set; Wald confidence intervals and p values.\nHR per year of age, per g/mL of SUV, per "
        "training-set SD of a signature; binary factors: the named level vs. the reference.\n* p < 0.05"
    )
    return table_figure(
        "Table 2. Univariable hazard ratios on the training and test sets",
        headers,
        lines,
        footnote,
        widths=[3.6, 1.9, 0.9, 1.9, 0.9],
    )
