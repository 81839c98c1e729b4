"""Risk cut-off of one nomogram on the training set, and every patient's risk group."""

from survsig.core.files import read_scores, read_split
from survsig.core.io import write_tsv
from survsig.core.logs import run_script
from survsig.statistics.stratify import cutoff_table, fit_risk_groups


def main(snakemake):
    options = snakemake.params.stratify
    scores = read_scores(snakemake.input.scores, read_split(snakemake.input.split))
    groups, cutoff = fit_risk_groups(
        scores,
        minprop=options["minprop"],
        maxprop=options["maxprop"],
        pmethod=options["pmethod"],
        n_resamples=options["resamples"],
        seed=options["seed"],
    )
    write_tsv(groups, snakemake.output.groups, float_format="%.10g")
    write_tsv(cutoff_table(snakemake.wildcards.nomogram, cutoff), snakemake.output.cutoff, float_format="%.10g")
    write_tsv(cutoff.profile(), snakemake.output.profile, float_format="%.10g")


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
