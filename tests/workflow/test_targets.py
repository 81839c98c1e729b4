"""Every figure and table is a Snakemake target that rebuilds alone and from what it needs.

The tests read what `snakemake -n` (dry run) lists: one block per job with its rule,
input, output, reason and wildcards. A deleted figure or table must bring back exactly
the job that makes it, with the same bytes; a plotting option (`figures`) must re-run the
plotting jobs and nothing upstream of them.
"""

import random
import re
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import (
    REPO,
    copy_completed_project,
    copy_project,
    member_signature_atol,
    parse_jobs,
    rule_stages,
    snakemake,
)

pytestmark = pytest.mark.e2e

TINY = ("--configfile", "config/tiny.yaml")
FIGURE_SUFFIXES = (".png", ".pdf")

# The study's figures and tables (file names of the default config; README, "What the
# run makes").
PAPER_TARGETS = [
    *(f"results/tables/table1_baseline.{ext}" for ext in ("tsv", "png", "pdf")),  # Table 1
    *(f"results/tables/table2_univariable.{ext}" for ext in ("tsv", "png", "pdf")),  # Table 2
    *(f"results/tables/table3_cindex.{ext}" for ext in ("tsv", "png", "pdf")),  # Table 3
    *(f"results/tables/table_s3_all.{ext}" for ext in ("tsv", "png", "pdf")),  # Table S3
    "results/tables/variable_selection.tsv",
    "results/tables/signature_vs_oracle.tsv",
    "results/tables/nomogram_vs_oracle.tsv",
    *(f"results/figures/training_{m}.png" for m in ("ct", "pet", "petct")),
    # Fig. S1
    *(f"results/figures/signature_km_{m}_{s}.png" for m in ("ct", "pet", "petct") for s in ("train", "test")),
    *(f"results/figures/nomogram_{n}.png" for n in ("clinical", "dl_petct", "integrated")),  # Fig. 2A
    *(f"results/figures/calibration_integrated_{s}.png" for s in ("train", "test")),  # Fig. 2B
    *(f"results/figures/roc_{s}.png" for s in ("train", "test")),  # Fig. S2
    *(f"results/tables/tdauc_{s}.tsv" for s in ("train", "test")),
    # Fig. 3
    *(f"results/figures/km_{n}_{s}.png" for n in ("clinical", "dl_petct", "integrated") for s in ("train", "test")),
    *(f"results/figures/subgroup_{v}_all.png" for v in ("sex", "ebv_dna", "N_stage", "treatment")),  # Fig. 4
    "results/figures/treatment_by_risk_all.png",
    "results/figures/rnaseq_volcano.png",
    "results/figures/rnaseq_heatmap.png",  # Fig. S3
    *(f"results/figures/rnaseq_top_terms_demo_{d}.png" for d in ("up", "down", "all")),  # Fig. 5
]

# Jobs that compute (simulation, preprocessing, training, statistics) and draw nothing:
# a plotting option must never re-run them.
COMPUTING_RULES = {
    "simulate",
    "validate",
    "split",
    "preprocess",
    "slice_manifest",
    "radiomics_features",
    "radiomics_signature",
    "radiomics_matched_signature",
    "signature_vs_radiomics",
    "train",
    "predict_signature",
    "oracle_signature",
    "signature",
    "signature_vs_oracle",
    "nomogram_selection",
    "fit_nomogram",
    "nomogram_vs_oracle",
    "internal_validation",
    "stratify_cutoff",
    "stratify_summary",
    "stratify_risk_groups",
    "stratify_subgroup_table",
    "rnaseq_deseq2",
    "rnaseq_enrichment",
    "cohort_summary",
}

# One target per stage (rule file) is deleted and rebuilt, drawn with a fixed seed among
# the stage's PNG figures and TSV tables: every run checks the same files, and rebuilding
# all of them would take minutes.
SAMPLE_SEED = 2022
SAMPLED_STAGES = [
    "report",
    "train",
    "signature",
    "radiomics",
    "nomogram",
    "evaluate",
    "internal_validation",
    "stratify",
    "rnaseq",
]


def dry_run(project: Path, *args) -> list:
    """Jobs `snakemake -n *args` would run in `project` (targets go before --configfile)."""
    result = snakemake(project, "-n", *args)
    return parse_jobs(result.stdout + "\n" + result.stderr)


def all_targets(jobs: list) -> list:
    """Inputs of `rule all`: every final target of the config."""
    (job,) = [job for job in jobs if job["rule"] == "all"]
    return job["input"]


def makers(jobs: list) -> dict:
    """Output path -> the job that writes it."""
    return {path: job for job in jobs for path in job["output"]}


