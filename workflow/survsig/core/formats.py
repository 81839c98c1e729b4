"""How numbers are written in tables, figure annotations and legends.

One place for p-values, intervals, hazard ratios, median and survival text, so that a
number reads the same in every table and figure.
"""

from __future__ import annotations

import math

from survsig.core.vocabulary import EN_DASH, MINUS


def _finite(value) -> bool:
    try:
        return value is not None and math.isfinite(value)
    except TypeError:
        return False


def format_p_cell(p) -> str:
    """A p-value as a table cell: three decimals or ``< 0.001``, ``*`` when < 0.05; empty when undefined."""
    if not _finite(p):
        return ""
    text = "< 0.001" if p < 0.001 else f"{p:.3f}"
    return text + ("*" if p < 0.05 else "")


def format_p(p, *, digits=3) -> str:
    """A p-value in running text: ``p = 0.012`` or ``p < 0.001``; ``p = NA`` when undefined."""
    if not _finite(p):
        return "p = NA"
    floor = 10.0**-digits
    return f"p < {floor:.{digits}f}" if p < floor else f"p = {p:.{digits}f}"


def format_interval(center, lower, upper, digits=3, *, sep=EN_DASH) -> str:
    """``center (lower–upper)`` with ``digits`` decimals and minus signs; ``NA`` when not finite.

    Use ``sep=", "`` when the limits may be negative, so no dash meets a minus sign.
    """
    if not all(_finite(v) for v in (center, lower, upper)):
        return "NA"

    def number(v):
        return f"{v:.{digits}f}".replace("-", MINUS)

    return f"{number(center)} ({number(lower)}{sep}{number(upper)})"


def format_hr(hr, lower, upper, *, confidence=0.95) -> str:
    """``HR 4.56 (95% CI 2.80–7.42)``; ``HR NA`` when not estimable."""
    if not _finite(hr):
        return "HR NA"
    return f"HR {hr:.2f} ({100 * confidence:g}% CI {lower:.2f}{EN_DASH}{upper:.2f})"


def format_median(median, lower, upper) -> str:
    """``median OS 31.2 months (25.0–40.1)``; ``NR`` for a limit not reached."""

    def months(value):
        return f"{value:.1f}" if _finite(value) else "NR"

    if not _finite(median):
        if _finite(lower):
            return f"median OS not reached (lower limit {months(lower)} months)"
        return "median OS not reached"
    return f"median OS {months(median)} months ({months(lower)}{EN_DASH}{months(upper)})"


def format_survival(surv, lower, upper) -> str:
    """``89.2% (84.1–94.5)`` in percent; ``NA`` when not estimable."""
    if not _finite(surv):
        return "NA"
    if not (_finite(lower) and _finite(upper)):
        return f"{100 * surv:.1f}%"
    return f"{100 * surv:.1f}% ({100 * lower:.1f}{EN_DASH}{100 * upper:.1f})"


def suv_mathtext(label: str) -> str:
    """``Tumor SUVmax`` -> ``Tumor SUV$_{\\mathrm{max}}$`` (subscripts in figures)."""
    for kind in ("max", "peak", "mean"):
        label = label.replace(f"SUV{kind}", f"SUV$_{{\\mathrm{{{kind}}}}}$")
    return label
