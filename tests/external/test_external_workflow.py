"""External validation through Snakemake on the tiny config, and ``survsig predict``.

The tiny run (the shared completed project) is frozen and scored on a synthetic other
centre (other grids, PET calibration and case mix); nothing may be refit on the external
patients, and the training outputs must not move.
"""

import hashlib
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import copy_completed_project, embedded_json, html_text, snakemake, words
from survsig.cohort.validate import validate_cohort
from survsig.core import columns as col
from survsig.core.errors import InputError
from survsig.external.cohort import validate_external
from survsig.statistics.cindex import CORRECTED_COLUMNS, TABLE3_COLUMNS

TINY = ("--configfile", "config/tiny.yaml", "config/external.yaml")
#: Another scanner than the tiny cohort's (48 x 48 x 16 CT of 3 x 3 x 5 mm, 24^3 PET of 6 mm)
OTHER_CENTRE = {
    "name": "Other centre",
    "synthetic": {
        "n_patients": 40,
        "ct_size": [60, 60, 20],
        "ct_spacing": [2.4, 2.4, 4.0],
        "pet_size": [22, 22, 12],
        "pet_spacing": [6.5, 6.5, 6.5],
    },
}


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def result_files(project):
    return {
        path.relative_to(project): (digest(path), path.stat().st_mtime_ns)
        for path in sorted((project / "results").rglob("*"))
        if path.is_file()
    }


def read(path):
    return pd.read_csv(path, sep="\t", dtype={col.PATIENT_ID: str})


def write_external_config(project, block):
    (project / "config" / "external.yaml").write_text(yaml.safe_dump({"external": block}))


@pytest.fixture(scope="module")
def external_run(tiny_complete, tmp_path_factory):
    """The tiny run with the synthetic other centre added: (project, its result files before)."""
    project = copy_completed_project(tiny_complete, tmp_path_factory.mktemp("external") / "project")
    before = result_files(project)
    write_external_config(project, OTHER_CENTRE)
    snakemake(project, *TINY)
    return project, before


def test_adding_an_external_cohort_leaves_every_training_output_untouched(external_run):
    project, before = external_run
    after = result_files(project)
    changed = [str(path) for path, version in before.items() if after.get(path) != version]
    assert not changed, f"training outputs rewritten: {changed[:5]}"
    added = {str(path) for path in after.keys() - before.keys()}
    assert added and all(path.startswith(("results/external/", "results/frozen/")) for path in added)


def test_external_tables_score_every_patient_with_the_frozen_nomograms(external_run):
    project, _ = external_run
    external = project / "results/external"
    clinical = read(external / "validated/clinical.tsv")
    assert len(clinical) == 40 and clinical[col.PATIENT_ID].str.startswith("EXT").all()
    table = read(external / "tables/cindex.tsv")
    columns = list(TABLE3_COLUMNS)
    at = columns.index("p_value") + 1
    assert list(table.columns) == columns[:at] + list(CORRECTED_COLUMNS) + columns[at:]
    assert set(table["split"]) == {col.EXTERNAL} and (table["n"] == 40).all()
    assert (table["reference"] == "clinical").all()
    assert table["c_index"].between(0, 1).all() and table[list(CORRECTED_COLUMNS)].isna().all().all()
    # the frozen integrated nomogram's lp is its training coefficients times the external terms
    nomogram = yaml.safe_load((project / "results/nomograms/integrated.json").read_text())
    scores = read(external / "nomograms/integrated_scores.tsv").set_index(col.PATIENT_ID)
    signature = read(external / "signatures/petct.tsv").set_index(col.PATIENT_ID)["signature"]
    assert "signature_petct" in nomogram["coef"]
    beta, mean = nomogram["coef"]["signature_petct"], nomogram["means"]["signature_petct"]
    others = {t: v for t, v in nomogram["coef"].items() if t != "signature_petct"}
    if not others:
        np.testing.assert_allclose(scores["lp"], beta * (signature.loc[scores.index] - mean), rtol=1e-9)
    tdauc = read(external / "tables/tdauc.tsv")
    assert set(tdauc["split"]) == {col.EXTERNAL}
    groups = read(external / "tables/risk_groups_integrated.tsv")
    assert list(groups["split"]) == [col.EXTERNAL] and groups["n_low"].iloc[0] + groups["n_high"].iloc[0] == 40
    cutoff = read(project / "results/stratify/integrated_cutoff.tsv")["cutoff"].iloc[0]
    assert groups["cutoff"].iloc[0] == cutoff
    for name in ("figures/km_integrated.png", "figures/roc.png", "figures/shift.png", "tables/cindex.png"):
        assert (external / name).stat().st_size > 10_000, name


