"""Cost of a preprocessing job, and of its resize step.

Run with ``.venv/bin/pytest -m benchmark tests/benchmarks/test_preprocess_speed.py -s``.
Prints, for real-size patients (512 x 512 x 150 CT, 200 x 200 x 150 PET), the wall time
of the ``survsig preprocess`` process Snakemake starts per job, for one patient and for
five, split into start-up (imports) and work per patient; and the matrix resize beside
scipy's Gaussian + zoom on the same planes (ratio of their speeds, measured side by side).
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import write_real_size_petct
from survsig.core.settings import PreprocessSettings
from survsig.imaging.preprocess import resize_square

pytestmark = pytest.mark.benchmark
WORKFLOW = Path(__file__).resolve().parents[2] / "workflow"


def median_seconds(command, repeats=5):
    env = {**os.environ, "PYTHONPATH": str(WORKFLOW)}
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, env=env, capture_output=True)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def preprocess_job(paths, patients, output_dir):
    return [
        sys.executable,
        "-m",
        "survsig.cli",
        "preprocess",
        "--patients",
        *patients,
        *(arg for name in ("ct", "pet", "roi") for arg in (f"--{name}", *[paths[name]] * len(patients))),
        "--settings",
        json.dumps(PreprocessSettings().__dict__),
        "--output-dir",
        str(output_dir),
        "--log",
        str(output_dir / "job.log"),
    ]


def test_job_start_and_work_per_patient(tmp_path):
    paths = write_real_size_petct(tmp_path, np.s_[60:85, 240:280, 230:272], suffix=".nii.gz")
    one = median_seconds(preprocess_job(paths, ["BIG1"], tmp_path / "one"))
    five = median_seconds(preprocess_job(paths, [f"BIG{i}" for i in range(1, 6)], tmp_path / "five"))
    start_s = median_seconds(
        [sys.executable, "-c", "import survsig.cli, survsig.core.logs, survsig.imaging.preprocess"]
    )
    per_patient = (five - one) / 4
    print(
        f"\npreprocessing job (512x512x150 CT, 200x200x150 PET): one patient {one:.2f} s wall, five "
        f"{five:.2f} s; start-up (imports) {start_s:.2f} s, work {per_patient:.2f} s per patient"
    )
    assert len(list((tmp_path / "five").glob("BIG*.npz"))) == 5


def test_matrix_resize_beside_scipy():
    from scipy import ndimage

    planes = np.random.default_rng(0).random((30, 3, 80, 80)).astype(np.float32)

    def with_scipy():
        return np.stack(
            [
                [
                    np.clip(
                        ndimage.zoom(
                            ndimage.gaussian_filter(p, 0.625, mode="nearest"),
                            0.8,
                            order=1,
                            mode="nearest",
                            grid_mode=True,
                        ),
                        0,
                        1,
                    )
                    for p in slice_
                ]
                for slice_ in planes
            ]
        )

    def with_matrix():
        return np.stack([resize_square(slice_, 64) for slice_ in planes])

    timings = {}
    for name, resize in (("scipy", with_scipy), ("matrix", with_matrix)):
        resize()
        start = time.perf_counter()
        for _ in range(5):
            result = resize()
        timings[name] = (time.perf_counter() - start) / 5
        np.testing.assert_allclose(result, with_scipy(), atol=1e-6)
    print(
        f"\nresize of 30 slices x 3 planes 80 -> 64: scipy {timings['scipy'] * 1e3:.1f} ms, "
        f"matrix {timings['matrix'] * 1e3:.1f} ms, speed ratio {timings['scipy'] / timings['matrix']:.1f}"
    )
