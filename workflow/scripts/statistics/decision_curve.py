"""Decision curves of every nomogram on one set at the horizon (rule ``decision_curve``)."""

import pandas as pd

from survsig.core import columns as col
from survsig.core.errors import InputError
from survsig.core.figures import save_figure
from survsig.core.files import read_nomogram_scores
from survsig.core.io import write_tsv
from survsig.core.logs import run_script
from survsig.core.vocabulary import SPLIT_TITLES
from survsig.statistics.decision import decision_curve, decision_curve_figure, threshold_grid
from survsig.statistics.nomogram import CoxNomogram


def main(snakemake):
    options = snakemake.params.evaluate
    split = snakemake.wildcards.split
    names = snakemake.params.nomograms
    horizon = options["horizon_months"]
    scores = read_nomogram_scores(names, snakemake.input.scores)
    time = event = None
    risks = {}
    for name, path, scores_path in zip(names, snakemake.input.nomograms, snakemake.input.scores):
        part = scores[name][scores[name][col.SPLIT] == split].set_index(col.PATIENT_ID)
        if time is None:
            time, event = part[col.OS_MONTHS], part[col.OS_EVENT]
        missing = time.index.difference(part.index)
        if len(missing):
            raise InputError(
                f"patient of the {split} set has no score of nomogram '{name}'", file=scores_path, patient=missing[0]
            )
        lp = part["lp"].reindex(time.index)  # the patient order of the first nomogram
        # predicted risk of death by the horizon, 1 - S(horizon | patient)
        risks[name] = pd.Series(1 - CoxNomogram.load(path).survival_at(lp, horizon), index=lp.index)
    table = decision_curve(
        time, event, risks, horizon=horizon, thresholds=threshold_grid(options["decision_thresholds"])
    )
    table.insert(0, "split", split)
    write_tsv(table, snakemake.output.tsv)
    figure = decision_curve_figure(table, title=f"Decision curves, {SPLIT_TITLES[split]}")
    save_figure(figure, snakemake.output.png, snakemake.output.pdf, dpi=snakemake.params.figures["dpi"])


run_script(snakemake, main)  # noqa: F821 - injected by Snakemake
