"""The user documentation points at things that exist.

README.md, config/README.md and every page of docs/: each relative link (text or image)
names an existing file; each repository path named in backticks (``workflow/...``,
``config/...``, ``tests/...``, ...) exists, by glob where it holds ``{wildcards}`` or
``*``; each ``survsig.module.name`` in backticks imports. Paths under ``results/`` and
``logs/`` exist only after a run and ``../shared/`` lies beside the checkout, so those are
not checked.
"""

import importlib
import re
from pathlib import Path

import pytest

from conftest import REPO

DOCUMENTS = [REPO / "README.md", REPO / "config" / "README.md", *sorted((REPO / "docs").glob("*.md"))]

#: [text](target) and ![alt](target), with an optional "title"; the text may wrap
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
#: an inline code span, which may wrap within its paragraph
CODE = re.compile(r"`([^`]+)`")
#: what a repository path starts with
REPOSITORY_PATHS = ("workflow/", "config/", "envs/", "tests/", "docs/", ".ci/", "Snakefile", "pyproject.toml")
#: a dotted name in the survsig package
PACKAGE_NAME = re.compile(r"(?<![\w.])survsig(?:\.[A-Za-z_]\w*)+")
WILDCARD = re.compile(r"\{[^}]*\}")


def prose(document: Path) -> str:
    """The document with its fenced code blocks blanked out (line numbers kept)."""
    lines, fenced = [], False
    for line in document.read_text(encoding="utf-8").splitlines():
        fence = line.lstrip().startswith("```")
        lines.append("" if fenced or fence else line)
        fenced = fenced != fence
    return "\n".join(lines)


def matches(pattern: re.Pattern, document: Path):
    """(line number, text) of each match's first group, paragraph by paragraph of the prose;
    the text comes with its offset in the paragraph so that callers can place its parts."""
    line = 1
    for paragraph in re.split(r"(\n[ \t]*\n)", prose(document)):
        for match in pattern.finditer(paragraph):
            yield line + paragraph.count("\n", 0, match.start(1)), match.group(1)
        line += paragraph.count("\n")


def words(number: int, span: str):
    """(line number, word) of each whitespace-separated word of a span that starts on line ``number``."""
    for word in re.finditer(r"\S+", span):
        yield number + span.count("\n", 0, word.start()), word.group(0)


def where(document: Path, number: int) -> str:
    return f"{document.relative_to(REPO)}:{number}"


def repository_path_exists(path: str) -> bool:
    pattern = WILDCARD.sub("*", path).rstrip("/") or "."
    if "*" in pattern:
        return any(REPO.glob(pattern))
    return (REPO / pattern).exists()


def resolves(name: str) -> bool:
    """Import the longest importable prefix of ``name``, then look up the rest as attributes."""
    parts = name.split(".")
    for length in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:length]))
        except ImportError:
            continue
        for attribute in parts[length:]:
            if not hasattr(found, attribute):
                return False
            found = getattr(found, attribute)
        return True
    return False


@pytest.fixture(params=DOCUMENTS, ids=lambda document: str(document.relative_to(REPO)))
def document(request):
    return request.param


def test_documents_are_there():
    assert (REPO / "README.md").is_file() and (REPO / "config" / "README.md").is_file()
    assert len(DOCUMENTS) > 2, "docs/ holds no Markdown page"


def test_relative_links_exist(document):
    missing = []
    for number, target in matches(LINK, document):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # http(s), mailto: and links within the page
        if not (document.parent / target.split("#", 1)[0]).exists():
            missing.append(f"{where(document, number)}: link to missing {target}")
    assert not missing, "\n".join(missing)


def test_repository_paths_exist(document):
    missing = []
    for start, span in matches(CODE, document):
        for number, word in words(start, span):
            path = word.strip("\"'()[],;:").removeprefix("./")
            if path.startswith(REPOSITORY_PATHS) and not repository_path_exists(path):
                missing.append(f"{where(document, number)}: missing path {path}")
    assert not missing, "\n".join(missing)


def test_package_names_resolve(document):
    missing = []
    for start, span in matches(CODE, document):
        for number, word in words(start, span):
            for name in PACKAGE_NAME.findall(word):
                if not resolves(name):
                    missing.append(f"{where(document, number)}: {name} does not resolve")
    assert not missing, "\n".join(missing)


def test_checks_catch_what_is_missing(tmp_path):
    """The checks find wrapped links and spans on their own lines, skip fenced code, and
    fail on a missing path or an unknown name."""
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n[a wrapped\nlink](missing.md#anchor) ![graph](rulegraph.svg) [web](https://example.org)\n"
        "\n```bash\n`workflow/in_a_fence.py`\n```\n\nA span `tests/x.py and\nworkflow/rules/*.smk` here.\n"
    )
    assert list(matches(LINK, page)) == [(4, "missing.md#anchor"), (4, "rulegraph.svg"), (4, "https://example.org")]
    [(start, span)] = matches(CODE, page)
    assert list(words(start, span)) == [(10, "tests/x.py"), (10, "and"), (11, "workflow/rules/*.smk")]
    assert repository_path_exists("workflow/rules/*.smk")
    assert repository_path_exists("workflow/scripts/{branch}/")
    assert not repository_path_exists("workflow/rules/no_such_stage.smk")
    assert resolves("survsig.core.errors.InputError")
    assert not resolves("survsig.core.errors.NoSuchError")
    assert not resolves("survsig.no_such_module")
