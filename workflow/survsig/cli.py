"""Command line: ``survsig cohort-summary results/synthetic`` prints the synthetic cohort's
figures (deaths, follow-up, Table 1 shares, oracle C-indices) beside the study's."""

from __future__ import annotations

import argparse
from pathlib import Path

from .io import read_table


def _cohort_summary(args):
    from .simulate import cohort_summary

    folder = Path(args.folder)
    summary = cohort_summary(
        read_table(folder / "clinical.tsv"), read_table(folder / "ground_truth.tsv")
    )
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="survsig", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    summary = commands.add_parser(
        "cohort-summary", help="figures of a simulated cohort beside the study's"
    )
    summary.add_argument("folder", nargs="?", default="results/synthetic")
    summary.set_defaults(run=_cohort_summary)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
