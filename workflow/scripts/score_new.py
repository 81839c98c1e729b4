"""Score a sheet of new patients with a fitted nomogram (rule ``score_new``)."""

from survsig.columns import PATIENT_ID
from survsig.io import read_table, write_tsv
from survsig.logs import run_script
from survsig.nomogram import CoxNomogram, score_new_patients


def main(snakemake):
    nomogram = CoxNomogram.load(snakemake.input.nomogram)
    sheet = read_table(snakemake.input.sheet, dtype={PATIENT_ID: str})
    write_tsv(score_new_patients(nomogram, sheet, file=snakemake.input.sheet), snakemake.output[0],
              float_format="%.10g")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
