"""Cost of one per-patient preprocessing job, and of its resize step.

Run with ``.venv/bin/pytest -m benchmark tests/benchmarks/test_preprocess_speed.py -s``.
Prints, for a real-size patient (512 x 512 x 150 CT, 200 x 200 x 150 PET), the wall time
of the ``survsig preprocess`` process Snakemake starts per patient, split into start-up
(imports) and work; and the matrix resize beside scipy's Gaussian + zoom on the same
planes (ratio of their speeds, measured side by side).
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
from survsig.preprocess import resize_square
from survsig.settings import PreprocessSettings

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


def test_per_patient_job_start_and_work(tmp_path):
    paths = write_real_size_petct(tmp_path, np.s_[60:85, 240:280, 230:272], suffix=".nii.gz")
    settings = json.dumps(PreprocessSettings().__dict__)
    job = [
        sys.executable,
        "-m",
        "survsig.cli",
        "preprocess",
        "--patient",
        "BIG",
        "--ct",
        paths["ct"],
        "--pet",
        paths["pet"],
        "--roi",
        paths["roi"],
        "--settings",
        settings,
        "--output",
        str(tmp_path / "BIG.npz"),
        "--log",
        str(tmp_path / "BIG.log"),
    ]
    imports = [sys.executable, "-c", "import survsig.cli, survsig.logs, survsig.preprocess"]
    job_s, start_s = median_seconds(job), median_seconds(imports)
    print(
        f"\nper-patient job (512x512x150 CT, 200x200x150 PET): {job_s:.2f} s wall, "
        f"of which start-up (imports) {start_s:.2f} s and work {job_s - start_s:.2f} s"
    )
    assert (tmp_path / "BIG.npz").is_file()


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
