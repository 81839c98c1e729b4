"""Config files validate against the schema; every key is documented in config/README.md."""

import copy

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from conftest import REPO

SCHEMA = str(REPO / "workflow" / "schemas" / "config.schema.yaml")


def load(name):
    return yaml.safe_load((REPO / "config" / name).read_text(encoding="utf-8"))


def merged(*names):
    """Config as Snakemake builds it: config.yaml, then each --configfile on top."""

    def update(base, extra):
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                update(base[key], value)
            else:
                base[key] = value

    config = load("config.yaml")
    for name in names:
        update(config, load(name))
    return config


@pytest.mark.parametrize("variants", [(), ("tiny.yaml",), ("paper.yaml",), ("geometry2.yaml",)])
def test_shipped_configs_validate(variants):
    validate(merged(*variants), SCHEMA)


@pytest.mark.parametrize(
    "path, value",
    [
        (("split", "train_fraction"), 1.5),
        (("cohort", "source"), "database"),
        (("synthetic", "ct_size"), [64, 64]),
        (("synthetic", "n_patients"), "many"),
        (("synthetic", "image_format"), "png"),
        (("synthetic", "tumour_volume_ml"), 0),
        (("imaging", "models"), {"mri": ["ct", "mri"]}),
        (("figures", "dpi"), 10),
        (("figures", "dpl"), 300),
    ],
)
def test_bad_values_are_refused(path, value):
    config = copy.deepcopy(merged())
    config[path[0]][path[1]] = value
    with pytest.raises(WorkflowError):
        validate(config, SCHEMA)


def test_sheets_source_requires_the_sheets():
    config = copy.deepcopy(merged())
    config["cohort"]["source"] = "sheets"
    with pytest.raises(WorkflowError):
        validate(config, SCHEMA)
    config["cohort"]["clinical"] = "clinical.csv"
    config["cohort"]["images"] = "images.tsv"
    validate(config, SCHEMA)


def keys_of(tree, prefix=""):
    for key, value in tree.items():
        name = f"{prefix}{key}"
        yield name
        if isinstance(value, dict) and value:
            yield from keys_of(value, prefix=f"{name}.")


def test_every_config_key_is_documented():
    readme = (REPO / "config" / "README.md").read_text(encoding="utf-8")
    for key in keys_of(merged()):
        assert f"`{key}`" in readme, f"config/README.md does not document `{key}`"


def test_oracle_signatures_need_the_synthetic_cohort(tmp_path):
    """The oracle is the simulator's truth: with the user's sheets it would be simulated
    anew (or silently taken for patients whose ids match), so the workflow refuses it."""
    from conftest import copy_project, snakemake

    project = copy_project(tmp_path / "project")
    (project / "own.yaml").write_text(
        "cohort:\n  source: sheets\n  clinical: clinical.csv\n  images: images.tsv\nimaging:\n  signatures: oracle\n"
    )
    result = snakemake(project, "-n", "--configfile", "own.yaml", check=False)
    assert result.returncode != 0
    assert "imaging.signatures 'oracle' takes the synthetic cohort's true image predictors" in (
        result.stdout + result.stderr
    )
    assert not (project / "results").exists()


def test_each_network_gets_the_radiomics_comparator_of_its_modalities():
    from survsig.core.errors import InputError
    from survsig.core.settings import matched_comparators

    models = {"ct": ["ct", "roi"], "pet": ["pet", "roi"], "petct": ["ct", "pet", "roi"], "shape": ["roi"]}
    assert matched_comparators(models, ["ct", "pet"]) == {
        "ct": ("radiomics_ct", ["ct"]),
        "pet": ("radiomics_pet", ["pet"]),
        "petct": ("radiomics", ["ct", "pet"]),
        "shape": ("radiomics_shape", []),
    }
    # PET-only radiomics: the PET/CT network sees all of it, the CT network only the ROI's shape
    assert matched_comparators(models, ["pet"])["petct"] == ("radiomics", ["pet"])
    assert matched_comparators(models, ["pet"])["ct"] == ("radiomics_ct", [])
    with pytest.raises(InputError, match="imaging.models.radiomics_ct is the name of the radiomics comparator"):
        matched_comparators({"ct": ["ct", "roi"], "radiomics_ct": ["pet", "roi"]}, ["ct", "pet"])


def test_train_by_model_changes_the_named_network_only():
    from survsig.core.errors import InputError
    from survsig.core.settings import member_train_block, model_train_block

    imaging = {
        "models": {"ct": ["ct", "roi"], "pet": ["pet", "roi"]},
        "train": {"epochs": 45, "context_mm": None, "seed": 2022, "members": 2, "validation": "holdout"},
        "train_by_model": {"ct": {"context_mm": 5.0, "epochs": 30}},
    }
    assert model_train_block(imaging, "ct") == {**imaging["train"], "context_mm": 5.0, "epochs": 30}
    assert model_train_block(imaging, "pet") == imaging["train"]
    assert imaging["train"]["context_mm"] is None  # the shared block is left as it was
    # members take the network's block: their own seed, the network's changes
    assert member_train_block(model_train_block(imaging, "ct"), 1) == {
        "epochs": 30,
        "context_mm": 5.0,
        "seed": 2023,
        "validation": "holdout",
    }
    assert model_train_block({**imaging, "train_by_model": {}}, "ct") == imaging["train"]
    for changes, message in [
        ({"cnn": {"epochs": 3}}, "imaging.train_by_model.cnn: no network of that name in imaging.models"),
        ({"ct": {"epoch": 3}}, "imaging.train_by_model.ct.epoch: imaging.train has no such key"),
        ({"ct": {"members": 3}}, "imaging.train_by_model.ct.members: members and validation are set for every"),
        ({"pet": {"validation": "folds"}}, "imaging.train_by_model.pet.validation"),
    ]:
        with pytest.raises(InputError, match=message):
            model_train_block({**imaging, "train_by_model": changes}, "ct")


