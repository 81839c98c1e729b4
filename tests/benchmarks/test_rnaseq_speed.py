"""Time and peak memory of the RNA-seq DE step (pydeseq2 + VST) at 20,000 genes.

Run with ``.venv/bin/pytest -m benchmark tests/benchmarks/test_rnaseq_speed.py -s``;
prints, asserts nothing on time. Each size runs in a fresh process (2 workers, as
``--cores 2``) on negative binomial counts with 10 % of genes at |log2FC| = 1.
"""

import resource
import subprocess
import sys
import time

import pytest

SCRIPT = """
import sys
import numpy as np
import pandas as pd
from survsig.rnaseq.differential import DifferentialExpression, call_degs

n_genes, n_samples, n_cpus = map(int, sys.argv[1:4])
rng = np.random.default_rng(2022)
groups = np.array(["high", "low"])[np.arange(n_samples) % 2]
lfc = np.where(rng.random(n_genes) < 0.1, rng.choice([-1.0, 1.0], n_genes), 0.0)
base = np.exp(rng.normal(np.log(150.0), 1.5, n_genes))
mean = base[:, None] * np.exp(rng.normal(0, 0.2, n_samples))[None, :] * np.exp2(lfc[:, None] * (groups == "high"))
shape = 1 / (0.05 + 1 / (base[:, None] + 1))
counts = pd.DataFrame(rng.negative_binomial(shape, shape / (shape + mean)),
                      index=[f"GENE{i:05d}" for i in range(n_genes)], columns=[f"S{j:03d}" for j in range(n_samples)])
design = pd.DataFrame({"risk_group": groups}, index=pd.Index(counts.columns, name="sample"))
model = DifferentialExpression(n_cpus=n_cpus).fit(counts, design)
degs = call_degs(model.results_)
print(f"{len(model.results_)} genes tested, {len(degs)} DEGs")
"""


def run(n_genes, n_samples, n_cpus=2):
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(n_genes), str(n_samples), str(n_cpus)],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak_mib, done.stdout.strip()


@pytest.mark.benchmark
@pytest.mark.parametrize("n_samples", [7, 60])
def test_deseq2_time_at_20000_genes(n_samples):
    seconds, peak_mib, summary = run(20000, n_samples)
    print(
        f"\n20000 genes x {n_samples} samples (DESeq2 + VST, 2 workers): {seconds:.0f} s wall, "
        f"peak RSS so far {peak_mib:.0f} MiB per process; {summary}"
    )


@pytest.mark.benchmark
def test_results_do_not_depend_on_the_number_of_workers(tmp_path):
    """Byte-identical results with 1 and 2 pydeseq2 workers (Snakemake threads vary with --cores)."""
    import numpy as np
    import pandas as pd

    from survsig.core.io import write_tsv
    from survsig.rnaseq.differential import DifferentialExpression

    rng = np.random.default_rng(5)
    counts = pd.DataFrame(
        rng.negative_binomial(10, 10 / (10 + rng.gamma(2, 100, (500, 8)))),
        index=[f"G{i:03d}" for i in range(500)],
        columns=[f"S{j}" for j in range(8)],
    )
    design = pd.DataFrame({"risk_group": ["high", "low"] * 4}, index=pd.Index(counts.columns, name="sample"))
    for n_cpus in (1, 2):
        model = DifferentialExpression(n_cpus=n_cpus).fit(counts, design)
        write_tsv(model.results_.reset_index(), tmp_path / f"results{n_cpus}.tsv")
        write_tsv(model.vst_.reset_index(), tmp_path / f"vst{n_cpus}.tsv")
    assert (tmp_path / "results1.tsv").read_bytes() == (tmp_path / "results2.tsv").read_bytes()
    assert (tmp_path / "vst1.tsv").read_bytes() == (tmp_path / "vst2.tsv").read_bytes()
