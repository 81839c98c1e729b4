"""The execution profiles: they name real rules and Snakemake accepts them (dry runs).

The SLURM profile is run for real on a one-node cluster in tests/workflow/test_slurm.py.
"""

import re

import pytest
import yaml

from conftest import REPO, copy_project, rule_stages, snakemake

pytestmark = pytest.mark.e2e

SLURM_PROFILE = REPO / "workflow" / "profiles" / "slurm" / "config.yaml"


def job_blocks(listing: str) -> dict:
    """rule name -> list of the dry-run job blocks (text) of that rule."""
    blocks = {}
    for block in re.split(r"\n(?=\[[^\]]+\]\n)", listing):
        header = re.search(r"^(?:local)?(?:rule|checkpoint) (\w+):$", block, flags=re.M)
        if header:
            blocks.setdefault(header.group(1), []).append(block)
    return blocks


def test_slurm_profile_names_only_rules_of_the_workflow():
    settings = yaml.safe_load(SLURM_PROFILE.read_text())
    rules = set(rule_stages())
    named = set(settings["set-threads"]) | set(settings["set-resources"]) | set(settings["groups"])
    assert named <= rules, f"unknown rules in the profile: {sorted(named - rules)}"
    assert set(settings["group-components"]) == set(settings["groups"].values())
    # threads come from the profile, never from the submitting machine
    assert all(isinstance(threads, int) for threads in settings["set-threads"].values())


def test_slurm_profile_dry_run_asks_a_gpu_for_training(tmp_path):
    project = copy_project(tmp_path)
    result = snakemake(project, "-n", "--profile", "workflow/profiles/slurm", "--configfile", "config/tiny.yaml")
    listing = result.stdout + result.stderr
    blocks = job_blocks(listing)
    assert len(blocks["train"]) == 3
    for block in blocks["train"]:
        assert "slurm_partition=gpu" in block and re.search(r"\bgpu=1\b", block), block
        assert "mem_mb=16000" in block and "runtime=240" in block, block
    for block in blocks["simulate"] + blocks["validate"]:
        assert "slurm_partition=cpu" in block and "gpu=" not in block, block
    # the small jobs after training go out bundled, as group jobs
    assert "Group job statistics" in listing and "Group job rnaseq" in listing


def test_default_profile_dry_run(tmp_path):
    project = copy_project(tmp_path)
    result = snakemake(project, "-n", "--profile", "workflow/profiles/default", "--configfile", "config/tiny.yaml")
    assert "Group job" not in result.stdout + result.stderr
    assert "rule simulate:" in result.stdout + result.stderr
