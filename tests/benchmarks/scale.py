"""How the workflow's cost grows with the cohort: the synthetic cohort at several sizes.

Run from the repository root (about an hour on 2 cores)::

    .venv/bin/python tests/benchmarks/scale.py --patients 420 2000 4200 --cores 2 --out scale

For each cohort size a fresh copy of the workflow runs the default config (its image
grids, statistics and RNA-seq branch) with ``synthetic.n_patients`` set, ``--epochs``
training epochs (no early stopping, so every size trains the same number of epochs) and
``--resamples`` bootstrap resamples of the internal validation (its cost is in
proportion to them; the default 200 would make the largest cohort's run hours long),
one stage (rule file) after another. Per stage it records the wall time, the CPU time of
the jobs (Snakemake's children), the CPU time of the Snakemake process itself, the
largest resident memory of any job and of Snakemake, and the bytes the stage added
under ``results/``. Before the first job of the preprocessing stage it times the dry
run of the whole workflow (``snakemake -n``), when Snakemake builds the DAG of every job.

``--dag-only 10000`` instead simulates and validates a cohort of that size on the tiny
config's small grids (the DAG does not depend on image size) and times the dry runs,
local and through the SLURM profile, counting the cluster jobs the profile submits.

Writes ``OUT/stages.tsv`` (one row per size and stage), ``OUT/growth.tsv`` (each stage's
cost at the largest size over its cost at the smallest) and ``OUT/dag.tsv``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from conftest import parse_jobs, rule_stages  # noqa: E402

#: The stages (rule files, ``workflow/rules``), each after the stages it reads from
#: (Table 3 of the evaluation reads the internal validation's optimism).
STAGES = (
    "simulate",
    "validate",
    "preprocess",
    "split",
    "train",
    "signature",
    "report",
    "nomogram",
    "internal_validation",
    "evaluate",
    "stratify",
    "rnaseq",
)

# Snakemake in this process; at exit its own and its children's resource use, as JSON
MEASURED_SNAKEMAKE = """
import atexit, json, resource, sys, time
out, start = sys.argv[1], time.perf_counter()
def report():
    own, jobs = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as handle:
        json.dump({
            "wall_s": time.perf_counter() - start,
            "snakemake_cpu_s": own.ru_utime + own.ru_stime,
            "snakemake_rss_mb": own.ru_maxrss / 1024,
            "jobs_cpu_s": jobs.ru_utime + jobs.ru_stime,
            "jobs_peak_rss_mb": jobs.ru_maxrss / 1024,
        }, handle)