def test_report_gains_an_external_validation_section(external_run, tmp_path):
    project, _ = external_run
    path = tmp_path / "report.html"
    snakemake(project, "--report", str(path), *TINY)
    page = path.read_text(encoding="utf-8")
    section = embedded_json(page, "categories")["7 External validation"]
    placed = {name for names in section.values() for name in names}
    external = {
        str(p.relative_to(project))
        for pattern in ("tables/*.tsv", "tables/*.png", "figures/*.png", "signatures/*.tsv", "nomograms/*.tsv")
        for p in (project / "results/external").glob(pattern)
    }
    assert placed == external
    results = embedded_json(page, "results")
    caption = words(html_text(results["results/external/tables/shift.tsv"]["caption"]))
    assert "standardised" in caption and "training" in caption


def test_shift_table_sees_the_other_scanner(external_run):
    project, _ = external_run
    shift = read(project / "results/external/tables/shift.tsv").set_index("variable")
    # every training CT has 3 mm pixels, every external one 2.4 mm: the cohorts do not overlap
    assert shift.loc["ct_spacing_x_mm", "smd"] == -np.inf
    assert shift.loc["ct_spacing_x_mm", "shifted"]
    assert shift.loc["pet_size_z", "external_mean"] == 12
    assert {"age", "roi_volume_ml", "pet_max_suv"} <= set(shift.index)


def test_external_oracle_table_names_each_true_predictor(external_run):
    project, _ = external_run
    table = read(project / "results/external/tables/vs_oracle.tsv").set_index(["kind", "name"])
    assert table.loc[("nomogram", "integrated"), "oracle"] == "lp_full"
    assert table.loc[("signature", "petct"), "oracle"] == "lp_image"
    assert table["oracle_c_index"].dropna().between(0.5, 1).all()


def test_shuffled_external_outcomes_change_no_prediction(external_run, tmp_path):
    """The external patients' outcomes are only evaluated: shuffled, every signature,
    score, cut-off and risk group is byte-identical, and only the C-indices move."""
    first, _ = external_run
    project = copy_completed_project(first, tmp_path / "project")
    synthetic = project / "results/external/synthetic"
    centre = project / "centre_b"
    centre.mkdir()
    # the same image files (by absolute path): only the outcomes differ
    images = read(synthetic / "images.tsv")
    for modality in col.IMAGE_MODALITIES:
        images[modality] = [str(synthetic / path) for path in images[modality]]
    images.to_csv(centre / "images.tsv", sep="\t", index=False)
    clinical = read(synthetic / "clinical.tsv")
    order = np.random.default_rng(3).permutation(len(clinical))
    for column in (col.OS_MONTHS, col.OS_EVENT):
        clinical[column] = clinical[column].to_numpy()[order]
    clinical.to_csv(centre / "clinical.tsv", sep="\t", index=False)
    write_external_config(
        project, {"name": "Other centre", "clinical": "centre_b/clinical.tsv", "images": "centre_b/images.tsv"}
    )
    snakemake(project, *TINY)
    for name in ("signatures/ct.tsv", "signatures/pet.tsv", "signatures/petct.tsv", "signatures/radiomics.tsv"):
        assert digest(first / "results/external" / name) == digest(project / "results/external" / name), name
    for nomogram in ("clinical", "integrated", "dl_petct"):
        a = read(first / f"results/external/nomograms/{nomogram}_scores.tsv")
        b = read(project / f"results/external/nomograms/{nomogram}_scores.tsv")
        assert a[col.PATIENT_ID].tolist() == b[col.PATIENT_ID].tolist()
        assert a["lp"].astype(str).tolist() == b["lp"].astype(str).tolist(), nomogram
    a, b = (read(p / "results/external/stratify/integrated_groups.tsv") for p in (first, project))
    assert a[col.RISK_GROUP].tolist() == b[col.RISK_GROUP].tolist()
    for name in ("stratify/integrated_cutoff.tsv", "frozen/run.json", "nomograms/integrated.json"):
        assert digest(first / "results" / name) == digest(project / "results" / name), name
    c_first = read(first / "results/external/tables/cindex.tsv")["c_index"]
    c_shuffled = read(project / "results/external/tables/cindex.tsv")["c_index"]
    assert not np.allclose(c_first, c_shuffled), "the shuffled outcomes should move the C-indices"