def is_figure_or_table(path: str) -> bool:
    return path.startswith(("results/figures/", "results/tables/"))


def draws_figures(job: dict) -> bool:
    return any(path.endswith(FIGURE_SUFFIXES) for path in job["output"])


def png_size(path: Path) -> tuple:
    """Width and height in pixels, from the PNG header (IHDR chunk)."""
    return struct.unpack(">II", path.read_bytes()[16:24])


@pytest.fixture(scope="module")
def default_jobs(tmp_path_factory):
    """Dry run of the default config (config/config.yaml) on a copy with nothing built."""
    return dry_run(copy_project(tmp_path_factory.mktemp("default_config")))


@pytest.fixture(scope="module")
def tiny_jobs(tmp_path_factory):
    """Dry run of the tiny config on a copy with nothing built."""
    return dry_run(copy_project(tmp_path_factory.mktemp("tiny_config")), *TINY)


@pytest.fixture(scope="module")
def sampled_targets(default_jobs):
    """Stage -> one of its PNG figures or TSV tables, drawn with SAMPLE_SEED."""
    stages, made_by = rule_stages(), makers(default_jobs)
    rng = random.Random(SAMPLE_SEED)
    sample = {}
    for stage in SAMPLED_STAGES:
        candidates = sorted(
            path
            for path in all_targets(default_jobs)
            if is_figure_or_table(path) and path.endswith((".png", ".tsv")) and stages[made_by[path]["rule"]] == stage
        )
        sample[stage] = rng.choice(candidates)
    # what the sample is for: a table, and a figure at the end of the DAG
    assert any(path.endswith(".tsv") for path in sample.values()), sample
    assert any(re.search(r"/(km|(bootstrap_)?calibration)_", path) for path in sample.values()), sample
    return sample


def test_default_config_targets_every_figure_and_table_of_the_study(default_jobs):
    targets = all_targets(default_jobs)
    missing = sorted(set(PAPER_TARGETS) - set(targets))
    assert not missing, f"rule all of config/config.yaml lacks {missing}"
    made_by = makers(default_jobs)
    assert not [path for path in targets if path not in made_by], "a target without a job"
    # every figure and table has its PNG beside its PDF
    for path in targets:
        if path.endswith(".pdf"):
            assert path[: -len(".pdf")] + ".png" in targets, path
    stages = rule_stages()
    assert {stages[made_by[path]["rule"]] for path in targets if is_figure_or_table(path)} == set(SAMPLED_STAGES)


def test_tiny_config_builds_the_same_targets_with_the_same_rules(default_jobs, tiny_jobs):
    assert sorted(all_targets(tiny_jobs)) == sorted(all_targets(default_jobs))
    assert Counter(job["rule"] for job in tiny_jobs) == Counter(job["rule"] for job in default_jobs)


@pytest.mark.parametrize("stage", SAMPLED_STAGES)
def test_deleted_target_is_rebuilt_by_its_own_job_alone(stage, sampled_targets, default_jobs, tiny_complete, tmp_path):
    target = sampled_targets[stage]
    rule = makers(default_jobs)[target]["rule"]
    project = copy_completed_project(tiny_complete, tmp_path / "project")
    original = (project / target).read_bytes()
    (project / target).unlink()

    jobs = dry_run(project, target, *TINY)
    assert [job["rule"] for job in jobs] == [rule], f"{target}: {jobs}"
    (job,) = jobs
    assert job["reason"] == f"Missing output files: {target}"
    siblings = {path: (project / path).read_bytes() for path in job["output"] if path != target}

    snakemake(project, target, *TINY)
    # same config, same inputs: the same bytes, PNG and PDF included (no timestamps)
    assert (project / target).read_bytes() == original, target
    for path, content in siblings.items():
        assert (project / path).read_bytes() == content, path


