"""The package's shape: a shared floor below four branches that mirror the workflow's DAG.

``survsig.core`` holds what things are called (``NAMES``: standard library only, so the
Snakefile reads them) and the plumbing every stage uses (files, formats, figures, logs,
image and table I/O); ``survsig.survival`` the survival estimators (checks, C-index, Cox,
Kaplan-Meier) on top of it. The branches ``cohort``, ``imaging``, ``statistics`` and
``rnaseq`` each import only that shared floor and their own modules. ``survsig.external``
applies a finished run (its networks, nomograms and cut-offs) to other patients, so it
stands on the branches it applies; ``survsig.cli``, the command line, sits on top. No
module imports itself back through others (no cycles), and the workflow's scripts are
grouped by the same branches and import accordingly.
"""

import ast
import sys
from pathlib import Path

import pytest

import survsig

PACKAGE = Path(survsig.__file__).parent
SCRIPTS = PACKAGE.parent / "scripts"

SHARED = ("core", "survival")
BRANCHES = ("cohort", "imaging", "statistics", "rnaseq")
#: Above the branches: what applies their fitted parts to other patients
APPLIED = ("external",)
#: What each package may import besides itself
ALLOWED = {
    "core": set(),
    "survival": {"core"},
    **{branch: set(SHARED) for branch in BRANCHES},
    "external": {*SHARED, "cohort", "imaging", "statistics"},
}
#: The names of core: standard library only, and only each other
NAMES = {"errors", "vocabulary", "columns", "settings"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def package_of(module: str) -> str:
    """The sub-package of ``survsig.x.y`` (``x``), or the top module's own name."""
    return module.split(".")[1] if module != "survsig" else ""


def package_imports(path: Path) -> set:
    """Modules of survsig that ``path`` imports, anywhere in it (also inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import; the package imports absolutely"
            if node.module and node.module.split(".")[0] == "survsig":
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    found.add(submodule if submodule in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "survsig")
    return found


def third_party_imports(path: Path) -> set:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
    return found - {"__future__", "survsig"}


def test_every_module_lies_in_a_package_of_the_layout():
    top = {name for name in MODULES if name.count(".") == 1}
    assert top == {"survsig.cli", *(f"survsig.{p}" for p in (*SHARED, *BRANCHES, *APPLIED))}, (
        "a module or package outside the layout: put it in core, survival, a branch or external"
    )
    assert all(package_of(name) in (*SHARED, *BRANCHES, *APPLIED, "cli") for name in MODULES if name != "survsig")


def test_every_import_names_a_module_that_exists():
    for name, path in MODULES.items():
        for imported in package_imports(path):
            assert imported in MODULES, f"{name} imports {imported}, which is not a module of survsig"


@pytest.mark.parametrize("module", sorted(name for name in MODULES if package_of(name) in ALLOWED))
def test_a_package_imports_only_the_shared_floor_and_itself(module):
    own = package_of(module)
    for imported in package_imports(MODULES[module]):
        other = package_of(imported)
        assert other == own or other in ALLOWED[own], f"{module} ({own}) imports {imported} ({other})"


@pytest.mark.parametrize("module", sorted(f"survsig.core.{name}" for name in NAMES))
def test_names_need_the_standard_library_and_each_other_only(module):
    assert third_party_imports(MODULES[module]) <= set(sys.stdlib_module_names)
    names = {f"survsig.core.{name}" for name in NAMES}
    assert package_imports(MODULES[module]) <= names, f"{module} imports beyond the names"


def test_no_module_imports_itself_back():
    graph = {name: package_imports(path) for name, path in MODULES.items()}
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

    for module in graph:
        visit(module)


def test_scripts_are_grouped_by_branch_and_import_accordingly():
    scripts = sorted(SCRIPTS.rglob("*.py"))
    assert scripts and all(script.parent.parent == SCRIPTS for script in scripts), "a script outside a branch folder"
    for script in scripts:
        branch = script.parent.name
        assert branch in (*BRANCHES, *APPLIED), f"{script}: scripts/{branch} is not a branch"
        for imported in package_imports(script):
            allowed = (branch, *ALLOWED[branch])
            assert package_of(imported) in allowed, f"{script.name} ({branch}) imports {imported}"


def test_workflow_scripts_use_public_names_only():
    for script in SCRIPTS.rglob("*.py"):
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("survsig"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{script.name} imports {private} from {node.module}"