# --------------------------------------------------------------------------- sheets


@pytest.fixture
def external_sheets(external_run, tmp_path, monkeypatch):
    """Copies of the other centre's sheets (images by absolute path) and the training sheets,
    from the project's folder (the validated sheets' paths are relative to it)."""
    project, _ = external_run
    monkeypatch.chdir(project)
    synthetic = project / "results/external/synthetic"
    images = read(synthetic / "images.tsv")
    for modality in col.IMAGE_MODALITIES:
        images[modality] = [str(synthetic / path) for path in images[modality]]
    paths = {"clinical": tmp_path / "clinical.tsv", "images": tmp_path / "images.tsv"}
    read(synthetic / "clinical.tsv").to_csv(paths["clinical"], sep="\t", index=False)
    images.to_csv(paths["images"], sep="\t", index=False)
    training = {
        "training_clinical": project / "results/validated/clinical.tsv",
        "training_images": project / "results/validated/images.tsv",
    }
    return paths, training, project


def test_a_training_patient_in_the_external_cohort_is_refused(external_sheets):
    paths, training, _ = external_sheets
    training_id = read(training["training_clinical"])[col.PATIENT_ID].iloc[3]
    for name in ("clinical", "images"):
        sheet = read(paths[name])
        sheet.loc[5, col.PATIENT_ID] = training_id
        sheet.to_csv(paths[name], sep="\t", index=False)
    with pytest.raises(InputError, match="also a patient of the training cohort") as err:
        validate_external(**paths, **training)
    assert training_id in str(err.value) and "clinical.tsv" in str(err.value)


def test_a_training_image_in_the_external_cohort_is_refused(external_sheets):
    paths, training, project = external_sheets
    train_images = read(training["training_images"])
    images = read(paths["images"])
    images.loc[2, "pet"] = str(project / train_images["pet"].iloc[0])
    images.to_csv(paths["images"], sep="\t", index=False)
    patient = images[col.PATIENT_ID].iloc[2]
    with pytest.raises(InputError, match=f"PET of training patient {train_images[col.PATIENT_ID].iloc[0]}") as err:
        validate_external(**paths, **training)
    assert patient in str(err.value) and "'pet'" in str(err.value)


def test_external_sheets_take_their_own_column_names_and_labels(external_sheets):
    paths, training, _ = external_sheets
    sheet = read(paths["clinical"]).rename(columns={col.OS_MONTHS: "OS time", "sex": "Gender"})
    sheet["Gender"] = sheet["Gender"].map({"M": "male", "F": "female"})
    sheet.to_csv(paths["clinical"], sep="\t", index=False)
    cohort = validate_external(
        **paths,
        **training,
        columns={col.OS_MONTHS: "OS time", "sex": "Gender"},
        labels={"sex": {"M": ["male"], "F": ["female"]}},
    )
    assert set(cohort.clinical["sex"]) <= {"M", "F"} and cohort.clinical[col.OS_MONTHS].gt(0).all()


def _negative_months(sheet):
    sheet.loc[4, col.OS_MONTHS] = -3


def _unknown_stage(sheet):
    sheet.loc[7, "rT_stage"] = "T9"


def _no_age(sheet):
    return sheet.drop(columns=["age"])


def _repeated_id(sheet):
    sheet.loc[9, col.PATIENT_ID] = sheet.loc[8, col.PATIENT_ID]


@pytest.mark.parametrize("spoil", [_negative_months, _unknown_stage, _no_age, _repeated_id])
def test_bad_external_sheets_get_the_training_sheets_refusals(external_sheets, spoil):
    paths, training, _ = external_sheets
    sheet = read(paths["clinical"])
    sheet = spoil(sheet) if spoil is _no_age else (spoil(sheet), sheet)[1]
    sheet.to_csv(paths["clinical"], sep="\t", index=False)
    with pytest.raises(InputError) as as_training:
        validate_cohort(**paths)
    with pytest.raises(InputError) as as_external:
        validate_external(**paths, **training)
    assert str(as_external.value) == str(as_training.value)


