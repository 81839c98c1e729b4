"""Time and peak memory of simulating the default 420-patient cohort (2 workers).

Run with ``.venv/bin/pytest -m benchmark tests/benchmarks -s``; prints, asserts nothing on time.
"""

import resource
import subprocess
import sys
import time

import pytest

SCRIPT = """
import sys
from survsig.cohort.patients import SyntheticSettings
from survsig.cohort.simulate import simulate_cohort
folder = sys.argv[1]
names = dict(clinical="clinical.tsv", images="images.tsv", image_dir="images",
             rnaseq="rnaseq_counts.tsv", rnaseq_truth="rnaseq_truth.tsv",
             genesets="genesets.gmt", ground_truth="ground_truth.tsv")
simulate_cohort(SyntheticSettings(), {k: f"{folder}/{v}" for k, v in names.items()}, threads=2)
"""


@pytest.mark.benchmark
def test_default_cohort_generation_time_and_memory(tmp_path):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], check=True)
    seconds = time.perf_counter() - start
    # ru_maxrss of children: the largest single process (main or a worker), KiB on Linux
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    size_mib = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()) / 2**20
    print(
        f"\n420-patient cohort: {seconds:.1f} s wall, peak RSS {peak_mib:.0f} MiB per process, "
        f"{size_mib:.0f} MiB written"
    )
    assert (tmp_path / "images" / "SYN0420_roi.nii.gz").is_file()
