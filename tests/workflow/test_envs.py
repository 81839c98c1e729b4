"""The conda env files pin exactly what envs/requirements.txt pins; every rule names one."""

import re

import yaml

from conftest import REPO

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)$")
# one env per dependency family: images and torch, radiomics, survival statistics, RNA-seq
CONDA_ENVS = {"imaging.yaml", "radiomics.yaml", "stats.yaml", "rnaseq.yaml"}


def pins_of(lines):
    pins = {}
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            match = PIN.match(line)
            assert match, f"not an exact pin: {line!r}"
            pins[match.group(1).lower()] = match.group(2)
    return pins


def rule_blocks(text):
    """Rule (or checkpoint) name -> the text of its definition."""
    parts = re.split(r"^\s*(?:rule|checkpoint) (\w+):", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_requirements_pin_torch_and_torchvision():
    pins = pins_of((REPO / "envs" / "requirements.txt").read_text().splitlines())
    assert pins["torch"] == "2.14.1"
    assert pins["torchvision"] == "0.29.1"


def test_conda_envs_agree_with_requirements():
    required = pins_of((REPO / "envs" / "requirements.txt").read_text().splitlines())
    constraints = pins_of((REPO / "envs" / "constraints.txt").read_text().splitlines())
    env_files = sorted((REPO / "envs").glob("*.yaml"))
    assert {env_file.name for env_file in env_files} == CONDA_ENVS
    for env_file in env_files:
        env = yaml.safe_load(env_file.read_text())
        pip_lines = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
        assert len(pip_lines) == 1, env_file.name
        for name, version in pins_of(pip_lines[0]).items():
            assert required.get(name) == version, f"{env_file.name}: {name}=={version}"
    for name, version in required.items():
        assert constraints.get(name) == version, f"constraints.txt: {name}"


def test_dev_tools_are_pinned_in_constraints():
    dev = pins_of((REPO / "envs" / "requirements-dev.txt").read_text().splitlines())
    constraints = pins_of((REPO / "envs" / "constraints.txt").read_text().splitlines())
    assert {"snakefmt", "black", "ruff"} <= set(dev)
    for name, version in dev.items():
        assert constraints.get(name) == version, f"constraints.txt: {name}"


def test_every_rule_names_an_existing_env_file():
    for rule_file in (REPO / "workflow" / "rules").glob("*.smk"):
        for env in re.findall(r'"\.\./\.\./envs/([^"]+)"', rule_file.read_text()):
            assert (REPO / "envs" / env).is_file(), f"{rule_file.name}: {env}"


def test_every_rule_that_runs_code_has_a_conda_env():
    for rule_file in (REPO / "workflow" / "rules").glob("*.smk"):
        for name, block in rule_blocks(rule_file.read_text()).items():
            if re.search(r"^\s*(?:script|shell|run|notebook|wrapper):", block, flags=re.M):
                assert re.search(r"^\s*conda:", block, flags=re.M), f"{rule_file.name}: rule {name}"
