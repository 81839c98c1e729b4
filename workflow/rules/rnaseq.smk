# RNA-seq: differential expression high vs low risk (pydeseq2), offline ORA of the DEGs
# (gseapy) per gene-set library and direction, volcano, heatmap (Fig. S3), top terms (Fig. 5).


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
    log:
        "logs/rnaseq/deseq2.log",
    conda:
        "../../envs/rnaseq.yaml"
    threads: 4
    params:
        rnaseq=config["rnaseq"],
    script:
        "../scripts/rnaseq/deseq2.py"


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
    log:
        "logs/rnaseq/enrichment_{library}_{direction}.log",
    wildcard_constraints:
        library=RNASEQ_LIBRARY_PATTERN,
        direction=RNASEQ_DIRECTION_PATTERN,
    conda:
        "../../envs/rnaseq.yaml"
    params:
        enrichment=config["rnaseq"]["enrichment"],
    script:
        "../scripts/rnaseq/enrichment.py"


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
    log:
        "logs/rnaseq/volcano.log",
    conda:
        "../../envs/rnaseq.yaml"
    params:
        figures=config["figures"],
        deg=config["rnaseq"]["deg"],
        labels=config["rnaseq"]["volcano_labels"],
    script:
        "../scripts/rnaseq/volcano.py"


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
    log:
        "logs/rnaseq/heatmap.log",
    conda:
        "../../envs/rnaseq.yaml"
    params:
        figures=config["figures"],
        n_genes=config["rnaseq"]["heatmap_genes"],
    script:
        "../scripts/rnaseq/heatmap.py"


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
    log:
        "logs/rnaseq/top_terms_{library}_{direction}.log",
    wildcard_constraints:
        library=RNASEQ_LIBRARY_PATTERN,
        direction=RNASEQ_DIRECTION_PATTERN,
    conda:
        "../../envs/rnaseq.yaml"
    params:
        figures=config["figures"],
        n_terms=config["rnaseq"]["enrichment"]["top_terms"],
    script:
        "../scripts/rnaseq/top_terms.py"
