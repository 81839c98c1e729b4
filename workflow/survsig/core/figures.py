"""The figures' floor: one style, one palette, and one way to make and save a figure.

Every figure of the workflow is a :class:`matplotlib.figure.Figure` made by
:func:`new_figure` inside :func:`style`; the package's functions draw and return it,
and the workflow's scripts write it with :func:`save_figure`. Pyplot is never imported,
which keeps short jobs fast and leaves no global state between figures.
"""

from __future__ import annotations

import sys

from survsig.core.io import atomic_path

#: Colours of the low- and high-risk groups (Kaplan-Meier, subgroups, RNA-seq heatmap and
#: volcano): one palette, so a group looks the same in every figure.
RISK_GROUP_COLOURS = {"low": "#2c7bb6", "high": "#d7191c"}
#: Colours of the treatments (treatment within risk groups).
TREATMENT_COLOURS = {"surgery": "#1b9e77", "reirradiation": "#7570b3", "chemotherapy": "#d95f02"}

#: rcParams of every figure. Fonts are DejaVu Sans (matplotlib's own, on every machine)
#: embedded in PDFs as TrueType (Type 42), which PDF readers and journals handle as text;
#: paths are drawn as computed (no simplification of survival curves).
STYLE = {
    "font.family": "DejaVu Sans",
    "mathtext.default": "regular",
    "pdf.fonttype": 42,
    "path.simplify": False,
    "svg.hashsalt": "survsig",
}

#: Sizes per kind of figure, on top of :data:`STYLE`. ``plot``: single panels (ROC,
#: calibration, decision curves, nomograms); ``table``: the study's tables; ``km``:
#: Kaplan-Meier panels with at-risk tables; ``panel``: small multiples (RNA-seq,
#: subgroups, training curves).
KIND_STYLES = {
    "plot": {},
    "table": {"font.size": 9.5},
    "km": {"font.size": 9, "axes.linewidth": 0.8},
    "panel": {
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.labelsize": 9,
        "legend.fontsize": 8,
        "xtick.labelsize": 8,
        "ytick.labelsize": 8,
        "axes.spines.top": False,
        "axes.spines.right": False,
    },
}

PNG_METADATA = {"Software": None}
PDF_METADATA = {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None}


def style(kind: str = "plot"):
    """Context manager applying :data:`STYLE` and the sizes of ``kind``.

    Fonts are fixed when artists are made, so make and draw a figure inside it.
    """
    import matplotlib

    if kind not in KIND_STYLES:
        raise ValueError(f"unknown figure kind {kind!r}; one of {', '.join(KIND_STYLES)}")
    return matplotlib.rc_context({**STYLE, **KIND_STYLES[kind]})


def styled(kind: str = "plot"):
    """Decorator: run a drawing function inside :func:`style` of ``kind``."""
    import functools

    def decorate(draw):
        @functools.wraps(draw)
        def wrapper(*args, **kwargs):
            with style(kind):
                return draw(*args, **kwargs)

        return wrapper

    return decorate


def new_figure(width, height):
    """A white, pyplot-free figure of ``width`` x ``height`` inches; make it inside :func:`style`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    fig.patch.set_facecolor("white")
    return fig


def axes_in_inches(fig, left, bottom, width, height):
    """Add axes placed in inches from the figure's lower-left corner."""
    fig_w, fig_h = fig.get_size_inches()
    return fig.add_axes([left / fig_w, bottom / fig_h, width / fig_w, height / fig_h])


def save_figure(fig, png_path=None, pdf_path=None, *, dpi=200):
    """Write ``fig`` as PNG and/or PDF, atomically, with no timestamps or versions.

    Saving applies :data:`STYLE`, so every PDF embeds its fonts as TrueType. Pyplot
    figures are closed afterwards.
    """
    import matplotlib

    try:
        with matplotlib.rc_context(STYLE):
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


def table_figure(title, headers, lines, footnote, *, widths):
    """A three-line table, as the study's tables are printed.

    Parameters
    ----------
    title : str
    headers : list of (str, str)
        Two header rows: ``headers[0]`` spans column groups (may hold empty strings; a
        group spans 2 columns, or ``span`` given as a ``(text, span)`` cell),
        ``headers[1]`` names every column.
    lines : list of (list of str, bool, bool)
        Cells of a row, whether the first cell is indented, whether the row is bold.
        A cell holding ``*`` (a p-value below 0.05) is bold.
    footnote : str
    widths : list of float
        Column widths, inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.lines
    import numpy as np

    row_h, top = 0.3, 0.3
    width = sum(widths) + 0.6
    height = top + 0.45 + 2 * row_h + row_h * len(lines) + 0.25 + 0.2 * (footnote.count("\n") + 1) + 0.2
    x_edges = np.cumsum([0.3, *widths])
    with style("table"):
        fig = new_figure(width, height)

        def y(inches):
            return 1.0 - inches / height

        def hline(at, lw, x0=x_edges[0], x1=x_edges[-1]):
            fig.add_artist(
                matplotlib.lines.Line2D([x0 / width, x1 / width], [y(at), y(at)], color="black", linewidth=lw)
            )

        fig.text(x_edges[0] / width, y(top), title, ha="left", va="top", fontsize=11.5, fontweight="bold")
        head = top + 0.45
        hline(head, 1.2)
        for r, cells in enumerate(headers):
            at = head + row_h * (r + 0.5)
            for j, text in enumerate(cells):
                text, span = text if isinstance(text, tuple) else (text, 2)
                if not text:
                    continue
                if r == 0 and j > 0:
                    # group header spans this column and the next span - 1
                    end = x_edges[min(j + span, len(x_edges) - 1)]
                    x = (x_edges[j] + end) / 2
                    fig.text(x / width, y(at), text, ha="center", va="center", fontweight="bold")
                    hline(head + row_h * 0.95, 0.6, x_edges[j] + 0.1, end - 0.1)
                else:
                    x = x_edges[j] if j == 0 else (x_edges[j] + x_edges[j + 1]) / 2
                    fig.text(x / width, y(at), text, ha="left" if j == 0 else "center", va="center", fontweight="bold")
        body = head + 2 * row_h
        hline(body, 0.8)
        for i, (cells, indent, bold) in enumerate(lines):
            at = body + row_h * (i + 0.5)
            for j, text in enumerate(cells):
                if j == 0:
                    x, ha = x_edges[0] + (0.25 if indent else 0.0), "left"
                else:
                    x, ha = (x_edges[j] + x_edges[j + 1]) / 2, "center"
                weight = "bold" if bold or (j > 0 and "*" in text) else "normal"
                fig.text(x / width, y(at), text, ha=ha, va="center", fontweight=weight)
        end = body + row_h * len(lines) + 0.05
        hline(end, 1.2)
        fig.text(x_edges[0] / width, y(end + 0.12), footnote, ha="left", va="top", fontsize=8, linespacing=1.5)
    return fig
