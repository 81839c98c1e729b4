"""Model terms of the Cox nomograms: covariates coded from the patient table.

A :class:`Term` turns one column of the patient table into one number per patient: the
clinical factors coded as in Table 2 of the study (sex female vs male, age per year,
rT3-4 vs rT0-2, N1-3 vs N0, EBV DNA detectable vs undetectable; :data:`CLINICAL_TERMS`),
SUV columns (per g/mL, :func:`suv_term`) and deep learning signatures (per training SD,
:func:`signature_term`). :func:`design_matrix` encodes terms for every patient and refuses
bad values; :func:`patient_table` and :func:`read_patient_table` assemble the table the
terms are read from (the clinical sheet, the split and the signatures).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from survsig.core import columns as col
from survsig.core.errors import InputError
from survsig.core.files import read_split
from survsig.core.io import read_table
from survsig.core.jsonkeys import JsonKeys
from survsig.core.vocabulary import EN_DASH as DASH
from survsig.core.vocabulary import SUV_KIND_LABELS, SUV_SITE_LABELS, signature_label

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
def _split_labels(split: pd.DataFrame, *, file=None, levels=col.SPLIT_LEVELS) -> pd.Series:
    for column in (col.PATIENT_ID, col.SPLIT):
        if column not in split.columns:
            raise InputError("the split table lacks this column", file=file, column=column)
    ids = split[col.PATIENT_ID].astype(str)
    if ids.duplicated().any():
        raise InputError("duplicate patient in the split table", file=file, patient=ids[ids.duplicated()].iloc[0])
    bad = ~split[col.SPLIT].isin(levels)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"split label {split[col.SPLIT].iloc[i]!r} is not one of {', '.join(levels)}",
            file=file,
            patient=ids.iloc[i],
            row=i + 1,
            column=col.SPLIT,
        )
    return pd.Series(split[col.SPLIT].to_numpy(), index=ids.to_numpy())


def patient_table(
    clinical: pd.DataFrame, split: pd.DataFrame, signatures=None, *, files=None, levels=col.SPLIT_LEVELS
) -> pd.DataFrame:
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
    levels : sequence of str
        The split labels allowed (an external cohort's: ``("external",)``).

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
    labels = _split_labels(split, file=files.get("split"), levels=levels)
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
