"""The real Snakemake workflow, run on the tiny config in a temporary copy of the project."""

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import copy_project, snakemake

pytestmark = pytest.mark.e2e


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("tiny"))
    snakemake(project, "results/tables/table1_baseline.tsv", "--configfile", "config/tiny.yaml")
    return project


def test_dry_run_of_default_config_lists_the_dag(tmp_path):
    project = copy_project(tmp_path)
    result = snakemake(project, "-n")
    listing = result.stdout + result.stderr
    for rule in ("simulate", "validate", "split", "table1", "cohort_summary", "all"):
        assert rule in listing, rule
    assert not (project / "results").exists()


def test_table1_builds_from_nothing(tiny_run):
    table = pd.read_csv(tiny_run / "results/tables/table1_baseline.tsv", sep="\t")
    split = pd.read_csv(tiny_run / "results/split.tsv", sep="\t")
    assert len(split) == 40
    assert (split["split"] == "train").sum() == 24
    assert not table.empty
    for log in ("simulate", "validate", "split", "table1"):
        assert (tiny_run / "logs" / f"{log}.log").is_file()


def test_same_seed_gives_byte_identical_cohort_and_table1(tiny_run, tmp_path):
    again = copy_project(tmp_path / "again")
    snakemake(again, "results/tables/table1_baseline.tsv", "--configfile", "config/tiny.yaml")
    for name in (
        "results/synthetic/clinical.tsv",
        "results/synthetic/ground_truth.tsv",
        "results/synthetic/rnaseq_counts.tsv",
        "results/synthetic/images/SYN0007_ct.nii.gz",
        "results/synthetic/images/SYN0007_pet.nii.gz",
        "results/split.tsv",
        "results/tables/table1_baseline.tsv",
        "results/tables/table1_baseline.png",
        "results/tables/table1_baseline.pdf",
    ):
        assert sha256(tiny_run / name) == sha256(again / name), name


def test_other_seed_gives_another_cohort(tiny_run, tmp_path):
    other = copy_project(tmp_path / "other")
    (other / "config" / "seed8.yaml").write_text("synthetic:\n  seed: 8\n")
    snakemake(
        other,
        "results/synthetic/clinical.tsv",
        "--configfile",
        "config/tiny.yaml",
        "config/seed8.yaml",
    )
    first = tiny_run / "results/synthetic/clinical.tsv"
    assert sha256(first) != sha256(other / "results/synthetic/clinical.tsv")


