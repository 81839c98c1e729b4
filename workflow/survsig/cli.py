"""Command line.

``survsig cohort-summary results/synthetic`` prints the synthetic cohort's figures
(deaths, follow-up, Table 1 shares, oracle C-indices) beside the study's.
``survsig preprocess ...`` preprocesses one patient (the workflow's per-patient job: a
light process that never imports pandas or torch, so hundreds of jobs start fast).
"""

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


def _preprocess(args):
    import json
    import time

    from .logs import stage_logging
    from .preprocess import PreprocessSettings, preprocess_patient, save_patient_slices

    with stage_logging(args.log) as log:
        start = time.perf_counter()
        settings = PreprocessSettings.from_config(json.loads(args.settings))
        patient = preprocess_patient(args.patient, args.ct, args.pet, args.roi, settings)
        save_patient_slices(patient, args.output)
        log.info(
            "preprocessed %s: %d slices of %dx%d in %.2f s",
            args.patient,
            len(patient.slices),
            settings.crop_size,
            settings.crop_size,
            time.perf_counter() - start,
        )


def main(argv=None):
    parser = argparse.ArgumentParser(prog="survsig", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    summary = commands.add_parser(
        "cohort-summary", help="figures of a simulated cohort beside the study's"
    )
    summary.add_argument("folder", nargs="?", default="results/synthetic")
    summary.set_defaults(run=_cohort_summary)
    preprocess = commands.add_parser(
        "preprocess", help="one patient's CT, PET and ROI to square ROI crops per slice (.npz)"
    )
    preprocess.add_argument("--patient", required=True)
    for name in ("ct", "pet", "roi"):
        preprocess.add_argument(f"--{name}", required=True, help=f"{name.upper()} image path")
    preprocess.add_argument("--settings", required=True, help="the config's imaging block, as JSON")
    preprocess.add_argument("--output", required=True)
    preprocess.add_argument("--log", default=None)
    preprocess.set_defaults(run=_preprocess)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
