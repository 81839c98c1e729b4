"""The package's floors: every module imports only from the floors below it.

Floor 0, names: what things are called (standard library only, so the Snakefile reads
them). Floor 1, plumbing: files, formats, figures, checks shared by every stage. Floor
2, methods: estimators and statistics, each usable alone. Floor 3, stages: the work of
one workflow stage each; a stage never imports another stage. Floor 4: the command line.
"""

import ast
import sys
from pathlib import Path

import pytest

import survsig

PACKAGE = Path(survsig.__file__).parent

FLOORS = {
    0: {"errors", "vocabulary", "columns", "settings"},
    1: {
        "io",
        "logs",
        "jsonkeys",
        "genesets",
        "formats",
        "survival",
        "losses",
        "figures",
        "files",
        "slices",
        "concordance",
        "pretrained",
    },
    2: {"cox", "km", "images", "baseline", "train", "nomogram"},
    3: {
        "simulate",
        "validate",
        "split",
        "preprocess",
        "radiomic_features",
        "signature",
        "evaluate",
        "decision",
        "internal_validation",
        "stratify",
        "rnaseq",
        "enrichment",
    },
    4: {"cli"},
}
FLOOR = {module: floor for floor, modules in FLOORS.items() for module in modules}
STAGES = 3


def package_imports(path: Path) -> set:
    """Modules of the package that ``path`` imports, anywhere in it (also inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith("survsig."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("survsig."))
    return found


def third_party_imports(path: Path) -> set:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
    return found - {"__future__", "survsig"}


def test_every_module_has_a_floor():
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == set(FLOOR), "a module was added or removed: give it a floor here"


@pytest.mark.parametrize("module", sorted(FLOOR))
def test_imports_go_down_only(module):
    floor = FLOOR[module]
    for imported in package_imports(PACKAGE / f"{module}.py"):
        if floor >= STAGES:
            assert FLOOR[imported] < floor, f"{module} (floor {floor}) imports {imported} (floor {FLOOR[imported]})"
        else:
            assert FLOOR[imported] <= floor, f"{module} (floor {floor}) imports {imported} (floor {FLOOR[imported]})"


def test_floors_below_the_stages_have_no_cycles():
    graph = {m: package_imports(PACKAGE / f"{m}.py") for m in FLOOR}
    done, path = set(), []

    def visit(module):
        assert module not in path, " -> ".join([*path, module])
        if module in done:
            return
        path.append(module)
        for imported in graph[module]:
            visit(imported)
        path.pop()
        done.add(module)

    for module in FLOOR:
        visit(module)


@pytest.mark.parametrize("module", sorted(FLOORS[0]))
def test_names_need_the_standard_library_only(module):
    assert third_party_imports(PACKAGE / f"{module}.py") <= set(sys.stdlib_module_names)


def test_workflow_scripts_use_public_names_only():
    scripts = PACKAGE.parent / "scripts"
    for script in scripts.glob("*.py"):
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("survsig"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{script.name} imports {private} from {node.module}"
