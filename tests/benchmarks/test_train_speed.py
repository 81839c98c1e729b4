"""Is the data path the bottleneck? Bare network speed vs one epoch of the real loop.

Run with ``.venv/bin/pytest -m benchmark tests/benchmarks/test_train_speed.py -s``.
Prints images/s of (a) forward+backward of EfficientNet-lite0 on random tensors and
(b) one epoch of SignatureTrainer's loop (sampling, augmentation, Cox loss, optimiser)
at the same batch size, and their ratio (b / a); the target is >= 0.9. Also: the cost
of the paper's crop size, and one two-thread training against two one-thread trainings
side by side (the workflow's local share of the cores).
"""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from survsig.imaging.losses import cox_partial_nll
from survsig.imaging.network import create_model
from survsig.imaging.slice_data import SliceData
from survsig.imaging.slices import PatientSlices
from survsig.imaging.train import SignatureTrainer
from survsig.imaging.train_settings import TrainSettings

SIZE = 64
PATIENTS = 32
SLICES = 2
BATCHES = 12


def bare_images_per_second(steps, channels=3, size=SIZE):
    torch.manual_seed(0)
    model = create_model(channels).to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    images = torch.rand(PATIENTS * SLICES, channels, size, size).contiguous(memory_format=torch.channels_last)
    event, time_ = torch.ones(PATIENTS), torch.arange(PATIENTS, dtype=torch.float32)
    for step in range(steps + 2):
        if step == 2:  # two warm-up steps
            start = time.perf_counter()
        scores = model(images).reshape(PATIENTS, SLICES).mean(dim=1)
        loss = cox_partial_nll(scores, event, time_)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return steps * PATIENTS * SLICES / (time.perf_counter() - start)


def loop_images_per_second():
    rng = np.random.default_rng(0)
    n = PATIENTS * BATCHES
    boxes = np.tile([0.0, 0.0, 80.0, 0.0], (8, 1))  # the default 80 mm box
    patients = [
        PatientSlices(f"P{i:03d}", rng.random((8, 3, SIZE, SIZE)).astype(np.float16), np.arange(8.0), boxes)
        for i in range(n)
    ]
    # the longer input path (the default skips both): standardised channels, CT and PET
    # blanked beyond 5 mm of the ROI
    data = SliceData(patients, ["ct", "pet", "roi"], context_mm=5.0)
    settings = TrainSettings(
        batch_patients=PATIENTS, slices_per_patient=SLICES, epochs=1, standardise=True, context_mm=5.0
    )
    trainer = SignatureTrainer(["ct", "pet", "roi"], settings)
    trainer.device_ = torch.device("cpu")
    trainer.channel_mean_, trainer.channel_sd_ = trainer._standardisation(data, [p.patient_id for p in patients])
    torch.manual_seed(0)
    model = create_model(3).to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    ids = np.array([p.patient_id for p in patients])
    outcome = (
        _Lookup({p: float(i) for i, p in enumerate(ids)}),
        _Lookup({p: int(i % 2) for i, p in enumerate(ids)}),
    )
    trainer._epoch(model, optimizer, data, ids[: PATIENTS * 2], outcome, epoch=0)  # warm-up
    start = time.perf_counter()
    trainer._epoch(model, optimizer, data, ids, outcome, epoch=1)
    return n * SLICES / (time.perf_counter() - start)


class _Lookup(dict):
    def __getitem__(self, keys):
        return np.asarray([dict.__getitem__(self, k) for k in keys])


@pytest.mark.benchmark
def test_data_path_is_not_the_bottleneck():
    torch.set_num_threads(2)
    bare = bare_images_per_second(BATCHES)
    loop = loop_images_per_second()
    print(f"\nbare model {bare:.0f} images/s, training loop {loop:.0f} images/s, ratio {loop / bare:.2f}")
    assert loop > 0


@pytest.mark.benchmark
def test_cost_of_the_paper_scale_crop_size():
    """Bare network images/s at the default 64 x 64 and at config/paper.yaml's 224 x 224."""
    default = bare_images_per_second(steps=6, size=64)
    paper = bare_images_per_second(steps=2, size=224)
    print(
        f"\nbare network, batch {PATIENTS * SLICES}: 64x64 {default:.1f} images/s, "
        f"224x224 {paper:.1f} images/s; 224 is {default / paper:.1f} times slower per image"
    )
    assert paper < default


def _images_per_second_side_by_side(threads, processes):
    """Summed bare images/s of ``processes`` processes run at once, ``threads`` each."""
    measure = (
        "import sys, torch; torch.set_num_threads(int(sys.argv[1])); "
        "from test_train_speed import bare_images_per_second; print(bare_images_per_second(40))"
    )
    here = str(Path(__file__).parent)
    runs = [
        subprocess.Popen([sys.executable, "-c", measure, str(threads)], stdout=subprocess.PIPE, text=True, cwd=here)
        for _ in range(processes)
    ]
    return sum(float(run.communicate()[0]) for run in runs)


@pytest.mark.benchmark
def test_one_thread_trainings_side_by_side_against_one_two_thread_training():
    """Total images/s on 2 cores: one training of 2 threads, or two of 1 thread at once."""
    two_threads = _images_per_second_side_by_side(threads=2, processes=1)
    side_by_side = _images_per_second_side_by_side(threads=1, processes=2)
    print(
        f"\none 2-thread training {two_threads:.0f} images/s, two 1-thread trainings side by side "
        f"{side_by_side:.0f} images/s in all, ratio {side_by_side / two_threads:.2f}"
    )
    assert side_by_side > 0
