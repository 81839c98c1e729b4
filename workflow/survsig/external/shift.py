"""The shift table: how an external cohort differs from the training cohort.

A signature transfers to another centre when its networks see images like those they
were trained on and its nomogram's clinical terms are distributed alike. This module
puts both side by side, one row per variable (or per level of a categorical one), with
the standardised mean difference (SMD) of each:

* :func:`image_measures`: what the networks see, per patient (ROI volume, CT and PET
  values inside the ROI, the images' voxel spacing and size).
* :func:`shift_table`: external against training, summaries and SMD per row, and whether
  the difference is meaningful (``|SMD| > 0.1``, Austin 2009).
* :func:`shift_figure`: the table as a Love plot.

An SMD does not depend on the cohorts' sizes (a p-value would flag trivial differences in
large cohorts and miss large ones in small cohorts), so rows can be compared on one axis.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import SimpleITK as sitk

import survsig.core.columns as col
from survsig.core.errors import InputError
from survsig.core.figures import axes_in_inches, new_figure, style
from survsig.core.images import read_image, same_grid

#: The usual threshold of a meaningful imbalance between two groups (Austin 2009,
#: Stat Med 28:3083): ``|SMD| > 0.1``.
SMD_THRESHOLD = 0.1

#: Columns of :func:`shift_table`, in order.
SHIFT_COLUMNS = (
    "group",
    "variable",
    "level",
    "reference_n",
    "external_n",
    "reference_mean",
    "reference_sd",
    "external_mean",
    "external_sd",
    "reference_summary",
    "external_summary",
    "smd",
    "shifted",
)

#: Groups of rows as the figure orders and labels them: what the networks see first.
IMAGE_GROUP = "image"
CLINICAL_GROUP = "clinical"
GROUP_LABELS = {IMAGE_GROUP: "What the networks see", CLINICAL_GROUP: "Clinical terms"}

#: Default values of voxels resampled from outside an image's field of view: air for CT
#: (HU), no uptake for PET (SUV).
CT_DEFAULT_HU = -1000.0
PET_DEFAULT_SUV = 0.0

#: Continuous measures of :func:`image_measures`, in order (after ``patient_id``).
IMAGE_MEASURES = (
    "roi_volume_ml",
    "ct_mean_hu",
    "pet_mean_suv",
    "pet_max_suv",
    *(f"{m}_spacing_{a}_mm" for m in ("ct", "pet") for a in "xyz"),
    *(f"{m}_size_{a}" for m in ("ct", "pet") for a in "xyz"),
)
#: Columns of :func:`image_measures`.
IMAGE_MEASURE_COLUMNS = (col.PATIENT_ID, *IMAGE_MEASURES)

#: Relative tolerance under which two constant columns count as equal: image headers
#: store spacing as float32 (NIfTI) or as decimal text (DICOM), so one grid read from
#: two formats differs by float32 rounding, not by a shift.
EQUAL_RTOL = 1e-6

BEYOND_AXIS_NOTE = "beyond the axis: the cohorts do not overlap (e.g. another image grid)"


# ----------------------------------------------------------------------- image measures
def image_measures(sheet: pd.DataFrame, *, progress=None) -> pd.DataFrame:
    """What the networks see, one row per patient: ROI volume, CT and PET in the ROI, grids.

    Parameters
    ----------
    sheet : pandas.DataFrame
        Columns ``patient_id``, ``ct``, ``pet`` and ``roi``: paths of images readable by
        :func:`survsig.core.images.read_image` (NIfTI, NRRD, MetaImage, a DICOM series
        folder), relative paths taken from the working directory. CT in HU, PET in SUV,
        the ROI a label image (voxels > 0 inside).
    progress : callable, optional
        Called as ``progress(number, total, patient_id)`` after each patient
        (``number`` counts from 1).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`IMAGE_MEASURE_COLUMNS`, one row per row of ``sheet``, in its order:
        ``roi_volume_ml`` (ROI voxels times voxel volume, on the ROI's own grid),
        ``ct_mean_hu``, ``pet_mean_suv`` and ``pet_max_suv`` (inside the ROI), and the CT's
        and PET's voxel spacing (mm) and size (voxels) along x, y and z.

    Raises
    ------
    InputError
        When a column is missing, an image cannot be read or is not a 3-D scalar image,
        or a ROI is empty; the message names the patient, the column and the file.

    Notes
    -----
    A CT or PET on another grid than the ROI is resampled onto the ROI's grid (linear
    interpolation, in physical space), over the ROI's bounding box only. Voxels of the
    ROI outside an image's field of view take -1000 HU (CT) or 0 SUV (PET), as the
    preprocessing of the networks fills them.
    """
    missing = [name for name in col.IMAGE_COLUMNS if name not in sheet.columns]
    if missing:
        raise InputError("image sheet has no such column", column=missing[0])
    rows = []
    total = len(sheet)
    for number, (patient_id, ct_path, pet_path, roi_path) in enumerate(
        sheet[list(col.IMAGE_COLUMNS)].itertuples(index=False, name=None), start=1
    ):
        rows.append(_patient_measures(patient_id, ct_path, pet_path, roi_path))
        if progress is not None:
            progress(number, total, patient_id)
    return pd.DataFrame(rows, columns=list(IMAGE_MEASURE_COLUMNS))


def _patient_measures(patient_id, ct_path, pet_path, roi_path) -> dict:
    images = {}
    for column, path in (("ct", ct_path), ("pet", pet_path), ("roi", roi_path)):
        try:
            image = read_image(path)
        except InputError as err:  # the row is the patient's: say whose image it is
            raise InputError(err.reason, file=path, patient=patient_id, column=column) from None
        if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
            raise InputError(
                f"expected a 3-D scalar image, found {image.GetDimension()}-D with "
                f"{image.GetNumberOfComponentsPerPixel()} component(s) per voxel",
                file=path,
                patient=patient_id,
                column=column,
            )
        images[column] = image
    ct, pet, roi = images["ct"], images["pet"], images["roi"]

    inside = sitk.GetArrayViewFromImage(roi) > 0  # axes (z, y, x)
    if not inside.any():
        raise InputError("ROI is empty (no voxel > 0)", file=roi_path, patient=patient_id, column="roi")
    # Only the ROI's bounding box matters: resampling a whole CT onto a whole grid costs
    # seconds per patient, the box a fraction of it.
    box = _box(inside)  # (x0, x1, y0, y1, z0, z1), end exclusive
    inside = inside[box[4] : box[5], box[2] : box[3], box[0] : box[1]]
    roi_box = roi[box[0] : box[1], box[2] : box[3], box[4] : box[5]]  # keeps physical geometry
    ct_values = _values_on(ct, roi, roi_box, box, default=CT_DEFAULT_HU)[inside]
    pet_values = _values_on(pet, roi, roi_box, box, default=PET_DEFAULT_SUV)[inside]

    voxel_mm3 = float(np.prod(roi.GetSpacing()))
    measures = {
        col.PATIENT_ID: patient_id,
        "roi_volume_ml": int(inside.sum()) * voxel_mm3 / 1000.0,
        "ct_mean_hu": float(np.mean(ct_values, dtype=np.float64)),
        "pet_mean_suv": float(np.mean(pet_values, dtype=np.float64)),
        "pet_max_suv": float(np.max(pet_values)),
    }
    for name, image in (("ct", ct), ("pet", pet)):
        for axis, spacing, size in zip("xyz", image.GetSpacing(), image.GetSize()):
            measures[f"{name}_spacing_{axis}_mm"] = float(spacing)
            measures[f"{name}_size_{axis}"] = int(size)
    return measures


def _box(inside: np.ndarray) -> tuple:
    """Index box of the True voxels of a (z, y, x) mask, as x0, x1, y0, y1, z0, z1 (end exclusive)."""
    box = []
    for axis in (2, 1, 0):
        others = tuple(a for a in range(3) if a != axis)
        hits = np.flatnonzero(inside.any(axis=others))
        box += [int(hits[0]), int(hits[-1]) + 1]
    return tuple(box)


def _values_on(image: sitk.Image, roi: sitk.Image, roi_box: sitk.Image, box, *, default) -> np.ndarray:
    """Voxels of ``image`` over the ROI's bounding box, as a float (z, y, x) array."""
    if same_grid(image, roi):
        return sitk.GetArrayFromImage(image[box[0] : box[1], box[2] : box[3], box[4] : box[5]]).astype(np.float64)
    resampled = sitk.Resample(
        sitk.Cast(image, sitk.sitkFloat32), roi_box, sitk.Transform(), sitk.sitkLinear, default, sitk.sitkFloat32
    )
    return sitk.GetArrayFromImage(resampled).astype(np.float64)