atexit.register(report)
sys.argv = ["snakemake", *sys.argv[2:]]
from snakemake.cli import main
main()
"""


def measured_snakemake(project: Path, *args) -> dict:
    """Run Snakemake in ``project``; its wall time, own CPU and memory, and its jobs'.

    The jobs' peak memory is the largest of any one job (``ru_maxrss`` of the children).
    """
    report = project / ".measured.json"
    report.unlink(missing_ok=True)
    command = [sys.executable, "-c", MEASURED_SNAKEMAKE, str(report), *args]
    result = subprocess.run(command, cwd=project, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"snakemake {' '.join(args)} failed in {project}:\n{result.stderr[-5000:]}")
    return json.loads(report.read_text())


def disk_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) if folder.exists() else 0


def fresh_project(target: Path) -> Path:
    """A copy of the repository's tracked files (no results, no Snakemake state)."""
    if target.exists():
        shutil.rmtree(target)
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in files.decode().split("\0"):
        if name and (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    return target


def write_overlay(
    project: Path, patients: int, epochs: int | None = None, resamples: int | None = None, *, tiny: bool = False
) -> list[str]:
    imaging = []
    if tiny:
        # the tiny config's small grids, but the default config's jobs of patients
        default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
        imaging.append(f"  patients_per_job: {default['imaging']['patients_per_job']}")
    if epochs is not None:
        imaging += ["  train:", f"    epochs: {epochs}", f"    patience: {epochs}"]
    lines = ["synthetic:", f"  n_patients: {patients}", *(["imaging:", *imaging] if imaging else [])]
    if resamples is not None:
        lines += ["internal_validation:", f"  resamples: {resamples}"]
    (project / "config" / "scale.yaml").write_text("\n".join(lines) + "\n")
    configs = ["config/tiny.yaml", "config/scale.yaml"] if tiny else ["config/scale.yaml"]
    return ["--configfile", *configs]


def dry_run_seconds(project: Path, *args) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", *args], cwd=project, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"snakemake -n {' '.join(args)} failed:\n{result.stderr[-5000:]}")
    return seconds, result.stdout + result.stderr


def job_count(dry_run_output: str) -> int:
    match = re.search(r"^total\s+(\d+)$", dry_run_output, flags=re.M)
    return int(match.group(1)) if match else 0


def local_rules() -> set[str]:
    """The rules of the Snakefile's ``localrules``, which run on the submitting host."""
    block = re.search(r"^localrules:\n((?:\s+\w+,?\n)+)", (REPO / "Snakefile").read_text(), flags=re.M)
    return set(re.findall(r"\w+", block.group(1)))


def cluster_job_count(dry_run_output: str) -> int:
    """Jobs the cluster gets: group jobs, and the jobs outside groups not run locally."""
    groups = len(re.findall(r"^\[[^\]]+\] Group job ", dry_run_output, flags=re.M))
    singles = re.findall(r"^(?:rule|checkpoint) (\w+):$", dry_run_output, flags=re.M)
    return groups + sum(rule not in local_rules() for rule in singles)


def stage_targets(project: Path, *args) -> tuple[float, int, dict]:
    """A dry run: its seconds, its job count, and the outputs of its jobs by stage."""
    seconds, listing = dry_run_seconds(project, *args)
    stages, targets = rule_stages(), {}
    for job in parse_jobs(listing):
        if job["rule"] in stages and job["output"]:
            targets.setdefault(stages[job["rule"]], []).extend(job["output"])
    return seconds, job_count(listing), targets


def run_size(workdir: Path, patients: int, *, cores: int, epochs: int, resamples: int) -> list[dict]:
    """Each stage's cost on a fresh project with ``patients`` synthetic patients.

    A stage runs the jobs of its rules that the dry run lists (their inputs are made by
    the stages before). Until the validation checkpoint has run, the dry run lists only
    the simulation and validation; after it, every job: that dry run is timed.
    """
    project = fresh_project(workdir / f"n{patients}")
    options = ["--cores", str(cores), *write_overlay(project, patients, epochs, resamples)]
    _, _, targets = stage_targets(project, *options)
    rows = []
    for stage in STAGES:
        if stage == "preprocess":
            seconds, jobs, targets = stage_targets(project, *options)
            rows.append({"patients": patients, "stage": "dag (snakemake -n)", "wall_s": seconds, "jobs": jobs})
        if stage not in targets:
            continue
        before = disk_bytes(project / "results")
        print(f"{patients} patients: {stage} ...", flush=True)
        measured = measured_snakemake(project, *targets[stage], *options)  # --configfile takes the rest
        measured["disk_mb"] = (disk_bytes(project / "results") - before) / 1e6
        rows.append({"patients": patients, "stage": stage, **measured})
        print(f"  {json.dumps(measured)}", flush=True)
    # anything no stage above reached (there should be nothing)
    measured = measured_snakemake(project, *options)
    rows.append({"patients": patients, "stage": "rest", **measured})
    return rows


def dag_only(workdir: Path, patients: int, *, cores: int) -> list[dict]:
    project = fresh_project(workdir / f"dag{patients}")
    config = write_overlay(project, patients, tiny=True)
    measured_snakemake(project, "--cores", str(cores), *config, "--until", "validate")
    rows = []
    seconds, output = dry_run_seconds(project, "--cores", str(cores), *config)
    rows.append({"patients": patients, "run": "local", "dry_run_s": seconds, "jobs": job_count(output)})
    seconds, output = dry_run_seconds(project, "--profile", "workflow/profiles/slurm", *config)
    (workdir / f"dag{patients}_slurm.txt").write_text(output)
    rows.append(
        {
            "patients": patients,
            "run": "slurm profile",
            "dry_run_s": seconds,
            "jobs": job_count(output),
            "cluster_jobs": cluster_job_count(output),
        }
    )
    return rows


def growth(stages: pd.DataFrame) -> pd.DataFrame:
    """Each stage's cost at the largest cohort over its cost at the smallest."""
    small, large = stages["patients"].min(), stages["patients"].max()
    costs = ["wall_s", "jobs_cpu_s", "snakemake_cpu_s", "jobs_peak_rss_mb", "disk_mb"]
    by_size = stages.set_index(["stage", "patients"])
    rows = []
    for stage in dict.fromkeys(stages["stage"]):
        row = {"stage": stage}
        for cost in costs:
            if cost in by_size and (stage, small) in by_size.index and (stage, large) in by_size.index:
                low, high = by_size.loc[(stage, small), cost], by_size.loc[(stage, large), cost]
                row[f"{cost} x"] = high / low if low > 0 else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, nargs="+", default=[420, 2000, 4200])
    parser.add_argument("--dag-only", type=int, nargs="+", default=None, metavar="PATIENTS")
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--epochs", type=int, default=2, help="training epochs at every size (default 2)")
    parser.add_argument(
        "--resamples", type=int, default=20, help="bootstrap resamples of the internal validation (default 20)"
    )
    parser.add_argument("--workdir", type=Path, default=Path("scale_runs"), help="where the projects run")
    parser.add_argument("--out", type=Path, default=Path("scale"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.dag_only:
        rows = [row for n in args.dag_only for row in dag_only(args.workdir.resolve(), n, cores=args.cores)]
        table = pd.DataFrame(rows)
        table.to_csv(args.out / "dag.tsv", sep="\t", index=False, float_format="%.2f")
        print(table.to_string(index=False))
        return
    rows = []
    for n in args.patients:
        rows += run_size(args.workdir.resolve(), n, cores=args.cores, epochs=args.epochs, resamples=args.resamples)
        stages = pd.DataFrame(rows)
        stages.to_csv(args.out / "stages.tsv", sep="\t", index=False, float_format="%.2f")
    table = growth(stages)
    table.to_csv(args.out / "growth.tsv", sep="\t", index=False, float_format="%.2f")
    print(stages.to_string(index=False))
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