# --------------------------------------------------------------------------- predict


def run_predict(project, *args):
    return subprocess.run(
        [sys.executable, "-m", "survsig.cli", "predict", *args], cwd=project, capture_output=True, text=True
    )


@pytest.fixture
def test_patient_sheet(external_run, tmp_path):
    """The tiny run's test patients: their images (absolute paths) and clinical columns."""
    project, _ = external_run
    split = read(project / "results/split.tsv")
    test_ids = split.loc[split[col.SPLIT] == "test", col.PATIENT_ID]
    images = read(project / "results/validated/images.tsv").set_index(col.PATIENT_ID).loc[test_ids]
    for modality in col.IMAGE_MODALITIES:
        images[modality] = [str(project / path) for path in images[modality]]
    clinical = read(project / "results/validated/clinical.tsv").set_index(col.PATIENT_ID).loc[test_ids]
    sheet = images.join(clinical.drop(columns=[col.OS_MONTHS, col.OS_EVENT])).reset_index()
    path = tmp_path / "new_patients.tsv"
    sheet.to_csv(path, sep="\t", index=False)
    return project, path, list(test_ids)


def test_predict_reproduces_the_runs_signatures_and_risk_groups(test_patient_sheet, tmp_path):
    project, sheet, test_ids = test_patient_sheet
    output = tmp_path / "predicted.tsv"
    result = run_predict(project, str(sheet), "--results", "results", "-o", str(output))
    assert result.returncode == 0, result.stderr
    predicted = read(output).set_index(col.PATIENT_ID)
    assert list(predicted.index) == test_ids
    for name in ("ct", "pet", "petct", "radiomics"):
        run = read(project / f"results/signatures/{name}.tsv").set_index(col.PATIENT_ID).loc[test_ids, "signature"]
        assert [f"{v:.6f}" for v in predicted[f"signature_{name}"]] == [f"{v:.6f}" for v in run], name
    groups = read(project / "results/stratify/integrated_groups.tsv").set_index(col.PATIENT_ID).loc[test_ids]
    assert predicted[col.RISK_GROUP].tolist() == groups[col.RISK_GROUP].tolist()
    np.testing.assert_allclose(predicted["lp"], groups["lp"], rtol=1e-9, atol=1e-12)


def _drop_a_nomogram(results):
    (results / "nomograms/clinical.json").unlink()
    return "nomograms/clinical.json", "incomplete"


def _another_runs_cutoff(results):
    path = results / "stratify/integrated_cutoff.tsv"
    table = read(path)
    table["cutoff"] = table["cutoff"] + 0.25
    table.to_csv(path, sep="\t", index=False)
    return "stratify/integrated_cutoff.tsv", "does not belong"


def _another_model(results):
    path = results / "models/petct/member0/model.pt"
    path.write_bytes(path.read_bytes() + b"\0")
    return "models/petct/member0/model.pt", "not the one"


@pytest.mark.parametrize("spoil", [_drop_a_nomogram, _another_runs_cutoff, _another_model])
def test_predict_refuses_an_incomplete_or_mixed_results_folder(test_patient_sheet, tmp_path, spoil):
    project, sheet, _ = test_patient_sheet
    results = tmp_path / "results"
    for part in ("frozen", "nomograms", "stratify", "models"):
        shutil.copytree(project / "results" / part, results / part)
    file, reason = spoil(results)
    output = tmp_path / "predicted.tsv"
    result = run_predict(project, str(sheet), "--results", str(results), "-o", str(output))
    assert result.returncode == 2, result.stderr
    # refused before any patient is read: the error is all it prints, on one line
    assert result.stderr.startswith("survsig predict: ") and len(result.stderr.strip().splitlines()) == 1
    assert file in result.stderr and reason in result.stderr
    assert not output.exists()


def test_predict_needs_the_frozen_run(test_patient_sheet, tmp_path):
    project, sheet, _ = test_patient_sheet
    (tmp_path / "results").mkdir()
    output = tmp_path / "predicted.tsv"
    result = run_predict(project, str(sheet), "--results", str(tmp_path / "results"), "-o", str(output))
    assert result.returncode == 2 and "results/frozen/run.json" in result.stderr
    assert not output.exists()
