"""The one check of survival data that every statistic runs: times, events and scores."""

from __future__ import annotations

import numpy as np

from survsig.core.columns import OS_EVENT, OS_MONTHS
from survsig.core.errors import InputError

#: What :func:`survival_arrays` demands of the times.
TIME_BOUNDS = {"finite": "finite", "non-negative": "finite and >= 0", "positive": "finite and > 0"}


def survival_arrays(time, event, score=None, *, times="finite", what=None) -> list:
    """``[time, event]`` (or ``[time, event, score]``) as checked numpy arrays.

    Parameters
    ----------
    time : array_like
        Follow-up times (months).
    event : array_like
        1 for a death, 0 for censoring.
    score : array_like, optional
        A finite risk score per patient (higher = higher risk).
    times : {"finite", "non-negative", "positive"}, default "finite"
        What the times must be besides numbers: a Cox model wants them > 0 (R's
        ``coxph`` refuses others), a Kaplan-Meier curve >= 0.
    what : str, optional
        Whose data they are ("the training set"), for messages.

    Returns
    -------
    list of numpy.ndarray
        ``time`` as float, ``event`` as int, ``score`` as float.

    Raises
    ------
    InputError
        Arrays of different lengths or not 1-d, a time out of bounds, an event neither 0
        nor 1, a score not finite.
    """
    of = f" of {what}" if what else ""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event)
    if time.ndim != 1 or event.shape != time.shape:
        raise InputError(f"survival times and events{of} must be 1-d arrays of equal length")
    bad = ~np.isfinite(time)
    if times == "non-negative":
        bad |= time < 0
    elif times == "positive":
        bad |= time <= 0
    elif times != "finite":
        raise ValueError(f"times must be one of {', '.join(TIME_BOUNDS)}, got {times!r}")
    if bad.any():
        raise InputError(f"survival times{of} must be {TIME_BOUNDS[times]} (months)", column=OS_MONTHS)
    if not np.isin(event, (0, 1)).all():
        raise InputError(f"events{of} must be 0 (censored) or 1 (death)", column=OS_EVENT)
    out = [time, event.astype(int)]
    if score is not None:
        score = np.asarray(score, dtype=float)
        if score.shape != time.shape:
            raise InputError(f"the score and the survival data{of} differ in length")
        if not np.isfinite(score).all():
            raise InputError(f"a score{of} is not finite")
        out.append(score)
    return out
