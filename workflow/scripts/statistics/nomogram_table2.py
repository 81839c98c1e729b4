"""Table 2: univariable Cox hazard ratios on the training and test sets (rule ``table2``)."""

from survsig.core.figures import save_figure
from survsig.core.io import write_tsv
from survsig.core.logs import run_script
from survsig.statistics.terms import read_patient_table
from survsig.statistics.univariable import table2_figure, table2_terms, univariable_table


def main(snakemake):
    options = snakemake.params.nomogram
    models = list(snakemake.params.models)
    frame = read_patient_table(
        snakemake.input.clinical, snakemake.input.split, dict(zip(models, snakemake.input.signatures))
    )
    terms = table2_terms(frame, options["clinical_factors"], models)
    table = univariable_table(frame, terms, ties=options["ties"], confidence=options["confidence"])
    write_tsv(table, snakemake.output.tsv)
    figure = table2_figure(table, confidence=options["confidence"], ties=options["ties"])
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
