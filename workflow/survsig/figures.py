"""Saving figures: PNG and PDF, atomically and byte-for-byte repeatable; the colours of
the risk groups, shared by every figure that shows them."""

from __future__ import annotations

import sys

from .io import atomic_path

#: Colours of the low- and high-risk groups (Kaplan-Meier, subgroups, RNA-seq heatmap and
#: volcano): one palette, so a group looks the same in every figure.
RISK_GROUP_COLOURS = {"low": "#2c7bb6", "high": "#d7191c"}

#: rcParams applied when a PDF is written: TrueType (Type 42) fonts, which PDF readers and
#: journals handle as text, instead of Type 3 outlines.
PDF_STYLE = {"pdf.fonttype": 42}

PNG_METADATA = {"Software": None}
PDF_METADATA = {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None}


def save_figure(fig, png_path=None, pdf_path=None, *, dpi=200):
    """Write ``fig`` as PNG and/or PDF with no timestamps or versions.

    Works for pyplot figures (closed afterwards) and plain ``Figure`` objects alike;
    pyplot itself is never imported here, which keeps short jobs fast. PDFs embed their
    fonts as TrueType (:data:`PDF_STYLE`).
    """
    import matplotlib

    try:
        if png_path is not None:
            with atomic_path(png_path) as tmp:
                fig.savefig(tmp, format="png", dpi=dpi, facecolor="white", metadata=PNG_METADATA)
        if pdf_path is not None:
            with atomic_path(pdf_path) as tmp, matplotlib.rc_context(PDF_STYLE):
                fig.savefig(tmp, format="pdf", facecolor="white", metadata=PDF_METADATA)
    finally:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close(fig)
