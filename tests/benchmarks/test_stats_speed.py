"""Time of the nomogram + evaluate stages on the default 420-patient cohort (2 cores).

Oracle signatures stand in for the trained networks. The cohort, split and signatures
are built first (not timed); then every table, nomogram and figure of the two stages
(34 jobs, 1000 bootstrap resamples) is timed: wall clock and the CPU seconds of all
jobs (on a machine shared with other work, CPU / 2 is the idle 2-core estimate).

Run with ``.venv/bin/pytest -m benchmark tests/benchmarks/test_stats_speed.py -s``.
"""

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
MODELS = ("ct", "pet", "petct")
NOMOGRAMS = ("clinical", "clinical_suv", *(f"dl_{m}" for m in MODELS), "integrated", "integrated_suv")
TARGETS = [
    "results/tables/table2_univariable.tsv",
    "results/tables/variable_selection.tsv",
    "results/tables/table3_cindex.tsv",
    "results/tables/nomogram_vs_oracle.tsv",
    *(f"results/figures/nomogram_{n}.png" for n in NOMOGRAMS),
    *(f"results/figures/roc_{s}.png" for s in ("train", "test")),
    *(f"results/figures/calibration_{n}_{s}.png" for n in NOMOGRAMS for s in ("train", "test")),
]


def snakemake(project, *targets):
    subprocess.run(
        [SNAKEMAKE, *targets, "--cores", "2", "--nolock", "--quiet", "--configfile", "config/oracle.yaml"],
        cwd=project,
        check=True,
        capture_output=True,
    )


@pytest.mark.benchmark
def test_nomogram_and_evaluate_stage_time(tmp_path):
    for part in ("Snakefile", "workflow", "config", "envs"):
        subprocess.run(["cp", "-r", str(REPO / part), str(tmp_path / part)], check=True)
    (tmp_path / "config" / "oracle.yaml").write_text("imaging:\n  signatures: oracle\n")
    snakemake(tmp_path, *(f"results/signatures/{m}.tsv" for m in MODELS), "results/synthetic/ground_truth.tsv")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    snakemake(tmp_path, *TARGETS)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(
        f"\nnomogram + evaluate, 420 patients, 1000 bootstrap resamples: {seconds:.1f} s wall, "
        f"{cpu:.1f} CPU s (idle 2-core estimate {cpu / 2:.1f} s)"
    )
    assert (tmp_path / "results/tables/table3_cindex.tsv").is_file()
