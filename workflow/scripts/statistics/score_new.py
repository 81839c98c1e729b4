"""Score a sheet of new patients with a fitted nomogram (rule ``score_new``).

The checks and the table are :func:`survsig.statistics.scoring.score_new_patients_file`'s, shared
with ``survsig score``.
"""

from survsig.core.logs import run_script
from survsig.statistics.scoring import score_new_patients_file


def main(snakemake):
    score_new_patients_file(snakemake.input.nomogram, snakemake.input.sheet, snakemake.output[0])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
