"""The tiny workflow run through a real one-node SLURM cluster with workflow/profiles/slurm.

Run by .ci/run with `pytest -m slurm` after installing Debian's slurm-wlm, slurmdbd, munge
and mariadb-server. Skips when they are absent, unless SURVSIG_REQUIRE_SLURM=1 (then fails).
"""

import filecmp
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO, SNAKEMAKE, copy_project

pytestmark = pytest.mark.slurm

CLUSTER_SCRIPT = REPO / "tests" / "slurm" / "one_node_cluster.sh"
PARTITION = "debug"
# What sacct must list: single jobs by rule, and the profile's group jobs (small jobs bundled)
SLURM_JOBS = {
    "rule_simulate": 1,
    "rule_validate": 1,
    "rule_train_wildcards_ct_0": 1,  # model ct, ensemble member 0
    "rule_train_wildcards_pet_0": 1,
    "rule_train_wildcards_petct_0": 1,
    "rule_predict_signature_wildcards_ct": 1,
    "rule_predict_signature_wildcards_pet": 1,
    "rule_predict_signature_wildcards_petct": 1,
    "rule_preprocess_preprocess": 1,  # 40 patients: 5 jobs of 8, bundled 10 jobs to a SLURM job
    "rule_radiomics_radiomics_features": 1,  # the same 5 jobs of 8 patients, bundled alike
    "rule_statistics_": 1,
    "rule_rnaseq_rnaseq_deseq2_": 1,
    # outside the statistics group: grouped, the profile's dry run sometimes found no job ready
    "rule_radiomics_signature": 1,
    "rule_fusion_signature": 1,
}
COMPARED = (
    "results/split.tsv",
    "results/signatures/ct.tsv",
    "results/signatures/pet.tsv",
    "results/signatures/petct.tsv",
    "results/signatures/radiomics.tsv",
    "results/signatures/fusion.tsv",
    "results/tables/signature_vs_oracle.tsv",
    "results/tables/table1_baseline.tsv",
    "results/tables/table2_univariable.tsv",
    "results/tables/table3_cindex.tsv",
    "results/risk_groups.tsv",
    "results/rnaseq/deseq2_results.tsv",
    "results/figures/km_integrated_test.png",
    "results/figures/nomogram_integrated.png",
)


def _require_slurm():
    missing = [
        tool
        for tool in ("slurmctld", "slurmd", "slurmdbd", "munged", "mariadbd", "sacct")
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists()
    ]
    reason = None
    if missing:
        reason = f"SLURM is not installed here (missing {', '.join(missing)})"
    elif os.geteuid() != 0:
        reason = "starting a SLURM cluster needs root"
    if reason:
        if os.environ.get("SURVSIG_REQUIRE_SLURM") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def slurm_cluster():
    """A running one-node cluster; its daemons are stopped afterwards."""
    _require_slurm()
    # the MariaDB and munge users must reach the state folder, which pytest's tmp is not
    state = Path(tempfile.mkdtemp(prefix="survsig-slurm-"))
    state.chmod(0o755)
    env = {**os.environ, "SURVSIG_SLURM_DIR": str(state), "SURVSIG_SLURM_PARTITION": PARTITION}
    started = subprocess.run([str(CLUSTER_SCRIPT), "start"], env=env, capture_output=True, text=True)
    try:
        if started.returncode != 0:
            logs = "\n".join(f"--- {log.name}\n{log.read_text()[-2000:]}" for log in sorted((state / "log").glob("*")))
            pytest.fail(f"the SLURM cluster did not start:\n{started.stdout}{started.stderr}\n{logs}")
        yield {**env, "SLURM_CONF": str(state / "slurm.conf")}
    finally:
        subprocess.run([str(CLUSTER_SCRIPT), "stop"], env=env, capture_output=True, text=True)
        shutil.rmtree(state, ignore_errors=True)


def profile_for_this_node(target: Path) -> Path:
    """workflow/profiles/slurm, with the partition, threads, memory and GPU of this node."""
    settings = yaml.safe_load((REPO / "workflow/profiles/slurm/config.yaml").read_text())
    settings["default-resources"]["slurm_partition"] = PARTITION
    for resources in settings["set-resources"].values():
        resources.pop("gpu", None)
        resources.pop("gpu_model", None)
        resources["slurm_partition"] = PARTITION
        resources["mem_mb"] = min(resources.get("mem_mb", 1000), 1000)
    settings["default-resources"]["mem_mb"] = 1000
    settings["set-threads"] = {rule: min(threads, 2) for rule, threads in settings["set-threads"].items()}
    # the local run gives each of the tiny config's 3 networks one of its 2 cores, and
    # float sums differ with the thread count: train and predict alike to get the same bytes
    settings["set-threads"]["train"] = settings["set-threads"]["predict_signature"] = 1
    settings["slurm-init-seconds-before-status-checks"] = 5
    settings["slurm-keep-successful-logs"] = True
    profile = target / "profile"
    profile.mkdir(parents=True, exist_ok=True)
    (profile / "config.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    return profile


def _sacct(env):
    """(job id, state, comment) of every job and job step SLURM accounted for."""
    listing = subprocess.run(
        [
            "sacct",
            "--allusers",
            "--noheader",
            "--parsable2",
            "--starttime=2000-01-01",
            "--format=JobID,State,Comment%400",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [tuple(line.split("|", 2)) for line in listing.splitlines()]


def _job_kind(comment):
    for kind in SLURM_JOBS:
        if comment == kind or (kind.endswith("_") and comment.startswith(kind)):
            return kind
    return comment


def test_tiny_workflow_through_slurm_matches_a_local_run(slurm_cluster, tiny_complete, tmp_path):
    project = copy_project(tmp_path / "project")
    profile = profile_for_this_node(tmp_path)
    start = time.monotonic()
    # the executor ignores SIGTERM while it waits on jobs: kill the whole group on timeout
    process = subprocess.Popen(
        [SNAKEMAKE, "--profile", str(profile), "--configfile", "config/tiny.yaml", "--cores", "2"],
        cwd=project,
        env=slurm_cluster,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=1500)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"the SLURM run did not finish in 25 minutes:\n{output[-5000:]}")
    elapsed = time.monotonic() - start
    assert process.returncode == 0, output[-8000:]
    print(f"tiny workflow through SLURM: {elapsed:.0f} s")

    # accounting records reach sacct a few seconds after a job ends
    deadline = time.monotonic() + 30
    while True:
        records = _sacct(slurm_cluster)
        jobs = [(job, state, comment) for job, state, comment in records if "." not in job]
        counts = {kind: 0 for kind in SLURM_JOBS}
        for _, _, comment in jobs:
            kind = _job_kind(comment)
            counts[kind] = counts.get(kind, 0) + 1
        if counts == SLURM_JOBS or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert counts == SLURM_JOBS, f"sacct lists {counts}"
    assert all(state == "COMPLETED" for _, state, _ in jobs), jobs
    # inside the preprocessing group job, one step per job of 8 patients
    preprocess_jobs = {job for job, _, comment in jobs if comment == "rule_preprocess_preprocess"}
    steps = [
        job
        for job, _, _ in records
        if job.split(".")[0] in preprocess_jobs and job.split(".")[-1].isdigit() and "." in job
    ]
    assert len(steps) == 5

    for name in COMPARED:
        assert filecmp.cmp(project / name, tiny_complete / name, shallow=False), name