# -------------------------------------------------------------- standardised differences
def standardised_difference(reference_mean, reference_sd, external_mean, external_sd) -> float:
    """Standardised mean difference of the external cohort from the reference cohort.

    Parameters
    ----------
    reference_mean, reference_sd, external_mean, external_sd : float
        Means and sample standard deviations of the two cohorts.

    Returns
    -------
    float
        ``(external_mean - reference_mean) / sqrt((reference_sd**2 + external_sd**2) / 2)``.
        With a pooled SD of 0 (both cohorts constant): 0 when the means are equal (within
        :data:`EQUAL_RTOL`), +inf or -inf otherwise: the cohorts do not overlap at all.
        NaN when any input is NaN.
    """
    values = (reference_mean, reference_sd, external_mean, external_sd)
    if any(v is None or math.isnan(v) for v in values):
        return math.nan
    pooled = math.sqrt((reference_sd**2 + external_sd**2) / 2.0)
    difference = external_mean - reference_mean
    if pooled == 0.0:
        if math.isclose(external_mean, reference_mean, rel_tol=EQUAL_RTOL, abs_tol=0.0):
            return 0.0
        return math.copysign(math.inf, difference)
    return difference / pooled


def proportion_difference(reference_proportion, external_proportion) -> float:
    """Standardised difference of two proportions (one level of a categorical variable).

    Parameters
    ----------
    reference_proportion, external_proportion : float
        Proportions of patients at the level, in [0, 1].

    Returns
    -------
    float
        ``(p_ext - p_ref) / sqrt((p_ref (1 - p_ref) + p_ext (1 - p_ext)) / 2)``; 0, +inf or
        -inf when both proportions are 0 or 1, as in :func:`standardised_difference`.
    """
    p_ref, p_ext = reference_proportion, external_proportion
    if any(p is None or math.isnan(p) for p in (p_ref, p_ext)):
        return math.nan
    return standardised_difference(p_ref, math.sqrt(p_ref * (1.0 - p_ref)), p_ext, math.sqrt(p_ext * (1.0 - p_ext)))


