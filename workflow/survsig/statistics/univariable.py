"""Table 2 of the study: univariable Cox hazard ratios on the training and the test set.

:func:`table2_terms` lists the terms of Table 2 (the clinical factors, the SUV columns and
each deep learning signature), :func:`univariable_table` fits one Cox model per term and
split (:func:`~survsig.survival.cox.fit_cox`, Efron or Breslow ties) and
:func:`table2_figure` draws the table.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from survsig.core import columns as col
from survsig.core.errors import InputError
from survsig.core.figures import table_figure
from survsig.core.formats import format_interval, format_p_cell, suv_mathtext
from survsig.statistics.terms import CLINICAL_TERMS, Term, design_matrix, signature_term, suv_term, term_for
from survsig.survival.cox import fit_cox

log = logging.getLogger(__name__)

TRAIN, TEST = col.SPLIT_LEVELS


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
        :func:`~survsig.statistics.terms.patient_table` output (``os_months``, ``os_event``,
        ``split`` and the terms' columns).
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