@pytest.mark.parametrize(
    "changes, message",
    [
        ("ct: {context_mm: -5}", "config: imaging.train_by_model.ct: .*context_mm"),
        ("ct: {members: 2}", "config: imaging.train_by_model.ct.members: members and validation"),
        ("cnn: {epochs: 3}", "config: imaging.train_by_model.cnn: no network of that name"),
    ],
)
def test_bad_train_by_model_is_refused_before_any_work(tmp_path, changes, message):
    import re

    from conftest import copy_project, snakemake

    project = copy_project(tmp_path / "project")
    (project / "by_model.yaml").write_text(f"imaging:\n  train_by_model:\n    {changes}\n")
    result = snakemake(project, "-n", "--configfile", "by_model.yaml", check=False)
    assert result.returncode != 0
    assert re.search(message, result.stdout + result.stderr, flags=re.S)
    assert not (project / "results").exists()


@pytest.mark.parametrize("name", ["radiomics", "radiomics_ct"])
def test_network_named_as_a_radiomics_comparator_is_refused(tmp_path, name):
    """``radiomics`` is the CT and PET comparator's signature, ``radiomics_ct`` the one
    matched to the CT network: a network of either name would overwrite its tables."""
    from conftest import copy_project, snakemake

    project = copy_project(tmp_path / "project")
    (project / "named.yaml").write_text(f"imaging:\n  models:\n    {name}: [ct, roi]\n")
    result = snakemake(project, "-n", "--configfile", "named.yaml", check=False)
    assert result.returncode != 0
    assert f"config: imaging.models.{name} is the name of the radiomics comparator" in result.stdout + result.stderr
    assert not (project / "results").exists()


def test_radiomics_off_drops_every_comparator_and_the_rest_still_plans(tmp_path):
    from conftest import copy_project, parse_jobs, snakemake

    project = copy_project(tmp_path / "project")
    (project / "off.yaml").write_text("radiomics:\n  enabled: false\n")
    result = snakemake(project, "-n", "--configfile", "off.yaml")
    rules = {job["rule"] for job in parse_jobs(result.stdout + "\n" + result.stderr)}
    assert {"train", "signature_vs_oracle", "table3"} <= rules
    assert not {rule for rule in rules if "radiomics" in rule}


def test_fold_ensemble_needs_two_members_or_more(tmp_path):
    """``validation: folds`` validates member m on fold m of ``members`` folds: one member
    cannot be, and the workflow says so before any work."""
    from conftest import copy_project, snakemake

    project = copy_project(tmp_path / "project")
    (project / "one.yaml").write_text("imaging:\n  train:\n    validation: folds\n    members: 1\n")
    result = snakemake(project, "-n", "--configfile", "one.yaml", check=False)
    assert result.returncode != 0
    assert "imaging.train.validation 'folds'" in result.stdout + result.stderr
    assert "set it to 2 or more" in result.stdout + result.stderr
    assert not (project / "results").exists()


def test_each_member_gets_its_seed_and_under_folds_its_fold():
    from survsig.core.settings import member_train_block

    block = {"seed": 10, "validation": "holdout", "members": 3, "epochs": 5}
    assert member_train_block(block, 2) == {"seed": 12, "validation": "holdout", "epochs": 5}
    folds = {**block, "validation": "folds"}
    assert [member_train_block(folds, m) for m in range(3)] == [
        {"seed": 10 + m, "validation": "folds", "epochs": 5, "fold": m, "folds": 3, "fold_seed": 10} for m in range(3)
    ]


@pytest.mark.parametrize(
    "block, message",
    [
        ("external:\n  synthetic: {}\n  clinical: c.tsv\n", "external needs its sheets"),
        ("external:\n  name: B\n", "external needs its sheets"),
        ("external:\n  clinical: c.tsv\n", "external needs both external.clinical and external.images"),
        ("external:\n  synthetic: {seeds: 3}\n", "external.synthetic.seeds is not a key"),
        ("external:\n  synthetic: {}\nimaging:\n  signatures: oracle\n", "set imaging.signatures: trained"),
        ("external:\n  synthetic: {image_format: dicom_rt}\n", "not as a DICOM export"),
        ("external:\n  synthetic: {}\n  centre: B\n", "Additional properties are not allowed"),
    ],
)
def test_bad_external_blocks_are_refused_before_any_job(tmp_path, block, message):
    from conftest import copy_project, snakemake

    project = copy_project(tmp_path / "project")
    (project / "external.yaml").write_text(block)
    result = snakemake(project, "-n", "--configfile", "external.yaml", check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not (project / "results").exists()