def _mean_sd(values: np.ndarray) -> tuple[float, float]:
    """Mean and sample SD (ddof 1); a constant column has exactly its value and SD 0.

    Summing identical floats need not return them exactly, and an SD of 1e-17 instead of
    0 would make two constant cohorts (one grid each) a huge finite SMD instead of inf.
    """
    if len(values) == 0:
        return math.nan, math.nan
    if values.min() == values.max():
        return float(values[0]), (0.0 if len(values) > 1 else math.nan)
    return float(np.mean(values)), float(np.std(values, ddof=1))


# ----------------------------------------------------------------------- the shift table
def shift_table(
    reference: pd.DataFrame,
    external: pd.DataFrame,
    *,
    continuous=(),
    categorical=(),
    group: str,
) -> pd.DataFrame:
    """Summaries and standardised differences of the external cohort against the reference.

    Parameters
    ----------
    reference, external : pandas.DataFrame
        One row per patient, e.g. :func:`image_measures` or a clinical sheet; the training
        cohort and the external cohort.
    continuous : sequence of str
        Numeric columns: one row each, mean (SD).
    categorical : sequence of str
        Categorical columns: one row per level (the sorted union of both cohorts' values;
        missing values are left out of levels and denominators), n (%).
    group : str
        Written in the ``group`` column (:data:`IMAGE_GROUP`, :data:`CLINICAL_GROUP`, ...);
        concatenate the tables of several groups with :func:`pandas.concat`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SHIFT_COLUMNS`: ``level`` is "" for continuous rows; ``*_n`` the
        patients with a value; ``*_mean`` means or proportions; ``*_sd`` sample SDs (NaN
        for levels); ``*_summary`` "mean (SD)" to 3 significant digits or "n (xx.x%)";
        ``smd`` the standardised difference (external - reference), see
        :func:`standardised_difference`; ``shifted`` whether ``|smd| >`` :data:`SMD_THRESHOLD`.

    Raises
    ------
    InputError
        When a column is missing from either table or a continuous column holds text.
    """
    continuous = [continuous] if isinstance(continuous, str) else list(continuous)
    categorical = [categorical] if isinstance(categorical, str) else list(categorical)
    both = set(continuous) & set(categorical)
    if both:
        raise ValueError(f"columns both continuous and categorical: {', '.join(sorted(both))}")
    for name in (*continuous, *categorical):
        for which, table in (("reference", reference), ("external", external)):
            if name not in table.columns:
                raise InputError(f"the {which} cohort's table has no such column", column=name)

    rows = []
    for name in continuous:
        ref, ext = (_numeric(table[name], which) for which, table in (("reference", reference), ("external", external)))
        ref_mean, ref_sd = _mean_sd(ref)
        ext_mean, ext_sd = _mean_sd(ext)
        rows.append(
            {
                "group": group,
                "variable": name,
                "level": "",
                "reference_n": len(ref),
                "external_n": len(ext),
                "reference_mean": ref_mean,
                "reference_sd": ref_sd,
                "external_mean": ext_mean,
                "external_sd": ext_sd,
                "reference_summary": _mean_sd_summary(ref_mean, ref_sd),
                "external_summary": _mean_sd_summary(ext_mean, ext_sd),
                "smd": standardised_difference(ref_mean, ref_sd, ext_mean, ext_sd),
            }
        )
    for name in categorical:
        ref, ext = reference[name].dropna(), external[name].dropna()
        for level in _levels(pd.concat([ref, ext], ignore_index=True)):
            ref_count, ext_count = int((ref == level).sum()), int((ext == level).sum())
            p_ref = ref_count / len(ref) if len(ref) else math.nan
            p_ext = ext_count / len(ext) if len(ext) else math.nan
            rows.append(
                {
                    "group": group,
                    "variable": name,
                    "level": _level_text(level),
                    "reference_n": len(ref),
                    "external_n": len(ext),
                    "reference_mean": p_ref,
                    "reference_sd": math.nan,
                    "external_mean": p_ext,
                    "external_sd": math.nan,
                    "reference_summary": _count_summary(ref_count, p_ref),
                    "external_summary": _count_summary(ext_count, p_ext),
                    "smd": proportion_difference(p_ref, p_ext),
                }
            )
    table = pd.DataFrame(rows, columns=list(SHIFT_COLUMNS[:-1]))
    table = table.astype({"reference_n": int, "external_n": int, "smd": float})
    table["shifted"] = table["smd"].abs() > SMD_THRESHOLD  # NaN (no data) is not a shift
    return table[list(SHIFT_COLUMNS)]


