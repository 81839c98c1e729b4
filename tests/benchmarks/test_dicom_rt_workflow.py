"""The synthetic cohort as a hospital's DICOM export runs end to end and gives what NIfTI gives.

Two copies of the project run ``config/tiny.yaml``: one with the images as NIfTI files
(``synthetic.image_format: nifti``), one as a DICOM export (``dicom_rt``: CT and PET
series, PET in Bq/mL, the ROI as an RTSTRUCT) that rule ``import_dicom`` imports. The
same seed draws the same cohort, so the signatures, the nomograms' scores and the risk
groups must agree: numbers to float32 tolerance (rtol 1e-5, about 80 float32 eps), the
risk groups label for label. Measured (2 cores, tiny.yaml): every difference 0, the
preprocessed slices identical. The training is that sensitive: with positions one float32
step off NIfTI's in 22 of 120 images the PET signature moved by up to 1.08, which is why
the export writes NIfTI's float32 geometry. Takes about 5-10 minutes::

    .venv/bin/pytest -m benchmark tests/benchmarks/test_dicom_rt_workflow.py -s
"""

import numpy as np
import pandas as pd
import pytest

from conftest import copy_project, snakemake

pytestmark = pytest.mark.benchmark

#: float32 tolerance of the compared numbers: relative, and absolute near zero
RTOL, ATOL = 1e-5, 1e-6


def run(tmp_path, image_format):
    project = copy_project(tmp_path / image_format)
    overlay = project / "config" / f"{image_format}.yaml"
    overlay.write_text(f"synthetic:\n  image_format: {image_format}\n")
    snakemake(project, "--configfile", "config/tiny.yaml", str(overlay.relative_to(project)))
    return project / "results"


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("dicom_rt")
    return run(tmp_path, "nifti"), run(tmp_path, "dicom_rt")


def compared_tables(results):
    tables = sorted(p.relative_to(results) for p in (results / "signatures").glob("*.tsv"))
    tables += sorted(p.relative_to(results) for p in (results / "nomograms").glob("*_scores.tsv"))
    return tables


def largest_difference(first: pd.DataFrame, second: pd.DataFrame) -> tuple[float, float]:
    """Largest absolute and relative difference over the numeric columns."""
    a = first.select_dtypes("number").to_numpy(float)
    b = second.select_dtypes("number").to_numpy(float)
    absolute = np.abs(a - b)
    relative = absolute / np.maximum(np.abs(a), ATOL)
    return float(absolute.max(initial=0.0)), float(relative.max(initial=0.0))


def test_dicom_rt_export_gives_the_nifti_cohorts_results(both):
    nifti, dicom_rt = both
    summary = pd.read_csv(dicom_rt / "imported" / "import_summary.tsv", sep="\t")
    assert len(summary) == 40 and set(summary["roi_name"]) == {"GTV"}
    tables = compared_tables(nifti)
    assert tables == compared_tables(dicom_rt)
    assert any(t.parts[0] == "signatures" for t in tables) and any(t.parts[0] == "nomograms" for t in tables)
    for table in tables:
        first = pd.read_csv(nifti / table, sep="\t")
        second = pd.read_csv(dicom_rt / table, sep="\t")
        absolute, relative = largest_difference(first, second)
        print(f"{table}: largest difference {absolute:.3g} (relative {relative:.3g})")
        pd.testing.assert_frame_equal(first, second, check_exact=False, rtol=RTOL, atol=ATOL)
    first = pd.read_csv(nifti / "risk_groups.tsv", sep="\t")
    second = pd.read_csv(dicom_rt / "risk_groups.tsv", sep="\t")
    absolute, relative = largest_difference(first, second)
    print(f"risk_groups.tsv: largest difference {absolute:.3g} (relative {relative:.3g})")
    text = first.select_dtypes(exclude="number").columns
    pd.testing.assert_frame_equal(first[text], second[text])  # the risk groups, label for label
    pd.testing.assert_frame_equal(first, second, check_exact=False, rtol=RTOL, atol=ATOL)
