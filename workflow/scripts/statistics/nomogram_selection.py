"""Clinical factors and SUV columns of the nomograms, picked on the training set (rule ``nomogram_selection``)."""

import json

from survsig.core.io import atomic_path, write_tsv
from survsig.core.logs import run_script
from survsig.statistics.selection import select_terms, selection_table
from survsig.statistics.terms import read_patient_table


def main(snakemake):
    options = snakemake.params.nomogram
    frame = read_patient_table(snakemake.input.clinical, snakemake.input.split)
    selection = select_terms(
        frame,
        clinical_factors=options["clinical_factors"],
        p_threshold=options["p_threshold"],
        ties=options["ties"],
        use_suv=options["use_suv"],
    )
    write_tsv(selection_table(selection), snakemake.output.table)
    with atomic_path(snakemake.output.json) as tmp:
        tmp.write_text(json.dumps(selection, indent=1) + "\n")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
