"""Shared test fixtures: paths to the repository and to ../shared (real data, R references),
and the real workflow run on the tiny config in a temporary copy of the project."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def shared_dir():
    """../shared beside the checkout; tests using it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (real data and R references live there)")
    return SHARED


SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
PROJECT_PARTS = ("Snakefile", "workflow", "config", "envs")


def copy_project(target: Path) -> Path:
    """The workflow's files (not results) copied into `target`."""
    target.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / part)
    return target


def snakemake(project: Path, *args, check=True):
    """Run Snakemake in `project`; fail with its output when it fails and `check` is set."""
    result = subprocess.run(
        [SNAKEMAKE, "--cores", "2", "--nolock", *args],
        cwd=project,
        capture_output=True,
        text=True,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def rule_stages() -> dict:
    """Rule name -> its stage, the rule file (without .smk) that defines it."""
    stages = {}
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for name in re.findall(r"^\s*(?:rule|checkpoint) (\w+):", path.read_text(), flags=re.M):
            stages[name] = path.stem
    return stages


def write_real_size_petct(folder: Path, roi_box, *, suffix=".nii") -> dict:
    """A 512 x 512 x 150 CT (0.98 x 0.98 x 2 mm) with a 200 x 200 x 150 PET (2.5 mm) and a
    box ROI (``roi_box``: z, y, x slices of the CT grid), written to ``folder``; name -> path."""
    import numpy as np
    import SimpleITK as sitk

    ct = sitk.Image(512, 512, 150, sitk.sitkInt16)
    ct.SetSpacing((0.98, 0.98, 2.0))
    ct.SetOrigin((-250.0, -250.0, -150.0))
    roi_array = np.zeros((150, 512, 512), np.uint8)
    roi_array[roi_box] = 1
    roi = sitk.GetImageFromArray(roi_array)
    roi.CopyInformation(ct)
    pet = sitk.Image(200, 200, 150, sitk.sitkFloat32) + 1.0
    pet.SetSpacing((2.5, 2.5, 2.0))
    pet.SetOrigin((-249.0, -249.0, -150.0))
    paths = {}
    for name, image in (("ct", ct), ("pet", pet), ("roi", roi)):
        paths[name] = str(folder / f"{name}{suffix}")
        sitk.WriteImage(image, paths[name])
    return paths


@pytest.fixture(scope="session")
def tiny_complete(tmp_path_factory):
    """A project copy where `rule all` of the tiny config has run (shared: do not modify;
    tests that change files work on `copy_completed_project`)."""
    project = copy_project(tmp_path_factory.mktemp("tiny_complete"))
    snakemake(project, "--configfile", "config/tiny.yaml")
    return project


def copy_completed_project(source: Path, target: Path) -> Path:
    """A copy of a completed run, Snakemake's metadata and file times included."""
    shutil.copytree(source, target, symlinks=True, copy_function=shutil.copy2)
    return target
