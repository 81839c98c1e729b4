"""Shared test fixtures: paths to the repository and to ../shared (real data, R references),
and the real workflow run on the tiny config in a temporary copy of the project."""

import html
import json
import re
import shutil
import signal
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


@pytest.fixture
def deadline():
    """Fail a test that blocks after 60 s instead of hanging the run: a reader that opens
    a named pipe waits for a writer forever (the alarm interrupts the wait)."""

    def expired(signum, frame):
        raise TimeoutError("blocked for 60 s: something read a named pipe or a device")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


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


JOB_HEADER = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")
JOB_FILE_FIELDS = ("input", "output")


def parse_jobs(listing: str) -> list:
    """The jobs of a dry-run listing: rule, and input/output as lists, other fields as text."""
    jobs, job = [], None
    for line in listing.splitlines():
        header = JOB_HEADER.match(line)
        if header:
            job = {"rule": header.group(1), "input": [], "output": [], "reason": "", "wildcards": ""}
            jobs.append(job)
        elif job is not None and line.startswith("    ") and ": " in line:
            key, value = line.strip().split(": ", 1)
            job[key] = value.split(", ") if key in JOB_FILE_FIELDS else value
        else:
            job = None
    return jobs


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


#: Precision of the networks' scores (float32).
FLOAT32_EPS = 2.0**-23
#: The longest float32 sum of efficientnet_lite0's forward pass: its risk head sums 1280 pooled
#: features (no convolution sums more: at most 1152 input channels at 1 x 1, 3 x 3 per channel
#: for depthwise ones).
NETWORK_SUM_TERMS = 1280


def network_score_atol(scores) -> float:
    """How far float32 network scores may move when computed with another thread count or CPU.

    Other threads or SIMD widths sum the same products in another order; a float32 sum of n
    terms then moves by up to about ``n eps`` of its magnitude (Higham's bound for terms of
    one sign). This takes that bound once, with n the network's longest sum, relative to the
    largest score.
    """
    import numpy as np

    return NETWORK_SUM_TERMS * FLOAT32_EPS * float(np.abs(np.asarray(scores, dtype=float)).max())


def member_signature_atol(snapshot_scores, train) -> float:
    """:func:`network_score_atol` carried through a member's signature (``trained_signature``).

    Each snapshot's scores are divided by their training SD, averaged, and the mean is
    divided by its own training SD; a bound on the raw scores grows by those factors.
    """
    import numpy as np

    scores = np.asarray(snapshot_scores, dtype=float)
    train = np.asarray(train, dtype=bool)
    sd = scores[:, train].std(axis=1, ddof=1)
    per_snapshot = max(network_score_atol(s) / d for s, d in zip(scores, sd))
    mean = ((scores - scores[:, train].mean(axis=1, keepdims=True)) / sd[:, None]).mean(axis=0)
    return per_snapshot / mean[train].std(ddof=1)


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


# --------------------------------------------------------------------------- reports
def embedded_json(page: str, name: str):
    """The value of `var <name> = ...;` in the report's <script id="<name>"> block."""
    start = page.index(f"var {name} =", page.index(f'<script id="{name}">'))
    start = page.index("=", start) + 1
    value, _ = json.JSONDecoder().raw_decode(page[start:].lstrip())
    return value


def words(text: str) -> list:
    return re.findall(r"[a-z][a-z0-9]+", text.lower())


def html_text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))