def test_deleted_intermediates_and_figure_rerun_exactly_the_missing_chain(tiny_complete, tmp_path):
    """A Kaplan-Meier figure, the risk groups it is drawn from and the nomogram scores those
    come from deleted: the three jobs that write them run, and nothing else that reads the
    same files (Table 3, ROC, calibration, the training-set figure, the risk group table)."""
    project = copy_completed_project(tiny_complete, tmp_path / "project")
    scores = "results/nomograms/integrated_scores.tsv"
    groups = "results/stratify/integrated_groups.tsv"
    figure = "results/figures/km_integrated_test.png"
    originals = {path: (project / path).read_bytes() for path in (scores, groups, figure)}
    (project / scores).unlink()
    (project / figure).unlink()

    # an intermediate whose readers are up to date is not rebuilt for a target
    jobs = dry_run(project, figure, *TINY)
    assert [(job["rule"], job["wildcards"]) for job in jobs] == [("stratify_km", "nomogram=integrated, split=test")]

    (project / groups).unlink()
    jobs = dry_run(project, figure, *TINY)
    assert sorted((job["rule"], job["wildcards"]) for job in jobs) == [
        ("fit_nomogram", "nomogram=integrated"),
        ("stratify_cutoff", "nomogram=integrated"),
        ("stratify_km", "nomogram=integrated, split=test"),
    ]
    missing = {job["rule"]: job["reason"].split(";")[0] for job in jobs}
    assert missing == {
        "fit_nomogram": f"Missing output files: {scores}",
        "stratify_cutoff": f"Missing output files: {groups}",
        "stratify_km": f"Missing output files: {figure}",
    }

    snakemake(project, figure, *TINY)
    for path, content in originals.items():
        assert (project / path).read_bytes() == content, path
    result = snakemake(project, "-n", figure, *TINY)
    assert "Nothing to be done" in result.stdout + result.stderr


def test_changed_image_reruns_the_preprocessing_job_of_its_patient_alone(tiny_complete, tmp_path):
    """Preprocessing runs 8 patients to a job (config/tiny.yaml): a newer CT of SYN0010
    re-runs the job of SYN0009-SYN0016 and the manifest, which come back with the same
    bytes; the other jobs' patients are not preprocessed again."""
    import os

    project = copy_completed_project(tiny_complete, tmp_path / "project")
    batch = project / "results/preprocessed/batch0002"
    originals = {path.name: path.read_bytes() for path in batch.glob("*.npz")}
    assert sorted(originals) == [f"SYN{number:04d}.npz" for number in range(9, 17)]
    untouched = project / "results/preprocessed/batch0001/SYN0001.npz"
    untouched_mtime = untouched.stat().st_mtime_ns
    image = project / "results/synthetic/images/SYN0010_ct.nii.gz"
    later = (batch / "SYN0010.npz").stat().st_mtime + 60
    os.utime(image, (later, later))

    manifest = "results/preprocessed/manifest.tsv"
    jobs = dry_run(project, manifest, *TINY)
    assert sorted((job["rule"], job["wildcards"]) for job in jobs) == [
        ("preprocess", "batch=batch0002"),
        ("slice_manifest", ""),
    ]
    before = (project / manifest).read_bytes()
    snakemake(project, manifest, *TINY)
    assert {path.name: path.read_bytes() for path in batch.glob("*.npz")} == originals
    assert (project / manifest).read_bytes() == before
    assert untouched.stat().st_mtime_ns == untouched_mtime


def test_image_gone_since_validation_is_named_with_its_patient_and_column(tiny_complete, tmp_path):
    project = copy_completed_project(tiny_complete, tmp_path / "project")
    image = "results/synthetic/images/SYN0010_pet.nii.gz"
    (project / image).unlink()
    result = snakemake(project, "-n", "results/preprocessed/manifest.tsv", *TINY, check=False)
    assert result.returncode != 0
    message = " ".join((result.stdout + result.stderr).split())
    assert f"{image}: patient SYN0010, column pet: the image is gone since validation" in message


def test_plotting_option_reruns_the_plotting_jobs_only(default_jobs, tiny_complete, tmp_path):
    project = copy_completed_project(tiny_complete, tmp_path / "project")
    (project / "config" / "figures_dpi.yaml").write_text("figures:\n  dpi: 100\n")
    overlay = (*TINY, "config/figures_dpi.yaml")

    jobs = [job for job in dry_run(project, *overlay) if job["rule"] != "all"]
    listed = Counter(job["rule"] for job in jobs)
    plotting = Counter(job["rule"] for job in default_jobs if draws_figures(job))
    assert listed == plotting
    assert not COMPUTING_RULES & set(listed)
    for job in jobs:
        assert draws_figures(job), job
        assert job["reason"].startswith("Params have changed since last execution"), job
        assert "'dpi': 100" in job["reason"], job

    # the option changes the figures: half the dots per inch, half the pixels; the
    # table drawn by the same job is computed again to the same bytes
    figure, table_png, table = (
        "results/figures/km_integrated_test.png",
        "results/tables/table3_cindex.png",
        "results/tables/table3_cindex.tsv",
    )
    before = {path: png_size(project / path) for path in (figure, table_png)}
    table_bytes = (project / table).read_bytes()
    snakemake(project, figure, table_png, *overlay)
    for path, (width, height) in before.items():
        new_width, new_height = png_size(project / path)
        assert abs(2 * new_width - width) <= 2 and abs(2 * new_height - height) <= 2, path
    assert (project / table).read_bytes() == table_bytes


