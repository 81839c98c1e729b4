"""Time of the internal validation (rms validate + calibrate with the selection repeated)
on the default 420-patient cohort, 2 cores, and what 100 resamples cost.

Oracle signatures stand in for the trained networks. The cohort, split and signatures are
built first (not timed); then rule ``internal_validation`` runs with B = 100 and with
B = 200 (the default) in one session, side by side: wall clock and CPU seconds of the job.
The cost per 100 resamples is the difference; the rest is the fixed cost (start-up, the
original fits).

Run with ``.venv/bin/pytest -m benchmark tests/benchmarks/test_internal_validation_speed.py -s``.
"""

import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
MODELS = ("ct", "pet", "petct")
TARGET = "results/tables/internal_validation.tsv"


def snakemake(project, *args):
    subprocess.run(
        [SNAKEMAKE, *args, "--cores", "2", "--nolock", "--quiet", "--configfile", "config/oracle.yaml"],
        cwd=project,
        check=True,
        capture_output=True,
    )


def timed_run(project, resamples):
    (project / "config" / "oracle.yaml").write_text(
        f"imaging:\n  signatures: oracle\ninternal_validation:\n  resamples: {resamples}\n"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    snakemake(project, TARGET, "--forcerun", "internal_validation")
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, pd.read_csv(project / TARGET, sep="\t")


@pytest.mark.benchmark
def test_internal_validation_time_per_100_resamples(tmp_path):
    for part in ("Snakefile", "workflow", "config", "envs"):
        subprocess.run(["cp", "-r", str(REPO / part), str(tmp_path / part)], check=True)
    (tmp_path / "config" / "oracle.yaml").write_text("imaging:\n  signatures: oracle\n")
    snakemake(
        tmp_path,
        *(f"results/signatures/{m}.tsv" for m in MODELS),
        "results/split.tsv",
        "results/validated/clinical.tsv",
    )
    wall100, cpu100, table100 = timed_run(tmp_path, 100)
    wall200, cpu200, table200 = timed_run(tmp_path, 200)
    per100_wall, per100_cpu = wall200 - wall100, cpu200 - cpu100
    print(
        f"\ninternal validation, 420 patients, 7 nomograms: B = 100: {wall100:.1f} s wall, {cpu100:.1f} CPU s; "
        f"B = 200: {wall200:.1f} s wall, {cpu200:.1f} CPU s; 100 resamples cost {per100_wall:.1f} s wall "
        f"({per100_cpu:.1f} CPU s), fixed cost {wall100 - per100_wall:.1f} s"
    )
    print(table200[["nomogram", "c_apparent", "c_optimism", "c_corrected", "resamples"]].to_string(index=False))
    assert (table100["resamples"] + table100["resamples_failed"] == 100).all()
    assert (table200["resamples"] + table200["resamples_failed"] == 200).all()
