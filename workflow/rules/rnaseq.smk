# RNA-seq: differential expression high vs low risk (pydeseq2), offline ORA of the DEGs
# (gseapy) per gene-set library and direction, volcano, heatmap (Fig. S3), top terms (Fig. 5).
import re

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

RNASEQ_DIR = "results/rnaseq"
RNASEQ_DIRECTIONS = ["up", "down", "all"]


def rnaseq_libraries():
    """Gene-set libraries: name -> GMT path; the synthetic cohort's own library by default."""
    libraries = dict(config["rnaseq"]["genesets"])
    if not libraries and uses_synthetic_cohort():
        libraries = {"demo": f"{SYNTHETIC_DIR}/genesets.gmt"}
    return libraries


RNASEQ_LIBRARIES = rnaseq_libraries()
RNASEQ_LIBRARY_PATTERN = "|".join(map(re.escape, RNASEQ_LIBRARIES)) or "(?!)"
RNASEQ_DIRECTION_PATTERN = "|".join(RNASEQ_DIRECTIONS)

if config["rnaseq"]["risk_labels"] == "truth" and not uses_synthetic_cohort():
    raise WorkflowError("config rnaseq.risk_labels: 'truth' needs the synthetic cohort (cohort.source: synthetic)")
if has_rnaseq() and not RNASEQ_LIBRARIES:
    logger.warning("config rnaseq.genesets is empty: no GO/KEGG enrichment (give local GMT files)")


def rnaseq_deseq2_inputs(wildcards):
    inputs = {
        "counts": f"{VALIDATED_DIR}/rnaseq_counts.tsv",
        "clinical": f"{VALIDATED_DIR}/clinical.tsv",
    }
    if config["rnaseq"]["risk_labels"] == "truth":
        inputs["ground_truth"] = f"{SYNTHETIC_DIR}/ground_truth.tsv"
    else:
        inputs["risk_groups"] = "results/risk_groups.tsv"
    if config["rnaseq"]["id_map"]:
        inputs["id_map"] = config["rnaseq"]["id_map"]
    return inputs


def rnaseq_library_file(wildcards):
    return RNASEQ_LIBRARIES[wildcards.library]


def rnaseq_targets():
    """Tables and figures of the RNA-seq branch (for rule all)."""
    if not has_rnaseq():
        return []
    targets = [
        f"{RNASEQ_DIR}/deseq2_results.tsv",
        f"{RNASEQ_DIR}/degs.tsv",
        "results/figures/rnaseq_volcano.png",
        "results/figures/rnaseq_volcano.pdf",
        "results/figures/rnaseq_heatmap.png",
        "results/figures/rnaseq_heatmap.pdf",
    ]
    targets += expand(
        f"{RNASEQ_DIR}/enrichment_{{library}}_{{direction}}.tsv",
        library=RNASEQ_LIBRARIES, direction=RNASEQ_DIRECTIONS,
    )
    targets += expand(
        "results/figures/rnaseq_top_terms_{library}_{direction}.{ext}",
        library=RNASEQ_LIBRARIES, direction=RNASEQ_DIRECTIONS, ext=["png", "pdf"],
    )
    return targets


rule rnaseq_deseq2:
    input:
        unpack(rnaseq_deseq2_inputs),
    output:
        results=report(
            f"{RNASEQ_DIR}/deseq2_results.tsv",
            caption="../report/rnaseq_deseq2.rst",
            category=REPORT_STAGES["rnaseq"],
            subcategory="Differential expression",
        ),
        degs=report(
            f"{RNASEQ_DIR}/degs.tsv",
            caption="../report/rnaseq_degs.rst",
            category=REPORT_STAGES["rnaseq"],
            subcategory="Differential expression",
        ),
        vst=f"{RNASEQ_DIR}/vst_counts.tsv",
        samples=f"{RNASEQ_DIR}/samples.tsv",
    params:
        rnaseq=config["rnaseq"],
    threads: 4
    log:
        "logs/rnaseq/deseq2.log",
    conda:
        "../../envs/rnaseq.yaml"
    script:
        "../scripts/rnaseq_deseq2.py"


rule rnaseq_enrichment:
    input:
        degs=f"{RNASEQ_DIR}/degs.tsv",
        results=f"{RNASEQ_DIR}/deseq2_results.tsv",
        genesets=rnaseq_library_file,
    output:
        report(
            f"{RNASEQ_DIR}/enrichment_{{library}}_{{direction}}.tsv",
            caption="../report/rnaseq_enrichment.rst",
            category=REPORT_STAGES["rnaseq"],
            subcategory="Enrichment (Fig. 5)",
        ),
    params:
        enrichment=config["rnaseq"]["enrichment"],
    wildcard_constraints:
        library=RNASEQ_LIBRARY_PATTERN,
        direction=RNASEQ_DIRECTION_PATTERN,
    log:
        "logs/rnaseq/enrichment_{library}_{direction}.log",
    conda:
        "../../envs/rnaseq.yaml"
    script:
        "../scripts/rnaseq_enrichment.py"


rule rnaseq_volcano:
    input:
        results=f"{RNASEQ_DIR}/deseq2_results.tsv",
        degs=f"{RNASEQ_DIR}/degs.tsv",
    output:
        png=report(
            "results/figures/rnaseq_volcano.png",
            caption="../report/rnaseq_volcano.rst",
            category=REPORT_STAGES["rnaseq"],
            subcategory="Differential expression",
        ),
        pdf="results/figures/rnaseq_volcano.pdf",
    params:
        figures=config["figures"],
        deg=config["rnaseq"]["deg"],
        labels=config["rnaseq"]["volcano_labels"],
    log:
        "logs/rnaseq/volcano.log",
    conda:
        "../../envs/rnaseq.yaml"
    script:
        "../scripts/rnaseq_volcano.py"


rule rnaseq_heatmap:
    input:
        results=f"{RNASEQ_DIR}/deseq2_results.tsv",
        degs=f"{RNASEQ_DIR}/degs.tsv",
        vst=f"{RNASEQ_DIR}/vst_counts.tsv",
        samples=f"{RNASEQ_DIR}/samples.tsv",
    output:
        png=report(
            "results/figures/rnaseq_heatmap.png",
            caption="../report/rnaseq_heatmap.rst",
            category=REPORT_STAGES["rnaseq"],
            subcategory="Differential expression",
        ),
        pdf="results/figures/rnaseq_heatmap.pdf",
    params:
        figures=config["figures"],
        n_genes=config["rnaseq"]["heatmap_genes"],
    log:
        "logs/rnaseq/heatmap.log",
    conda:
        "../../envs/rnaseq.yaml"
    script:
        "../scripts/rnaseq_heatmap.py"


rule rnaseq_top_terms:
    input:
        f"{RNASEQ_DIR}/enrichment_{{library}}_{{direction}}.tsv",
    output:
        png=report(
            "results/figures/rnaseq_top_terms_{library}_{direction}.png",
            caption="../report/rnaseq_top_terms.rst",
            category=REPORT_STAGES["rnaseq"],
            subcategory="Enrichment (Fig. 5)",
        ),
        pdf="results/figures/rnaseq_top_terms_{library}_{direction}.pdf",
    params:
        figures=config["figures"],
        n_terms=config["rnaseq"]["enrichment"]["top_terms"],
    wildcard_constraints:
        library=RNASEQ_LIBRARY_PATTERN,
        direction=RNASEQ_DIRECTION_PATTERN,
    log:
        "logs/rnaseq/top_terms_{library}_{direction}.log",
    conda:
        "../../envs/rnaseq.yaml"
    script:
        "../scripts/rnaseq_top_terms.py"
