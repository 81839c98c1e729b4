"""The options that teach the networks texture, run in the workflow on the tiny project:
self-supervised pretraining (its own cached job, reading no outcome) and radiomics-guided
training (the radiomic features as auxiliary targets)."""

import pytest
import torch

from conftest import copy_completed_project, parse_jobs, snakemake

pytestmark = pytest.mark.e2e

TINY = ("--configfile", "config/tiny.yaml", "levers.yaml")
LEVERS = """\
imaging:
  pretrain: {method: contrastive, epochs: 1, batch_patients: 8}
  train_by_model:
    pet: {radiomics_weight: 1.0}
"""


def test_pretrained_and_guided_network_trains_from_its_cached_pretraining(tiny_complete, tmp_path):
    project = copy_completed_project(tiny_complete, tmp_path / "project")
    (project / "levers.yaml").write_text(LEVERS)
    target = "results/models/pet/member0/model.pt"
    planned = parse_jobs(snakemake(project, "-n", target, *TINY).stdout)
    jobs = {job["rule"]: job for job in planned}
    # the pretraining reads the slices and the split (which patients train), never an outcome
    assert sorted(jobs["pretrain"]["input"]) == ["results/preprocessed/manifest.tsv", "results/split.tsv"]
    assert "results/models/pet/pretrained.pt" in jobs["train"]["input"]
    # the guided network reads the radiomic features, already there from the tiny run
    assert any(path.startswith("results/radiomics/features/") for path in jobs["train"]["input"])
    assert {job["rule"] for job in planned} == {"pretrain", "train"}

    before = (project / target).read_bytes()
    snakemake(project, target, *TINY)
    saved = torch.load(project / "results/models/pet/pretrained.pt", weights_only=True)
    assert saved["channels"] == ["pet", "roi"]
    model = torch.load(project / target, weights_only=True)
    assert model["settings"]["radiomics_weight"] == 1.0
    assert (project / target).read_bytes() != before
    # the pretraining is cached: nothing to do, and another network reuses nothing of it
    again = parse_jobs(snakemake(project, "-n", target, *TINY).stdout)
    assert again == []
    ct_jobs = parse_jobs(snakemake(project, "-n", "results/models/ct/member0/model.pt", *TINY).stdout)
    assert {job["rule"] for job in ct_jobs} == {"pretrain", "train"}