def test_bad_sheet_stops_with_one_clear_message_and_no_output(tiny_run, tmp_path):
    project = copy_project(tmp_path / "sheets")
    cohort = project / "cohort"
    shutil.copytree(tiny_run / "results/synthetic/images", cohort / "images")
    shutil.copy2(tiny_run / "results/synthetic/images.tsv", cohort / "images.tsv")
    clinical = pd.read_csv(tiny_run / "results/synthetic/clinical.tsv", sep="\t")
    clinical.loc[4, "os_event"] = 2
    clinical.to_csv(cohort / "clinical.tsv", sep="\t", index=False)
    (project / "config" / "sheets.yaml").write_text(
        "cohort:\n  source: sheets\n  clinical: cohort/clinical.tsv\n  images: cohort/images.tsv\n  rnaseq: null\n"
    )
    result = snakemake(
        project,
        "results/tables/table1_baseline.tsv",
        "--configfile",
        "config/sheets.yaml",
        check=False,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    patient = clinical.loc[4, "patient_id"]
    assert "cohort/clinical.tsv" in output and patient in output and "os_event" in output
    assert not (project / "results/validated").exists() or not any((project / "results/validated").iterdir())
    assert not (project / "results/split.tsv").exists()


def test_statistics_run_on_oracle_signatures(tiny_run):
    """Nomograms, Table 3 and risk groups of the tiny cohort, signatures = true image predictors."""
    (tiny_run / "config" / "oracle.yaml").write_text("imaging:\n  signatures: oracle\n")
    result = snakemake(
        tiny_run,
        "results/tables/table3_cindex.tsv",
        "results/risk_groups.tsv",
        "results/figures/km_integrated_test.png",
        "--configfile",
        "config/tiny.yaml",
        "config/oracle.yaml",
    )
    table3 = pd.read_csv(tiny_run / "results/tables/table3_cindex.tsv", sep="\t")
    assert {"clinical", "dl_petct", "integrated"} <= set(table3.iloc[:, 0])
    # no network is trained for the oracle signatures: there is nothing to fuse
    assert "fusion" not in set(table3.iloc[:, 0])
    log = result.stdout + result.stderr
    assert "rule fit_nomogram:" in log  # the log names the rules that ran
    assert "rule train:" not in log and "rule fusion_signature:" not in log
    groups = pd.read_csv(tiny_run / "results/risk_groups.tsv", sep="\t")
    assert len(groups) == 40 and set(groups["risk_group"]) == {"high", "low"}
    # the oracle PET/CT signature is the true image predictor, standardised on train
    signature = pd.read_csv(tiny_run / "results/signatures/petct.tsv", sep="\t")
    truth = pd.read_csv(tiny_run / "results/synthetic/ground_truth.tsv", sep="\t")
    merged = signature.merge(truth, on="patient_id")
    assert merged["signature"].corr(merged["lp_image"]) == pytest.approx(1.0, abs=1e-6)
    train = merged[merged["split"] == "train"]
    assert train["signature"].mean() == pytest.approx(0.0, abs=1e-5)


def test_trained_signatures_through_snakemake(tiny_run):
    """Preprocessing (5 jobs of 8 patients), training of the three networks and their signatures (tiny)."""
    snakemake(tiny_run, "results/tables/signature_vs_oracle.tsv", "--configfile", "config/tiny.yaml")
    batches = sorted(path.name for path in (tiny_run / "results/preprocessed").glob("batch*"))
    assert batches == [f"batch{number:04d}" for number in range(1, 6)]
    files = sorted((tiny_run / "results/preprocessed").glob("batch*/SYN*.npz"))
    assert [path.stem for path in files] == [f"SYN{number:04d}" for number in range(1, 41)]
    assert [path.parent.name for path in files] == [f"batch{(number - 1) // 8 + 1:04d}" for number in range(1, 41)]
    table = pd.read_csv(tiny_run / "results/tables/signature_vs_oracle.tsv", sep="\t")
    # the networks, the radiomics comparator beside them (features per job of 8 patients),
    # the comparators matched to the CT and PET networks (the ROI's shape and their
    # modality) and the fusion of the PET/CT network's embedding with the features
    models = ["ct", "fusion", "pet", "petct", "radiomics", "radiomics_ct", "radiomics_pet"]
    assert sorted(table["model"].unique()) == models
    channels = table.groupby("model")["channels"].first()
    matched = ["radiomics", "radiomics_ct", "radiomics_pet", "fusion"]
    assert channels[matched].tolist() == ["ct+pet+roi", "ct+roi", "pet+roi", "ct+pet+roi"]
    header = pd.read_csv(tiny_run / "results/radiomics/features/batch0001.tsv", sep="\t", nrows=0).columns
    for modality, other in (("ct", "pet"), ("pet", "ct")):
        fit = json.loads((tiny_run / f"results/radiomics/matched/{modality}.json").read_text())
        assert fit["feature_modalities"] == [modality]
        offered = [name for name in header if name.startswith(("shape_", f"{modality}_"))]
        assert fit["features_used"] + len(fit["dropped"]) == len(offered)
        assert not any(name.startswith(f"{other}_") for name in [*fit["coefficients"], *fit["dropped"]])
    features = sorted(path.name for path in (tiny_run / "results/radiomics/features").glob("*.tsv"))
    assert features == [f"batch{number:04d}.tsv" for number in range(1, 6)]
    assert table["cindex"].between(0, 1).all()
    for model in ("ct", "pet", "petct"):
        signature = pd.read_csv(tiny_run / f"results/signatures/trained/{model}.tsv", sep="\t")
        assert len(signature) == 40 and signature["signature"].std() > 0
        log = (tiny_run / f"logs/train/{model}_member0.log").read_text()
        assert "epoch   2/2" in log  # one progress line per epoch
    # each network trained with its own block: imaging.train changed by imaging.train_by_model
    from survsig.core.settings import model_train_block
    from survsig.imaging.model_files import read_model_file

    imaging = yaml.safe_load((tiny_run / "config/config.yaml").read_text())["imaging"]
    context = {
        model: read_model_file(tiny_run / f"results/models/{model}/member0/model.pt")["settings"].context_mm
        for model in ("ct", "pet", "petct")
    }
    assert context == {model: model_train_block(imaging, model)["context_mm"] for model in context}
    assert len(set(context.values())) > 1  # the default config trains the networks differently


def test_whole_tiny_workflow_completes(tiny_complete):
    """`rule all` on the tiny config (the shared completed run): every stage, RNA-seq included."""
    for name in (
        "results/tables/table3_cindex.tsv",
        "results/risk_groups.tsv",
        "results/figures/nomogram_integrated.png",
        "results/rnaseq/deseq2_results.tsv",
        "results/figures/rnaseq_heatmap.png",
    ):
        assert (tiny_complete / name).is_file(), name
    dry = snakemake(tiny_complete, "-n", "--configfile", "config/tiny.yaml")
    assert "Nothing to be done" in dry.stdout + dry.stderr
