"""`snakemake --report` of a completed tiny run: every table and figure of `rule all` is
embedded with its caption, grouped by stage, and the report renders in a browser."""

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import pytest

from conftest import REPO, embedded_json, html_text, snakemake, words

pytestmark = pytest.mark.e2e

# The tables and figures of `rule all` (PDF twins of the PNGs and the nomogram JSON
# files stay out of the report). Each pattern must match at least one file of the run.
REPORTED = (
    "results/synthetic/cohort_summary.tsv",
    "results/tables/*.tsv",
    "results/tables/*.png",
    "results/figures/*.png",
    "results/signatures/*.tsv",
    "results/nomograms/*_scores.tsv",
    "results/risk_groups.tsv",
    "results/rnaseq/deseq2_results.tsv",
    "results/rnaseq/degs.tsv",
    "results/rnaseq/enrichment_*.tsv",
)
STAGES = (
    "1 Cohort",
    "2 Deep learning signatures",
    "3 Nomograms",
    "4 Evaluation",
    "5 Risk groups",
    "6 RNA-seq",
)
# captions of outputs the tiny config does not make (nomogram.new_patients is unset)
#: Captions of results the tiny run does not make: new patients (nomogram.new_patients) and
#: the external cohort (tests/external/test_external_workflow.py checks its report)
CAPTIONS_NOT_IN_TINY_RUN = {
    "score_new.rst",
    *(path.name for path in (REPO / "workflow" / "report").glob("external_*.rst")),
}
CAPTION_DIR = REPO / "workflow" / "report"
CHROMIUM = Path("/usr/bin/chromium")


def data_uri_bytes(uri: str) -> bytes:
    return base64.b64decode(uri.split(";base64,", 1)[1])


def caption_source_words(rst: str) -> list:
    """Words of a caption file as a reader sees them, whatever Jinja and reST put in."""
    rst = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", rst, flags=re.S)
    rst = re.sub(r":[a-z]+:`", "`", rst)  # role names such as :sub: are markup, not text
    return words(rst)


def rendered_text(dom: str) -> str:
    """The text a reader sees in a dumped DOM (the report's data lives in <script> blocks)."""
    return html_text(re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S))


def is_subsequence(needle: list, haystack: list) -> bool:
    remaining = iter(haystack)
    return all(word in remaining for word in needle)


@pytest.fixture(scope="module")
def report(tiny_complete, tmp_path_factory):
    """The HTML report of the tiny run, written outside the run's folder."""
    path = tmp_path_factory.mktemp("report") / "report.html"
    snakemake(tiny_complete, "--report", str(path), "--configfile", "config/tiny.yaml")
    page = path.read_text(encoding="utf-8")
    return {
        "path": path,
        "page": page,
        "results": embedded_json(page, "results"),
        "categories": embedded_json(page, "categories"),
    }


def test_report_embeds_every_table_and_figure_of_rule_all(tiny_complete, report):
    results = report["results"]
    expected = set()
    for pattern in REPORTED:
        found = sorted(tiny_complete.glob(pattern))
        assert found, f"the tiny run made no {pattern}"
        expected.update(str(path.relative_to(tiny_complete)) for path in found)
    missing = sorted(expected - set(results))
    assert not missing, f"not in the report: {missing}"
    for name in expected:
        assert data_uri_bytes(results[name]["data_uri"]) == (tiny_complete / name).read_bytes(), name
    assert not [name for name in results if name.endswith(".pdf")]


def test_report_groups_results_by_stage(report):
    categories = report["categories"]
    assert sorted(categories) == list(STAGES)
    placed = [path for subcategories in categories.values() for paths in subcategories.values() for path in paths]
    assert sorted(placed) == sorted(report["results"])
    for subcategories in categories.values():
        assert "Other" not in subcategories, "every result names its subcategory"
    rnaseq = {path for paths in categories["6 RNA-seq"].values() for path in paths}
    assert rnaseq == {p for p in report["results"] if p.startswith(("results/rnaseq/", "results/figures/rnaseq_"))}
    assert "results/figures/calibration_integrated_test.png" in categories["4 Evaluation"]["Calibration (Fig. 2B)"]


def test_every_result_has_its_caption(report):
    results = report["results"]
    empty = [name for name, result in results.items() if not html_text(result["caption"]).strip()]
    assert not empty, f"no caption: {empty}"
    rendered = [words(html_text(result["caption"])) for result in results.values()]
    for caption in sorted(CAPTION_DIR.glob("*.rst")):
        if caption.name in CAPTIONS_NOT_IN_TINY_RUN:
            continue
        source = caption_source_words(caption.read_text(encoding="utf-8"))
        assert any(is_subsequence(source, text) for text in rendered), f"{caption.name} is not in the report"