def _numeric(series: pd.Series, which: str) -> np.ndarray:
    """Non-missing values of a continuous column as floats."""
    try:
        values = pd.to_numeric(series).astype(float).to_numpy()
    except (ValueError, TypeError):
        bad = next((v for v in series.dropna() if pd.isna(pd.to_numeric(v, errors="coerce"))), None)
        message = f"the {which} cohort holds a value that is not a number: {bad!r}"
        raise InputError(message, column=series.name) from None
    return values[~np.isnan(values)]


def _levels(values: pd.Series) -> list:
    """Sorted distinct values; mixed types (1 and "1") sorted by their text."""
    distinct = list(dict.fromkeys(values.tolist()))  # 1 and 1.0 are one level
    try:
        return sorted(distinct)
    except TypeError:
        return sorted(distinct, key=str)


def _level_text(level) -> str:
    """A level as written in the table: 2.0 (integers read back with a missing value) as 2."""
    if isinstance(level, float | np.floating) and float(level).is_integer():
        return str(int(level))
    return str(level)


def significant(value, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits, in plain notation (1234 -> "1230", 2 -> "2.00")."""
    if value is None or math.isnan(value):
        return "NA"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    rounded = float(f"{value:.{digits - 1}e}")  # round first: 9.996 becomes 10.0 and has 2 decimals less
    if rounded == 0.0:  # an SD of a constant column: no digits to show
        return "0"
    magnitude = math.floor(math.log10(abs(rounded)))
    if not -5 <= magnitude < 9:
        return f"{rounded:.{digits - 1}e}"
    return f"{rounded:.{max(digits - 1 - magnitude, 0)}f}"


def _mean_sd_summary(mean, sd) -> str:
    if math.isnan(mean):
        return "no data"
    return f"{significant(mean)} ({significant(sd)})"


def _count_summary(count, proportion) -> str:
    if math.isnan(proportion):
        return "no data"
    return f"{count} ({100.0 * proportion:.1f}%)"


# --------------------------------------------------------------------------- the figure
def shift_figure(table: pd.DataFrame, *, reference_label: str = "Training", external_label: str = "External"):
    """The shift table as a Love plot: one row per variable or level, marker at its SMD.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`shift_table`, one or several groups concatenated (or the same
        read back from its TSV).
    reference_label, external_label : str
        Names of the two cohorts, in the title and the summary columns' headers.

    Returns
    -------
    matplotlib.figure.Figure
        Rows grouped (:data:`IMAGE_GROUP` first, then :data:`CLINICAL_GROUP`, then others
        in order of appearance) under a bold group label; a line at 0 and dashed lines at
        +-:data:`SMD_THRESHOLD`; each cohort's summary to the right. The axis spans
        +-max(3, 1.1 x the largest finite |SMD|); an infinite SMD is drawn at its edge as
        a triangle. One axes, whose y tick labels are the rows, top to bottom.
    """
    import matplotlib.transforms
    from matplotlib.lines import Line2D

    rows = _figure_order(table)
    smd = rows["smd"].to_numpy(dtype=float)
    # a continuous row's level is "" (NaN once read back from a TSV)
    labels = [
        v if pd.isna(level) or level == "" else f"{v}: {level}"
        for v, level in zip(rows["variable"].astype(str), rows["level"])
    ]
    finite = smd[np.isfinite(smd)]
    edge = max(3.0, 1.1 * float(np.abs(finite).max())) if len(finite) else 3.0

    # Slots top to bottom: a group's label, then its rows.
    y_rows, y_groups, slot = [], [], 0
    for group, count in rows.groupby("group", sort=False).size().items():
        y_groups.append((slot, GROUP_LABELS.get(group, str(group).capitalize())))
        y_rows += list(range(slot + 1, slot + 1 + count))
        slot += 1 + count
    n_slots = max(slot, 1)

    # Layout in inches; widths from the texts, so long labels do not run into the axes.
    char = 0.068  # inches per character of 8 pt DejaVu Sans, about
    row_h = 0.27
    left = 0.25 + char * max([len(s) for s in labels] + [len(s) + 2 for _, s in y_groups] + [10])
    summary_w = 0.3 + char * max(
        [len(s) for s in rows["reference_summary"].astype(str)]
        + [len(s) for s in rows["external_summary"].astype(str)]
        + [len(reference_label), len(external_label), 8]
    )
    plot_w = 3.8
    width = left + plot_w + 0.2 + 2 * summary_w + 0.2
    top, head = 0.55, 0.3  # title, then the summary columns' headers
    plot_h = row_h * n_slots
    bottom = 0.55 + 0.75 + 0.3  # x tick labels and label, the legend, a footnote
    height = top + head + plot_h + bottom

    with style("panel"):
        fig = new_figure(width, height)
        ax = axes_in_inches(fig, left, bottom, plot_w, plot_h)
        ax.set_xlim(-edge * 1.05, edge * 1.05)
        ax.set_ylim(n_slots - 0.5, -0.5)
        ax.axvline(0.0, color="black", linewidth=0.9, zorder=1)
        for x in (-SMD_THRESHOLD, SMD_THRESHOLD):
            ax.axvline(x, color="0.35", linewidth=0.8, linestyle="--", zorder=1)
        for y in y_rows:
            ax.axhline(y, color="0.9", linewidth=0.6, zorder=0)
        for y, _ in y_groups[1:]:
            ax.axhline(y - 0.5, color="0.6", linewidth=0.8, zorder=0)

        y_rows_arr = np.asarray(y_rows, dtype=float)
        shifted = np.isfinite(smd) & (np.abs(smd) > SMD_THRESHOLD)
        balanced = np.isfinite(smd) & ~shifted
        style_in = {"marker": "o", "markersize": 5.5, "linestyle": "none", "zorder": 3}
        ax.plot(smd[balanced], y_rows_arr[balanced], color="#2c7bb6", **style_in)
        ax.plot(smd[shifted], y_rows_arr[shifted], color="#d7191c", **style_in)
        beyond = {"markersize": 7, "linestyle": "none", "color": "#7b0000", "zorder": 4, "clip_on": False}
        ax.plot(np.full((smd == np.inf).sum(), edge), y_rows_arr[smd == np.inf], marker=">", **beyond)
        ax.plot(np.full((smd == -np.inf).sum(), -edge), y_rows_arr[smd == -np.inf], marker="<", **beyond)
        for y in y_rows_arr[np.isnan(smd)]:
            ax.text(0.0, y, " not computable ", ha="center", va="center", fontsize=7, color="0.4", zorder=2)

        ax.set_yticks(y_rows, labels)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        ax.set_xlabel("Standardised difference (external - training)")

        # Group labels in the tick labels' column; summaries in two columns on the right.
        in_figure_x = matplotlib.transforms.blended_transform_factory(fig.transFigure, ax.transData)
        for y, text in y_groups:
            ax.text(0.12 / width, y, text, transform=in_figure_x, ha="left", va="center", fontweight="bold")
        x_ref = (left + plot_w + 0.2 + summary_w / 2) / width
        x_ext = x_ref + summary_w / width
        for x, label, column in (
            (x_ref, reference_label, "reference_summary"),
            (x_ext, external_label, "external_summary"),
        ):
            fig.text(x, 1.0 - (top + head / 2) / height, label, ha="center", va="center", fontweight="bold")
            for y, text in zip(y_rows, rows[column].astype(str)):
                ax.text(x, y, text, transform=in_figure_x, ha="center", va="center", fontsize=8)
        fig.text(
            0.12 / width,
            1.0 - 0.3 / height,
            f"{external_label} against {reference_label}",
            ha="left",
            va="center",
            fontsize=11,
            fontweight="bold",
        )

        handles = [
            Line2D([], [], color="#2c7bb6", **style_in, label=f"|SMD| \u2264 {SMD_THRESHOLD:g}"),
            Line2D([], [], color="#d7191c", **style_in, label=f"|SMD| > {SMD_THRESHOLD:g} (dashed lines)"),
        ]
        if np.isinf(smd).any():
            handles.append(Line2D([], [], marker=">", **{**beyond, "clip_on": True}, label=BEYOND_AXIS_NOTE))
        fig.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(left / width, 1.02 / height),
            ncol=2 if len(handles) < 3 else 1,
            frameon=False,
            fontsize=8,
            borderaxespad=0.0,
        )
        fig.text(
            0.12 / width,
            0.15 / height,
            "Summaries: mean (SD), or n (%) of the patients with a value. A level's difference is that of its "
            "proportions over their pooled SD.",
            ha="left",
            va="bottom",
            fontsize=7.5,
            color="0.25",
        )
        if not len(rows):
            ax.text(0.5, 0.5, "no variables", transform=ax.transAxes, ha="center", va="center", color="0.4")
    return fig


def _figure_order(table: pd.DataFrame) -> pd.DataFrame:
    """Rows grouped, image first, clinical second, other groups in order of appearance."""
    known = [g for g in (IMAGE_GROUP, CLINICAL_GROUP) if g in set(table["group"])]
    others = [g for g in dict.fromkeys(table["group"]) if g not in known]
    order = {g: i for i, g in enumerate(known + others)}
    rank = table["group"].map(order)
    return table.assign(_rank=rank).sort_values("_rank", kind="stable").drop(columns="_rank").reset_index(drop=True)


def cohort_shift(training_images, training_clinical, external_images, external_clinical, *, progress=None):
    """The shift table of an external cohort against the training patients.

    What the networks see (:func:`image_measures`) and the clinical terms (age, the SUV
    columns both sheets have, the categories of
    :data:`survsig.core.columns.CATEGORY_LEVELS`), each against the training patients'.

    Parameters
    ----------
    training_images, training_clinical : pandas.DataFrame
        The training patients' validated image and clinical sheets (only they, not the
        test set: what the networks and nomograms were fit on).
    external_images, external_clinical : pandas.DataFrame
        The external cohort's validated sheets.
    progress : callable, optional
        ``progress(which, number, total)`` after each patient's images, ``which`` being
        ``"training"`` or ``"external"``.

    Returns
    -------
    pandas.DataFrame
        :data:`SHIFT_COLUMNS`, the image rows first.
    """

    def measures(sheet, which):
        report = None if progress is None else (lambda number, total, _: progress(which, number, total))
        return image_measures(sheet, progress=report)

    # the SUV columns are optional in the sheet contract: compared where both cohorts have them
    suv = [c for c in col.SUV_COLUMNS if c in training_clinical.columns and c in external_clinical.columns]
    return pd.concat(
        [
            shift_table(
                measures(training_images, "training"),
                measures(external_images, "external"),
                continuous=IMAGE_MEASURES,
                group=IMAGE_GROUP,
            ),
            shift_table(
                training_clinical,
                external_clinical,
                continuous=["age", *suv],
                categorical=list(col.CATEGORY_LEVELS),
                group=CLINICAL_GROUP,
            ),
        ],
        ignore_index=True,
    )
