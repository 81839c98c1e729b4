"""Axis arithmetic of ``rms`` nomograms: R's ``pretty()`` and the points scale.

:func:`r_pretty` ports R's ``pretty()``; :func:`axis_values` picks the values marked on a
term's axis as ``rms::nomogram`` does, and :func:`points_scale` maps each term's effect
onto ``rms``'s 0-100 points and the total points onto the linear predictor.
"""

from __future__ import annotations

import math

import numpy as np

from survsig.core.errors import InputError


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