def chromium(*args, timeout=180):
    """Run headless Chromium; skip when it is absent, unless SURVSIG_REQUIRE_BROWSER=1."""
    if not CHROMIUM.exists():
        if os.environ.get("SURVSIG_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is absent and SURVSIG_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is absent (Debian package chromium)")
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--window-size=1600,1000",
        "--virtual-time-budget=20000",
        *args,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=timeout
    )
    assert result.returncode == 0, f"chromium failed:\n{result.stderr[-3000:]}"
    return result.stdout


def report_in_view(report: dict, target: Path, view: dict) -> Path:
    """A copy of the report that opens in `view` (the report app's own setView state)
    instead of the start page; it marks <body> with the size of the figure it shows."""
    script = f"""
<script>
window.addEventListener("load", function () {{
    var view = {json.dumps(view)};
    if (view.resultPath) {{ view.contentPath = results[view.resultPath].data_uri; }}
    setTimeout(function () {{
        app.setView(view);
        setTimeout(function () {{
            var img = document.querySelector("#app img[src^='data:image/png']");
            if (img) {{ document.body.dataset.figureWidth = img.naturalWidth; }}
        }}, 2000);
    }}, 500);
}});
</script>
"""
    page = report["page"]
    cut = page.rindex("</body>")
    target.write_text(page[:cut] + script + page[cut:], encoding="utf-8")
    return target


def test_report_renders_in_a_browser_with_figures_and_captions(report, tmp_path):
    start = chromium(f"--user-data-dir={tmp_path / 'profile_start'}", "--dump-dom", report["path"].as_uri())
    assert '<div id="loading-screen" style="display: none;">' in start, "the report app did not start"
    for stage in STAGES:
        assert f">{stage}<" in start, f"menu lacks {stage}"

    every = report_in_view(report, tmp_path / "every.html", {"navbarMode": "searchresults", "searchTerm": "results/"})
    listing = chromium(f"--user-data-dir={tmp_path / 'profile_every'}", "--dump-dom", every.as_uri())
    unlisted = [name for name in report["results"] if f">{name}<" not in listing]
    assert not unlisted, f"not listed in the rendered report: {unlisted}"

    figure = "results/figures/calibration_integrated_test.png"
    view = {
        "navbarMode": "resultinfo",
        "content": "img",
        "resultPath": figure,
        "category": "4 Evaluation",
        "subcategory": "Calibration (Fig. 2B)",
    }
    shown = report_in_view(report, tmp_path / "figure.html", view)
    dom = chromium(f"--user-data-dir={tmp_path / 'profile_figure'}", "--dump-dom", shown.as_uri())
    width = re.search(r'data-figure-width="(\d+)"', dom)
    assert width and int(width.group(1)) > 100, "the figure did not load"
    caption = words(html_text(report["results"][figure]["caption"]))
    assert is_subsequence(caption, words(rendered_text(dom))), "the caption is not shown beside the figure"

    screenshot = tmp_path / "report_figure.png"
    chromium(f"--user-data-dir={tmp_path / 'profile_shot'}", f"--screenshot={screenshot}", shown.as_uri())
    pixels = matplotlib.image.imread(screenshot)
    assert pixels.shape[:2] == (1000, 1600)
    colours = {tuple(p) for p in (pixels[::7, ::7, :3] * 255).astype(int).reshape(-1, 3)}
    assert len(colours) > 50, "the screenshot is nearly blank"
    keep = os.environ.get("SURVSIG_REPORT_SCREENSHOT")  # a path to keep the screenshot at, to look at
    if keep:
        shutil.copy2(screenshot, keep)


def test_pdf_figures_embed_truetype_fonts_only(tiny_complete):
    """Every PDF of a run carries its text as TrueType (Type 42) fonts, never Type 3."""
    pdfs = sorted((tiny_complete / "results").rglob("*.pdf"))
    assert len(pdfs) >= 20
    for pdf in pdfs:
        data = pdf.read_bytes()
        assert b"/Type3" not in data, pdf
        assert b"/CIDFontType2" in data or b"/TrueType" in data, pdf


def test_risk_groups_have_one_palette_in_every_figure():
    import survsig
    from survsig.core.figures import RISK_GROUP_COLOURS
    from survsig.rnaseq.volcano import DIRECTION_COLOURS

    # the colours are spelled out once, in survsig.core.figures; every other module takes them from there
    package = Path(survsig.__file__).parent
    for module in package.glob("*.py"):
        if module.name != "figures.py":
            text = module.read_text(encoding="utf-8").lower()
            assert not any(colour in text for colour in RISK_GROUP_COLOURS.values()), module.name
    assert (DIRECTION_COLOURS["up"], DIRECTION_COLOURS["down"]) == (
        RISK_GROUP_COLOURS["high"],
        RISK_GROUP_COLOURS["low"],
    )
