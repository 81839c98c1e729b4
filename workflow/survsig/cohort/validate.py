"""Ingest and validate a cohort's sheets: clinical table, image sheet, RNA-seq counts.

Every check stops at the first bad input with one :class:`~survsig.core.errors.InputError`
naming the file, the patient and/or 1-based data row, and the column as the user wrote
it. Validated sheets use the canonical names of :mod:`survsig.core.columns`; they are written
only once all of them passed (:func:`write_validated`), so nothing is half-written.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gzip
import logging
import math
import os
import re
import warnings
from pathlib import Path
from typing import NamedTuple

import jsonschema
import numpy as np
import pandas as pd
import yaml

from survsig.core import columns as C
from survsig.core import images as im
from survsig.core.errors import InputError
from survsig.core.io import atomic_path, first_repeat, read_table, write_tsv
from survsig.core.paths import SHEET_MAX_BYTES, checked_input_path

logger = logging.getLogger(__name__)

#: Name of the first column (gene identifiers) of the validated RNA-seq counts.
GENE_ID = "gene_id"

#: Cell values read as "no value" (compared after stripping, case-insensitively).
MISSING = frozenset({"", "na", "nan", "n/a", "null", "none"})

#: Count cells read as missing (pandas' defaults); gene ids are never NA-parsed.
COUNT_NA_VALUES = ("", "NA", "N/A", "n/a", "na", "NaN", "nan", "-nan", "NULL", "null", "None", "none", "<NA>", "#N/A")

#: Folder of the JSON schemas of the validated sheets (``workflow/schemas``).
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"

#: Canonical columns the config's ``cohort.columns`` may rename.
MAPPABLE_COLUMNS = (*C.CLINICAL_REQUIRED, *C.SUV_COLUMNS, C.SPLIT, *C.IMAGE_MODALITIES)

#: Canonical columns whose labels the config's ``cohort.labels`` may map.
LABELLED_LEVELS = {**C.CATEGORY_LEVELS, C.SPLIT: C.SPLIT_LEVELS, C.OS_EVENT: (0, 1)}


class ValidatedCohort(NamedTuple):
    """The validated sheets, in canonical columns.

    Attributes
    ----------
    clinical : pandas.DataFrame
        One row per patient: :data:`columns.CLINICAL_REQUIRED`, SUV columns present,
        ``split`` if present.
    images : pandas.DataFrame
        ``patient_id, ct, pet, roi``; paths relative to the working directory.
    rnaseq : pandas.DataFrame or None
        Raw counts, genes x samples: ``gene_id`` then one int64 column per patient.
    """

    clinical: pd.DataFrame
    images: pd.DataFrame
    rnaseq: pd.DataFrame | None = None


# ----------------------------------------------------------------------------- helpers


def _is_missing(value: str) -> bool:
    return value.strip().casefold() in MISSING


def _norm(label) -> str:
    """Label as compared: stripped, case-folded text (YAML may give numbers)."""
    return str(label).strip().casefold()


def _first_long_row(path, n_fields: int):
    """1-based data row of the first line with more fields than the header, if any."""
    name = str(path).lower().removesuffix(".gz")
    opener = gzip.open if str(path).lower().endswith(".gz") else open
    with opener(path, "rt", newline="") as handle:
        for row, fields in enumerate(csv.reader(handle, delimiter="," if name.endswith(".csv") else "\t")):
            if row > 0 and len(fields) > n_fields:
                return row
    return None


def _read_strict(path, *, n_fields=None, **kwargs) -> pd.DataFrame:
    """:func:`survsig.core.io.read_table` that fails on rows longer than the header.

    pandas would otherwise take a long row's first field as an index (shifting every
    value one column) or, with ``index_col=False``, silently drop the extra fields.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return read_table(path, index_col=False, **kwargs)
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except pd.errors.EmptyDataError:
        raise InputError("file is empty", file=path) from None
    except (pd.errors.ParserWarning, pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        problem = err
    row = None
    with contextlib.suppress(Exception):  # name the long row when there is one
        if n_fields is None:
            n_fields = len(read_table(path, header=None, nrows=1, dtype=str).columns)
        row = _first_long_row(path, n_fields)
    if row is not None:
        raise InputError(f"row has more fields than the header's {n_fields}", file=path, row=row) from None
    raise InputError(f"cannot parse table: {str(problem).strip()}", file=path) from None


def _read_sheet(path, what) -> pd.DataFrame:
    """Read a CSV/TSV sheet as text, so ids like ``007`` and bad cells survive as written.

    ``what`` names the sheet (``"the clinical sheet"``) when it is no file that may be
    read (:func:`~survsig.core.paths.checked_input_path`: a folder, a named pipe, a device).
    """
    checked_input_path(path, what=what, max_bytes=SHEET_MAX_BYTES)
    header = _read_strict(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    names = [str(name).strip() for name in header.iloc[0]]
    # pandas would rename a repeated column ("age", "age.1") and read the first silently
    repeated = first_repeat(names)
    if repeated is not None:
        raise InputError("column appears twice in the header", file=path, column=repeated)
    sheet = _read_strict(path, dtype=str, keep_default_na=False)
    sheet.columns = names
    sheet = sheet.fillna("")  # short rows leave NaN even when read as text
    if sheet.empty:
        raise InputError("no data rows below the header", file=path)
    return sheet


def _column_names(columns) -> dict[str, str]:
    """Canonical column -> user column name, from the config's ``cohort.columns``."""
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(MAPPABLE_COLUMNS))
    if unknown:
        raise InputError(
            f"config cohort.columns: unknown canonical column(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(MAPPABLE_COLUMNS)}"
        )
    return {canon: str(columns.get(canon, canon)).strip() for canon in MAPPABLE_COLUMNS}


def _require_columns(sheet, path, names, canonical) -> None:
    for canon in canonical:
        user = names[canon]
        if user not in sheet.columns:
            alias = "" if user == canon else f" (canonical '{canon}')"
            raise InputError(
                f"missing required column{alias}; columns present: {', '.join(sheet.columns)}",
                file=path,
                column=user,
            )


class _Labels:
    """Lookup of one categorical column: the user's labels and the canonical levels."""

    def __init__(self, canon: str, levels, mapping):
        self.levels = tuple(levels)
        self.lookup = {_norm(level): level for level in self.levels}  # canonical always accepted
        self.user_labels = []
        by_name = {_norm(level): level for level in self.levels}
        for level, labels in (mapping or {}).items():
            if _norm(level) not in by_name:
                raise InputError(
                    f"config cohort.labels.{canon}: unknown level {level!r}; "
                    f"levels are {', '.join(map(str, self.levels))}"
                )
            level = by_name[_norm(level)]
            for label in [labels] if isinstance(labels, (str, int, float)) else labels:
                key = _norm(label)
                if key in self.lookup and self.lookup[key] != level:
                    raise InputError(
                        f"config cohort.labels.{canon}: label {label!r} maps to both {self.lookup[key]!r} and {level!r}"
                    )
                self.lookup[key] = level
                self.user_labels.append(str(label))

    def accepted(self) -> str:
        extra = [label for label in self.user_labels if _norm(label) not in map(_norm, self.levels)]
        return ", ".join([*map(str, self.levels), *extra])


def _labels(canon, labels) -> _Labels:
    return _Labels(canon, LABELLED_LEVELS[canon], (labels or {}).get(canon))


def _check_labels_config(labels) -> None:
    unknown = sorted(set(labels or {}) - set(LABELLED_LEVELS))
    if unknown:
        raise InputError(
            f"config cohort.labels: labels given for column(s) {', '.join(map(repr, unknown))}, "
            f"which take no labels; labelled columns: {', '.join(LABELLED_LEVELS)}"
        )


#: Longest patient id, in UTF-8 bytes: ids name files (``{id}.npz`` and its temporary
#: ``.{id}.npz.XXXXXXXX.npz``) within the 255 bytes most file systems allow.
MAX_ID_BYTES = 200

#: Characters a patient id may not hold: path separators, Snakemake's wildcard braces and
#: path variables (``<name>``), and control characters.
_UNSAFE_ID = re.compile(r"[/\\{}<>\x00-\x1f\x7f]")


def id_problem(pid: str) -> str | None:
    """Why ``pid`` cannot be a patient id (it names files and Snakemake jobs), or None.

    Ids may hold letters of any script, digits, spaces and punctuation, except ``/``,
    ``\\``, ``{``, ``}``, ``<``, ``>`` and control characters; they may not start with
    ``-`` or ``.`` (read as an option, or a hidden or parent folder) and are at most
    :data:`MAX_ID_BYTES` bytes long.
    """
    bad = _UNSAFE_ID.search(pid)
    if bad:
        return f"patient id {pid!r} holds {bad.group()!r}; ids may not hold / \\ {{ }} < > or control characters"
    if pid.startswith(("-", ".")):
        return f"patient id {pid!r} starts with {pid[0]!r}; ids must start with a letter, digit or other character"
    if len(pid.encode()) > MAX_ID_BYTES:
        return f"patient id is {len(pid.encode())} bytes long; at most {MAX_ID_BYTES} are allowed (it names files)"
    return None


def _patient_ids(sheet, path, column) -> pd.Series:
    """Stripped patient ids; raises on the first missing, unsafe or repeated id."""
    ids = sheet[column].str.strip()
    first_row = {}
    for i, pid in enumerate(ids):
        if _is_missing(pid):
            raise InputError("missing patient id", file=path, row=i + 1, column=column)
        problem = id_problem(pid)
        if problem:
            raise InputError(problem, file=path, row=i + 1, column=column)
        if pid in first_row:
            raise InputError(
                f"duplicate patient id (first on row {first_row[pid]})",
                file=path,
                patient=pid,
                row=i + 1,
                column=column,
            )
        first_row[pid] = i + 1
    return ids


def _numbers(sheet, path, column, ids, what) -> pd.Series:
    """Finite floats of one column; raises on the first missing or non-numeric cell."""
    raw = sheet[column].str.strip()
    missing = raw.map(_is_missing)
    values = pd.to_numeric(raw.mask(missing), errors="coerce")
    bad = missing | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        if missing.iloc[i]:
            reason = f"{what} is missing"
        elif pd.isna(values.iloc[i]):
            reason = f"{what} is not a number: {raw.iloc[i]!r}"
        else:
            reason = f"{what} is not a finite number: {raw.iloc[i]!r}"
        raise InputError(reason, file=path, patient=ids.iloc[i], row=i + 1, column=column)
    return values.astype(float)


def _first_failing(values, ok, path, column, ids, reason) -> None:
    """Raise ``reason(value)`` for the first row where ``ok`` is False."""
    ok = np.asarray(ok)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise InputError(reason(values.iloc[i]), file=path, patient=ids.iloc[i], row=i + 1, column=column)


def _categories(sheet, path, column, ids, lookup: _Labels, what) -> pd.Series:
    """Canonical levels of one labelled column; raises on the first unknown label."""
    out = []
    for i, raw in enumerate(sheet[column]):
        level = lookup.lookup.get(_norm(raw))
        if level is None:
            reason = f"{what} is missing" if _is_missing(raw) else f"unknown {what} label {raw.strip()!r}"
            raise InputError(
                f"{reason}; accepted labels: {lookup.accepted()}",
                file=path,
                patient=ids.iloc[i],
                row=i + 1,
                column=column,
            )
        out.append(level)
    return pd.Series(out, index=sheet.index, dtype=object)


def _events(sheet, path, column, ids, lookup: _Labels) -> pd.Series:
    """0/1 event indicators, from 0/1 numbers (``1.0`` too) or the config's labels."""
    out = []
    for i, raw in enumerate(sheet[column]):
        event = lookup.lookup.get(_norm(raw))
        if event is None:
            with contextlib.suppress(ValueError):
                number = float(raw)
                event = int(number) if number in (0.0, 1.0) else None
        if event is None:
            reason = (
                "event is missing"
                if _is_missing(raw)
                else f"event must be 0 (censored) or 1 (death), got {raw.strip()!r}"
            )
            extra = f"; accepted labels: {lookup.accepted()}" if lookup.user_labels else ""
            raise InputError(reason + extra, file=path, patient=ids.iloc[i], row=i + 1, column=column)
        out.append(int(event))
    return pd.Series(out, index=sheet.index, dtype="int64")


@functools.cache
def _schema_validator(name: str) -> jsonschema.protocols.Validator:
    schema = yaml.safe_load((SCHEMA_DIR / f"{name}.schema.yaml").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def check_schema(frame: pd.DataFrame, name: str, *, path=None, user_names=None) -> None:
    """Validate each row of a canonical sheet against ``workflow/schemas/{name}.schema.yaml``.

    This is the last guard: the checks above should have caught every problem, and the
    schema files are the written contract of the validated sheets.

    Parameters
    ----------
    frame : pandas.DataFrame
        Canonical sheet (``patient_id`` column first).
    name : {"clinical", "images"}
        Schema name.
    path : str or path, optional
        The user's file, named in the error.
    user_names : dict, optional
        Canonical -> user column name, so the error names the user's column.

    Raises
    ------
    InputError
        On the first row that does not satisfy the schema.
    """
    validator = _schema_validator(name)
    user_names = user_names or {}
    for i, record in enumerate(frame.to_dict("records")):
        error = jsonschema.exceptions.best_match(validator.iter_errors(record))
        if error is not None:
            canon = error.path[0] if error.path else None
            raise InputError(
                f"breaks the {name} sheet schema: {error.message}",
                file=path,
                patient=record.get(C.PATIENT_ID),
                row=i + 1,
                column=user_names.get(canon, canon),
            )


# ----------------------------------------------------------------------------- sheets


def validate_clinical(path, *, columns=None, labels=None) -> pd.DataFrame:
    """Validate the clinical sheet and return it with canonical columns and levels.

    Parameters
    ----------
    path : str or path
        CSV or TSV, one row per patient.
    columns : dict, optional
        Canonical column name -> the user's column name (config ``cohort.columns``).
    labels : dict, optional
        Canonical column -> {canonical level -> list of the user's labels} (config
        ``cohort.labels``); labels match case-insensitively after stripping, and the
        canonical levels are always accepted.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`columns.CLINICAL_REQUIRED`, then the SUV columns present, then
        ``split`` if present. ``os_months`` float (> 0), ``os_event`` int (0/1), ``age``
        float, categories as canonical levels, SUV float (>= 0).

    Raises
    ------
    InputError
        On the first bad cell or missing column, naming file, patient, row and column.
    """
    names = _column_names(columns)
    _check_labels_config(labels)
    sheet = _read_sheet(path, "the clinical sheet")
    _require_columns(sheet, path, names, C.CLINICAL_REQUIRED)
    # optional columns: present in the sheet, or named in the config (then required)
    optional = [
        canon for canon in (*C.SUV_COLUMNS, C.SPLIT) if names[canon] in sheet.columns or canon in (columns or {})
    ]
    _require_columns(sheet, path, names, optional)

    pid_col = names[C.PATIENT_ID]
    ids = _patient_ids(sheet, path, pid_col)
    out = {C.PATIENT_ID: ids}

    col = names[C.OS_MONTHS]
    months = _numbers(sheet, path, col, ids, "survival time (months)")
    _first_failing(months, months > 0, path, col, ids, lambda v: f"survival time (months) must be > 0, got {v:g}")
    _first_failing(
        months,
        months <= C.MAX_MONTHS,
        path,
        col,
        ids,
        lambda v: f"survival time of {v:g} months is over {C.MAX_MONTHS // 12} years: is the column in months?",
    )
    out[C.OS_MONTHS] = months

    out[C.OS_EVENT] = _events(sheet, path, names[C.OS_EVENT], ids, _labels(C.OS_EVENT, labels))

    col = names["age"]
    age = _numbers(sheet, path, col, ids, "age")
    _first_failing(
        age,
        (age >= 0) & (age <= C.MAX_AGE),
        path,
        col,
        ids,
        lambda v: f"age must be between 0 and {C.MAX_AGE} years, got {v:g}",
    )
    out["age"] = age

    for canon in C.CATEGORY_LEVELS:
        out[canon] = _categories(sheet, path, names[canon], ids, _labels(canon, labels), canon)

    for canon in optional:
        col = names[canon]
        if canon == C.SPLIT:
            out[canon] = _categories(sheet, path, col, ids, _labels(canon, labels), "split")
            continue
        suv = _numbers(sheet, path, col, ids, "SUV")
        _first_failing(
            suv,
            (suv >= 0) & (suv <= C.MAX_SUV),
            path,
            col,
            ids,
            lambda v: f"SUV must be between 0 and {C.MAX_SUV:g} g/mL, got {v:g}",
        )
        out[canon] = suv

    frame = pd.DataFrame(out).reset_index(drop=True)
    check_schema(frame, "clinical", path=path, user_names=names)
    ignored = [c for c in sheet.columns if c not in {names[k] for k in frame.columns}]
    logger.info(
        "clinical sheet %s: %d patients, %d events, optional columns %s%s",
        path,
        len(frame),
        int(frame[C.OS_EVENT].sum()),
        ", ".join(optional) or "none",
        f"; ignored columns: {', '.join(ignored)}" if ignored else "",
    )
    return frame


def _resolve(sheet_dir: Path, value: str) -> Path:
    """Image path as written in the sheet, relative to the sheet's folder unless absolute."""
    path = Path(os.path.expanduser(value.strip()))
    return path if path.is_absolute() else sheet_dir / path


def validate_images(path, patient_ids, *, columns=None) -> pd.DataFrame:
    """Validate the image sheet against the clinical patients and the image files.

    CT and PET are read header-only; the ROI is read fully to find its labelled voxels.
    The ROI must lie on the CT or the PET grid, hold a nonzero voxel, and its labelled
    voxels must overlap both the CT and the PET field of view in physical space.

    Parameters
    ----------
    path : str or path
        CSV or TSV with ``patient_id, ct, pet, roi``; image paths relative to the
        sheet's folder (or absolute): NIfTI, NRRD, MetaImage or a DICOM series folder.
    patient_ids : sequence of str
        Patients of the validated clinical sheet; each needs exactly one image row.
    columns : dict, optional
        Canonical -> user column names (``patient_id``, ``ct``, ``pet``, ``roi``); a
        column absent under its mapped name is looked up under its canonical name.

    Returns
    -------
    pandas.DataFrame
        ``patient_id, ct, pet, roi`` in the order of ``patient_ids``; paths relative to
        the current working directory.

    Raises
    ------
    InputError
        On the first bad row or image, naming the sheet, patient, row and column (and
        the image path in the message).
    """
    names = _column_names(columns)
    sheet = _read_sheet(path, "the image sheet")
    for canon in C.IMAGE_COLUMNS:
        # the user writes this sheet for the pipeline: a renamed clinical patient_id
        # column may still be called patient_id here
        if names[canon] not in sheet.columns and canon in sheet.columns:
            names[canon] = canon
    _require_columns(sheet, path, names, C.IMAGE_COLUMNS)
    pid_col = names[C.PATIENT_ID]
    ids = _patient_ids(sheet, path, pid_col)

    clinical = [str(p) for p in patient_ids]
    known = set(clinical)
    for i, pid in enumerate(ids):
        if pid not in known:
            raise InputError("patient is not in the clinical sheet", file=path, patient=pid, row=i + 1, column=pid_col)
    listed = set(ids)
    without = [pid for pid in clinical if pid not in listed]
    if without:
        more = f" (and {len(without) - 1} more)" if len(without) > 1 else ""
        raise InputError(f"clinical patient has no image row{more}", file=path, patient=without[0], column=pid_col)

    sheet_dir = Path(path).resolve().parent
    row_of = {pid: i for i, pid in enumerate(ids)}
    step = max(1, math.ceil(len(clinical) / 10))
    records = []
    for k, pid in enumerate(clinical, start=1):
        i = row_of[pid]
        where = {"file": path, "patient": pid, "row": i + 1}
        files, headers = {}, {}
        for canon in C.IMAGE_MODALITIES:
            col = names[canon]
            raw = sheet.at[i, col]
            if _is_missing(raw):
                raise InputError(f"{canon.upper()} image path is missing", column=col, **where)
            files[canon] = _resolve(sheet_dir, raw)
            if not files[canon].exists():
                raise InputError(f"image file not found: {files[canon]}", column=col, **where)
            if canon != "roi":
                headers[canon] = _image_header(files[canon], col, where)
        roi = _roi_image(files["roi"], names["roi"], where)
        _check_roi(roi, headers, files["roi"], names["roi"], where)
        records.append({C.PATIENT_ID: pid, **{m: os.path.relpath(files[m]) for m in C.IMAGE_MODALITIES}})
        if k % step == 0 or k == len(clinical):
            logger.info("checked images of %d/%d patients", k, len(clinical))

    frame = pd.DataFrame(records, columns=list(C.IMAGE_COLUMNS))
    check_schema(frame, "images", path=path, user_names=names)
    return frame


def _check_volume(header: im.ImageHeader, file, column, where) -> None:
    # later stages cut axial slices of scalar volumes
    if header.dimension != 3:
        raise InputError(f"expected a 3-D image, got {header.dimension}-D: {file}", column=column, **where)
    if header.components != 1:
        raise InputError(
            f"expected a scalar image, got {header.components} components per voxel: {file}",
            column=column,
            **where,
        )


def _image_header(file: Path, column, where) -> im.ImageHeader:
    try:
        header = im.read_image_header(file)
    except InputError as err:
        raise InputError(f"{err.reason}: {file}", column=column, **where) from None
    _check_volume(header, file, column, where)
    return header


def _roi_image(file: Path, column, where):
    try:
        roi = im.read_image(file)
    except InputError as err:
        raise InputError(f"{err.reason}: {file}", column=column, **where) from None
    _check_volume(im.ImageHeader.from_image(roi), file, column, where)
    return roi


def _check_roi(roi, headers, file, column, where) -> None:
    """ROI: labelled, on the CT or PET grid, inside both fields of view."""
    box = im.label_index_box(roi)
    if box is None:
        raise InputError(f"ROI is empty (no nonzero voxel): {file}", column=column, **where)
    if not (im.same_grid(roi, headers["ct"]) or im.same_grid(roi, headers["pet"])):
        raise InputError(
            f"ROI grid matches neither the CT nor the PET grid: {file} "
            f"(ROI {im.ImageHeader.from_image(roi).describe()}; CT {headers['ct'].describe()}; "
            f"PET {headers['pet'].describe()})",
            column=column,
            **where,
        )
    tumour = im.physical_extent(roi, *box)
    for modality in ("ct", "pet"):
        view = im.physical_extent(headers[modality])
        if not im.extents_overlap(tumour, view):
            raise InputError(
                f"ROI does not overlap the {modality.upper()} field of view: {file} "
                f"(labelled voxels {im.format_extent(tumour)}; {modality.upper()} {im.format_extent(view)})",
                column=column,
                **where,
            )


def validate_rnaseq(path, patient_ids) -> pd.DataFrame:
    """Validate raw RNA-seq counts (genes x samples, sample ids = patient ids).

    Parameters
    ----------
    path : str or path
        CSV or TSV; first column gene ids, then one column per sample.
    patient_ids : sequence of str
        Patients of the validated clinical sheet. Every sample must be one of them;
        patients without counts are fine.

    Returns
    -------
    pandas.DataFrame
        ``gene_id`` (str) then one int64 count column per sample, in file order.

    Raises
    ------
    InputError
        On missing, non-numeric, negative or non-integer counts (naming the gene's row
        and the sample column), missing or duplicate gene ids, duplicate sample columns,
        or samples absent from the clinical sheet.
    """
    checked_input_path(path, what="the RNA-seq counts", max_bytes=SHEET_MAX_BYTES)
    header = _read_strict(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    names = [str(name).strip() for name in header.iloc[0]]
    # positional names: pandas would otherwise rename duplicate sample columns
    counts = _read_strict(
        path,
        n_fields=len(names),
        header=None,
        skiprows=1,
        names=list(range(len(names))),
        dtype={0: str},
        keep_default_na=False,
        na_values={j: list(COUNT_NA_VALUES) for j in range(1, len(names))},
    )
    if len(names) < 2:
        raise InputError("no sample columns: expected gene ids then one column per sample", file=path)
    if counts.empty:
        raise InputError("no gene rows below the header", file=path)

    gene_col, samples = names[0], names[1:]
    genes = counts[0].fillna("").astype(str).str.strip()
    first_row = {}
    for i, gene in enumerate(genes):
        if _is_missing(gene):
            raise InputError("missing gene id", file=path, row=i + 1, column=gene_col)
        if gene in first_row:
            raise InputError(
                f"duplicate gene id {gene!r} (first on row {first_row[gene]})", file=path, row=i + 1, column=gene_col
            )
        first_row[gene] = i + 1

    known = {str(p) for p in patient_ids}
    seen = set()
    for sample in samples:
        if _is_missing(sample):
            raise InputError("sample column without a name", file=path, column=sample)
        if sample in seen:
            raise InputError(f"duplicate sample column {sample!r}", file=path, column=sample)
        seen.add(sample)
        if sample not in known:
            raise InputError(
                f"sample {sample!r} is not a patient of the clinical sheet", file=path, patient=sample, column=sample
            )

    matrix = {GENE_ID: genes.to_numpy()}
    for j, sample in enumerate(samples, start=1):
        matrix[sample] = _count_column(counts[j], path, sample, genes)
    frame = pd.DataFrame(matrix)
    logger.info(
        "RNA-seq counts %s: %d genes x %d samples; %d clinical patients without counts",
        path,
        len(frame),
        len(samples),
        len(known - seen),
    )
    return frame


def _count_column(raw: pd.Series, path, sample, genes) -> np.ndarray:
    """One sample's counts as int64; raises on the first bad cell, naming gene and row."""
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    missing = raw.isna().to_numpy()
    with np.errstate(invalid="ignore"):
        bad = missing | ~np.isfinite(values) | (values < 0) | (values != np.round(values))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        value = values[i]
        if missing[i]:
            reason = "count is missing"
        elif np.isnan(value) or not np.isfinite(value):
            reason = f"count is not a number: {str(raw.iloc[i]).strip()!r}"
        elif value < 0:
            reason = f"count must be >= 0, got {value:g}"
        else:
            reason = f"count must be a whole number (raw counts, not normalised), got {value:g}"
        raise InputError(f"gene {genes.iloc[i]!r}: {reason}", file=path, row=i + 1, column=sample)
    return values.astype(np.int64)


# ----------------------------------------------------------------------------- cohort


def validate_cohort(*, clinical, images, rnaseq=None, columns=None, labels=None) -> ValidatedCohort:
    """Validate all sheets of a cohort; nothing is written.

    Parameters
    ----------
    clinical, images : str or path
        The clinical sheet and the image sheet.
    rnaseq : str or path, optional
        Raw counts, genes x samples.
    columns, labels : dict, optional
        Config ``cohort.columns`` and ``cohort.labels`` (see :func:`validate_clinical`);
        ``columns`` also renames the image sheet's ``patient_id, ct, pet, roi``.

    Returns
    -------
    ValidatedCohort
        ``(clinical, images, rnaseq)`` frames; ``rnaseq`` is None without counts.

    Raises
    ------
    InputError
        On the first bad input of any sheet.
    """
    logger.info("validating clinical sheet %s", clinical)
    clinical_frame = validate_clinical(clinical, columns=columns, labels=labels)
    patient_ids = clinical_frame[C.PATIENT_ID].tolist()
    logger.info("validating image sheet %s", images)
    images_frame = validate_images(images, patient_ids, columns=columns)
    counts = None
    if rnaseq is not None:
        logger.info("validating RNA-seq counts %s", rnaseq)
        counts = validate_rnaseq(rnaseq, patient_ids)
    logger.info("cohort valid: %d patients", len(clinical_frame))
    return ValidatedCohort(clinical_frame, images_frame, counts)


def write_validated(cohort: ValidatedCohort, *, clinical, images, rnaseq=None) -> None:
    """Write the validated sheets as TSV, all or none.

    Each sheet goes to a temporary file first; they are moved into place together only
    after every sheet was written, so a failure leaves no output behind.

    Parameters
    ----------
    cohort : ValidatedCohort
        As returned by :func:`validate_cohort`.
    clinical, images : str or path
        Output paths of the clinical and image sheets.
    rnaseq : str or path, optional
        Output path of the counts; required exactly when ``cohort.rnaseq`` is not None.
    """
    if (rnaseq is None) != (cohort.rnaseq is None):
        raise ValueError("write_validated: give an rnaseq path exactly when the cohort has RNA-seq counts")
    targets = [(cohort.clinical, clinical), (cohort.images, images)]
    if rnaseq is not None:
        targets.append((cohort.rnaseq, rnaseq))
    with contextlib.ExitStack() as stack:
        for frame, path in targets:
            write_tsv(frame, stack.enter_context(atomic_path(path)))
    logger.info("wrote %s", ", ".join(str(path) for _, path in targets))