def test_added_ensemble_member_trains_alone_and_the_signature_averages_the_members(tiny_complete, tmp_path):
    """imaging.train.members 1 -> 2: only the new member of each model trains (seed + 1,
    nothing upstream re-runs, the first members are kept); the signature is the mean of
    the members' train-standardised scores and the training figure gets a panel each."""
    import pandas as pd
    import torch

    from survsig.imaging.signature import trained_signature
    from survsig.imaging.slice_data import load_slice_data
    from survsig.imaging.slices import read_manifest
    from survsig.imaging.train import SignatureTrainer

    project = copy_completed_project(tiny_complete, tmp_path / "project")
    (project / "config" / "two_members.yaml").write_text("imaging:\n  train:\n    members: 2\n")
    overlay = (*TINY, "config/two_members.yaml")
    jobs = dry_run(project, *overlay)
    trains = sorted(job["wildcards"] for job in jobs if job["rule"] == "train")
    assert trains == [f"model={model}, member=1" for model in ("ct", "pet", "petct")]
    assert all(job["reason"].startswith("Missing output files") for job in jobs if job["rule"] == "train")
    assert not {"simulate", "validate", "split", "preprocess", "slice_manifest"} & {job["rule"] for job in jobs}

    signature, figure = "results/signatures/trained/petct.tsv", "results/figures/training_petct.png"
    one_member_height = png_size(project / figure)[1]
    snakemake(project, signature, figure, *overlay)
    members = [project / f"results/models/petct/member{m}/model.pt" for m in (0, 1)]
    assert [torch.load(path, weights_only=False)["settings"]["seed"] for path in members] == [2022, 2023]
    manifest = [str(project / path) for path in read_manifest(project / "results/preprocessed/manifest.tsv")]
    split = pd.read_csv(project / "results/split.tsv", sep="\t", dtype={"patient_id": str})
    train = (split["split"] == "train").to_numpy()
    # as the prediction job ran: one thread each on 2 cores (workflow.cores // networks)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = [trained_signature(path, manifest, split)["signature"].to_numpy() for path in members]
        networks = [SignatureTrainer.load(path) for path in members]
        data = load_slice_data(manifest, networks[0].channels, context_mm=networks[0].settings.context_mm)
        snapshots = [network.snapshot_scores(data, split["patient_id"].tolist()) for network in networks]
    finally:
        torch.set_num_threads(threads)
    assert not np.allclose(single[0], single[1])
    mean = (single[0] + single[1]) / 2
    expected = (mean - mean[train].mean()) / mean[train].std(ddof=1)
    written = pd.read_csv(project / signature, sep="\t")
    # float32 scores of another thread count or CPU, carried through the standardisations,
    # plus the file's 6 decimals
    atol = max(member_signature_atol(s, train) for s in snapshots) / mean[train].std(ddof=1) + 0.5e-6
    # the tolerance still tells the formula from a wrong one: the mean not standardised again
    assert np.abs(mean - expected).max() > 10 * atol
    np.testing.assert_allclose(written["signature"], expected, rtol=0, atol=atol)
    assert png_size(project / figure)[1] > 1.4 * one_member_height


def labelled_graph(dot: str) -> tuple:
    """(rule names, edges as rule-name pairs) of `snakemake --rulegraph` output."""
    labels = dict(re.findall(r'^\s*(\d+)\[label = "(\w+)"', dot, flags=re.M))
    edges = {(labels[a], labels[b]) for a, b in re.findall(r"^\s*(\d+) -> (\d+)", dot, flags=re.M)}
    return set(labels.values()), edges


def test_rule_graph_in_the_readme_is_current(tiny_complete):
    """docs/rulegraph.dot (drawn as docs/rulegraph.svg in the README) is the workflow's graph.

    It is drawn from a completed default run (the per-patient rules appear once the input
    checkpoint has run); redraw both after changing rules:
    snakemake --rulegraph > docs/rulegraph.dot && dot -Tsvg docs/rulegraph.dot > docs/rulegraph.svg
    """
    graph = snakemake(tiny_complete, "--rulegraph", "--quiet", "--configfile", "config/tiny.yaml").stdout
    rules, edges = labelled_graph(graph)
    drawn_rules, drawn_edges = labelled_graph((REPO / "docs" / "rulegraph.dot").read_text())
    assert rules == drawn_rules
    # the tiny config labels RNA-seq samples by true risk, not by the nomogram's groups
    assert edges - {("simulate", "rnaseq_deseq2")} == drawn_edges - {("stratify_risk_groups", "rnaseq_deseq2")}
    assert ("stratify_risk_groups", "rnaseq_deseq2") in drawn_edges
