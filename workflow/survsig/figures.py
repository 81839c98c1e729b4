"""Saving figures: PNG and PDF, atomically and byte-for-byte repeatable."""

from __future__ import annotations

import sys

from .io import atomic_path

PNG_METADATA = {"Software": None}
PDF_METADATA = {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None}


def save_figure(fig, png_path=None, pdf_path=None, *, dpi=200):
    """Write ``fig`` as PNG and/or PDF with no timestamps or versions.

    Works for pyplot figures (closed afterwards) and plain ``Figure`` objects alike;
    pyplot itself is never imported here, which keeps short jobs fast.
    """
    try:
        if png_path is not None:
            with atomic_path(png_path) as tmp:
                fig.savefig(tmp, format="png", dpi=dpi, facecolor="white", metadata=PNG_METADATA)
        if pdf_path is not None:
            with atomic_path(pdf_path) as tmp:
                fig.savefig(tmp, format="pdf", facecolor="white", metadata=PDF_METADATA)
    finally:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close(fig)
