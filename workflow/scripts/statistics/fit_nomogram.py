"""Fit one Cox nomogram on the training set; score every patient (rule ``fit_nomogram``)."""

import json

from survsig.core.io import write_tsv
from survsig.core.logs import run_script
from survsig.statistics.nomogram import CoxNomogram
from survsig.statistics.scoring import score_table
from survsig.statistics.selection import nomogram_term_names
from survsig.statistics.terms import read_patient_table


def main(snakemake):
    options = snakemake.params.nomogram
    name = snakemake.wildcards.nomogram
    selection = json.loads(open(snakemake.input.selection).read())
    frame = read_patient_table(
        snakemake.input.clinical, snakemake.input.split, dict(zip(snakemake.params.models, snakemake.input.signatures))
    )
    terms = nomogram_term_names(name, selection, integrated_model=options["integrated_model"])
    train = frame[frame["split"] == "train"]
    nomogram = CoxNomogram(
        terms,
        ties=options["ties"],
        survival_times=options["survival_months"],
        name=name,
        confidence=options["confidence"],
        notes=list(selection["notes"]),
    ).fit(train)
    nomogram.save(snakemake.output.json)
    write_tsv(score_table(nomogram, frame), snakemake.output.scores, float_format="%.10g")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
