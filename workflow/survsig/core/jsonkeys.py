"""Checked reading of JSON files written by the workflow (nomograms): the file itself
(:func:`read_json`: a regular file of bounded size and nesting) and typed reads of each
key, one :class:`~survsig.core.errors.InputError` per problem, naming file and key."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from survsig.core.errors import InputError
from survsig.core.paths import JSON_MAX_BYTES, read_checked_bytes

MISSING = object()

#: Deepest nesting of arrays and objects read: 64. A nomogram file nests 5 deep
#: (``points_scale.axes.{term}.values``); Python's parser recurses once per level and
#: fails with a RecursionError some thousand levels down.
MAX_JSON_DEPTH = 64


def json_depth(value, limit: int) -> int:
    """Deepest nesting of arrays and objects in the parsed ``value``, counted up to
    ``limit + 1`` (the walk stops there), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, (list, dict)):
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def read_json(path, *, what, max_bytes=JSON_MAX_BYTES, max_depth=MAX_JSON_DEPTH):
    """The JSON value in the file ``path``, read with bounds on size and nesting.

    Parameters
    ----------
    path : str or path
    what : str
        What the file is, with its article (``"the nomogram file"``), for the message.
    max_bytes : int
        Largest file read (:data:`~survsig.core.paths.JSON_MAX_BYTES`).
    max_depth : int
        Deepest nesting of arrays and objects (:data:`MAX_JSON_DEPTH`).

    Raises
    ------
    InputError
        Naming the file: not a regular file that may be read
        (:func:`~survsig.core.paths.read_checked_bytes`), too large, not UTF-8 text, not
        JSON, or nested deeper than ``max_depth``.
    """
    data = read_checked_bytes(path, what=what, max_bytes=max_bytes)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{what} is not text ({err})", file=path) from None
    too_deep = f"{what} nests arrays and objects more than {max_depth} deep: not a file of this workflow"
    try:
        value = json.loads(text)
    except RecursionError:  # the parser gives up some thousand levels down
        raise InputError(too_deep, file=path) from None
    except ValueError as err:
        raise InputError(f"{what} is not valid JSON ({err})", file=path) from None
    if json_depth(value, max_depth) > max_depth:
        raise InputError(too_deep, file=path)
    return value


def json_type(value) -> str:
    """What a JSON value is, in JSON's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def show(value, limit=60) -> str:
    """A value as the JSON file writes it, cut to ``limit`` characters."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class JsonKeys:
    """Typed reads of a JSON file's keys; each problem is one :class:`InputError`
    naming the file and the key (``coef.age``, ``baseline.times[3]``).

    Parameters
    ----------
    file : str or path, optional
        The file, named in every error.
    kind : str
        What the file is ("nomogram"), the first word of every error.
    """

    def __init__(self, file=None, *, kind="JSON"):
        self.file = None if file is None else str(file)
        self.kind = kind

    def error(self, key, reason) -> InputError:
        return InputError(f"{self.kind} key '{key}' {reason}", file=self.file)

    def get(self, data, name, where=None, default=MISSING):
        key = name if where is None else f"{where}.{name}"
        if name not in data:
            if default is MISSING:
                raise self.error(key, "is missing")
            return default
        return data[name]

    def mapping(self, value, key) -> dict:
        if not isinstance(value, dict):
            raise self.error(key, f"must be an object, got {json_type(value)}")
        return value

    def array(self, value, key, *, length=None, min_length=1) -> list:
        if not isinstance(value, list):
            raise self.error(key, f"must be an array, got {json_type(value)}")
        if length is not None and len(value) != length:
            raise self.error(key, f"must hold {length} values, got {len(value)}")
        if len(value) < min_length:
            raise self.error(key, f"must hold at least {min_length} value(s), got {len(value)}")
        return value

    def text(self, value, key) -> str:
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, got {json_type(value)}")
        return value

    def texts(self, value, key, *, length=None, min_length=1) -> tuple:
        values = self.array(value, key, length=length, min_length=min_length)
        return tuple(self.text(v, f"{key}[{i}]") for i, v in enumerate(values))

    def number(self, value, key, *, low=None, high=None, above=None, below=None, integer=False) -> float:
        """A finite number (``low <= value <= high``, ``above < value < below``)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"must be a number, got {json_type(value)} {show(value)}")
        if not math.isfinite(value):
            raise self.error(key, f"must be a finite number, got {show(value)}")
        if integer and value != int(value):
            raise self.error(key, f"must be a whole number, got {show(value)}")
        if low is not None and value < low:
            raise self.error(key, f"must be at least {low:g}, got {show(value)}")
        if high is not None and value > high:
            raise self.error(key, f"must be at most {high:g}, got {show(value)}")
        if above is not None and not value > above:
            raise self.error(key, f"must be greater than {above:g}, got {show(value)}")
        if below is not None and not value < below:
            raise self.error(key, f"must be less than {below:g}, got {show(value)}")
        return int(value) if integer else float(value)

    def numbers(self, value, key, *, length=None, min_length=1, **bounds) -> np.ndarray:
        values = self.array(value, key, length=length, min_length=min_length)
        return np.array([self.number(v, f"{key}[{i}]", **bounds) for i, v in enumerate(values)], dtype=float)

    def per_term(self, data, name, terms, **bounds) -> pd.Series:
        """``data[name]``: an object with one finite number per term, and no other key."""
        table = self.mapping(self.get(data, name), name)
        extra = [k for k in table if k not in terms]
        if extra:
            raise self.error(
                name, f"has an entry {extra[0]!r} that is not a term of the nomogram (terms: {', '.join(terms)})"
            )
        values = [self.number(self.get(table, t, name), f"{name}.{t}", **bounds) for t in terms]
        return pd.Series(values, index=list(terms), dtype=float)

    def close(self, actual, expected, key, what) -> None:
        """Refuse ``actual`` unless it equals ``expected`` (recomputed from other keys) to rounding."""
        actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
        overflow = ~np.isfinite(expected)
        if overflow.any():  # inf equals inf: such a check would pass anything
            i = int(np.flatnonzero(overflow.ravel())[0])
            raise self.error(
                key, f"cannot be checked: {what} is not finite ({float(expected.ravel()[i])!r}): numbers too large"
            )
        tolerance = 1e-9 * (1.0 + np.abs(expected))
        far = np.abs(actual - expected) > tolerance
        if far.any():
            i = int(np.flatnonzero(far.ravel())[0])
            raise self.error(
                key, f"disagrees with {what} ({actual.ravel()[i]!r} vs {expected.ravel()[i]!r}): was the file edited?"
            )
