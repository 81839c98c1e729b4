"""One nomogram's risk groups on the external cohort by the training cut-off: the groups,
HR and log-rank, and their Kaplan-Meier figure (rule ``external_risk_groups``)."""

from survsig.core.columns import EXTERNAL
from survsig.core.figures import save_figure
from survsig.core.files import read_scores
from survsig.core.io import read_table, write_tsv
from survsig.core.logs import run_script
from survsig.core.vocabulary import nomogram_title
from survsig.external.scoring import external_risk_groups
from survsig.statistics.stratify import km_risk_figure, risk_group_summary


def main(snakemake):
    options = snakemake.params.stratify
    cutoff = read_table(snakemake.input.cutoff).iloc[0]
    groups = external_risk_groups(read_scores(snakemake.input.scores), float(cutoff["cutoff"]))
    write_tsv(groups, snakemake.output.groups, float_format="%.10g")
    intervals = {"conf_level": options["confidence"], "conf_type": options["conf_type"]}
    summary = risk_group_summary(groups, cutoff, time_months=options["horizon_months"], splits=(EXTERNAL,), **intervals)
    write_tsv(summary, snakemake.output.table, float_format="%.10g")
    name = snakemake.wildcards.nomogram
    figure = km_risk_figure(
        groups,
        cutoff,
        EXTERNAL,
        title=f"{nomogram_title(name)}, {snakemake.params.name}",
        time_months=options["horizon_months"],
        step_months=options["step_months"],
        cutoff_text=f"Cut-off of the training set, applied as it is: high risk = lp > {cutoff['cutoff']:.4g}",
        **intervals,
    )
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
