"""Command line.

``survsig cohort-summary results/synthetic`` prints the synthetic cohort's figures
(deaths, follow-up, Table 1 shares, oracle C-indices) beside the study's.
``survsig preprocess ...`` preprocesses patients, one ``.npz`` each (the workflow's
preprocessing job: a light process that never imports pandas or torch).
``survsig radiomics ...`` computes patients' radiomic features, one table (the workflow's
radiomics feature job, as light as the preprocessing's).
``survsig score NOMOGRAM_JSON SHEET -o OUTPUT`` scores a sheet of new patients with a
saved nomogram, as rule ``score_new`` does; bad input prints one line and exits with
status 2.
``survsig predict SHEET --results DIR -o OUTPUT`` scores new patients from their images with a
finished run's frozen networks, nomogram and cut-off; bad input prints one line, exits with
status 2 and writes nothing.
``survsig import-dicom ROOT --out DIR`` turns a hospital's DICOM export (CT, PET in Bq/mL,
the ROI as RTSTRUCT or DICOM-SEG) into NIfTI CT, SUV PET and ROI per patient and the image
sheet ``DIR/images.tsv``; bad input prints one line, exits with status 2 and writes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from survsig.core.io import read_table


def _cohort_summary(args):
    from survsig.cohort.summary import cohort_summary

    folder = Path(args.folder)
    summary = cohort_summary(read_table(folder / "clinical.tsv"), read_table(folder / "ground_truth.tsv"))
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def _preprocess(args):
    import json
    import time

    from survsig.core.errors import InputError
    from survsig.core.logs import stage_logging
    from survsig.core.settings import PreprocessSettings
    from survsig.imaging.preprocess import preprocess_patient
    from survsig.imaging.slices import save_patient_slices

    with stage_logging(args.log) as log:
        counts = {name: len(getattr(args, name)) for name in ("patients", "ct", "pet", "roi")}
        if len(set(counts.values())) > 1:
            raise InputError(f"preprocess needs one CT, PET and ROI per patient; got {counts}")
        settings = PreprocessSettings.from_config(json.loads(args.settings))
        output_dir = Path(args.output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        total = len(args.patients)
        for number, paths in enumerate(zip(args.patients, args.ct, args.pet, args.roi), start=1):
            start = time.perf_counter()
            patient = preprocess_patient(*paths, settings)
            save_patient_slices(patient, output_dir / f"{patient.patient_id}.npz")
            log.info(
                "preprocessed %s (%d/%d): %d slices of %dx%d in %.2f s",
                patient.patient_id,
                number,
                total,
                len(patient.slices),
                settings.crop_size,
                settings.crop_size,
                time.perf_counter() - start,
            )


def _radiomics(args):
    import json

    from survsig.core.errors import InputError
    from survsig.core.io import write_tsv
    from survsig.core.logs import stage_logging
    from survsig.imaging.radiomic_features import FEATURE_TABLE_FORMAT, RadiomicsSettings, extract_features

    with stage_logging(args.log) as log:
        settings = RadiomicsSettings.from_config(json.loads(args.settings))
        images = {name: getattr(args, name) or [] for name in ("ct", "pet", "roi")}
        counts = {"patients": len(args.patients), **{m: len(images[m]) for m in (*settings.modalities, "roi")}}
        if len(set(counts.values())) > 1:
            raise InputError(f"radiomics needs one image per patient and modality, and one ROI; got {counts}")

        def progress(patient, number, total):
            log.info("radiomic features of %s (%d/%d)", patient, number, total)

        table = extract_features(args.patients, images, images["roi"], settings, progress=progress)
        write_tsv(table, args.output, float_format=FEATURE_TABLE_FORMAT)


@contextlib.contextmanager
def _one_line_errors(command, *, output=None):
    """Bad input as one line on stderr and status 2, a full disk or a denied write as one
    line and status 1, instead of a traceback; with ``output`` (``-o``), a folder that
    takes no files (``/proc``) is the user's wrong output, as bad input is."""
    from survsig.core.errors import InputError
    from survsig.core.io import chained_os_error
    from survsig.core.logs import storage_error

    try:
        yield
    except InputError as err:
        print(f"survsig {command}: {_one_line(err)}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as err:  # a full disk or a denied write, perhaps under another error
        problem = storage_error(err)
        if problem is not None:
            print(f"survsig {command}: {problem}", file=sys.stderr)
            raise SystemExit(1) from None
        # atomic writes name the output asked for, not their temporary file
        unwritable = None
        if output is not None:
            unwritable = chained_os_error(err, lambda e: e.filename is not None and str(e.filename) == str(output))
        if unwritable is None:
            raise
        print(f"survsig {command}: cannot write {output} ({unwritable.strerror})", file=sys.stderr)
        raise SystemExit(2) from None


@contextlib.contextmanager
def _warnings_to_stderr(command):
    """Warnings (values outside the training range, survival after the follow-up) on stderr."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"survsig {command}: %(levelname)s: %(message)s"))
    handler.setLevel(logging.WARNING)
    logger = logging.getLogger("survsig")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def _score(args):
    from survsig.statistics.scoring import score_new_patients_file

    with _warnings_to_stderr("score"), _one_line_errors("score", output=args.output):
        table = score_new_patients_file(args.nomogram, args.sheet, args.output)
    print(f"scored {len(table)} patient(s): {args.output}")


def _import_dicom(args):
    from survsig.cohort.dicom_import import import_dicom, summary_text

    def progress(number, total, patient_id, message):
        print(f"patient {number}/{total} {patient_id}: {message}", file=sys.stderr, flush=True)

    with _one_line_errors("import-dicom"):
        summary = import_dicom(args.root, args.out, roi_pattern=args.roi, suv_kind=args.suv, progress=progress)
    print(summary_text(summary))
    print(f"imported {len(summary)} patient(s): {Path(args.out) / 'images.tsv'}")


def _predict(args):
    from survsig.external.predict import predict_patients_file

    def progress(number, total, patient_id, message):
        print(f"patient {number}/{total} {patient_id}: {message}", file=sys.stderr, flush=True)

    with _warnings_to_stderr("predict"), _one_line_errors("predict", output=args.output):
        table = predict_patients_file(
            args.sheet, args.results, args.output, nomogram=args.nomogram, threads=args.threads, progress=progress
        )
    print(f"scored {len(table)} patient(s) from their images: {args.output}")


def _one_line(err) -> str:
    return " ".join(str(err).split())


def main(argv=None):
    parser = argparse.ArgumentParser(prog="survsig", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    summary = commands.add_parser("cohort-summary", help="figures of a simulated cohort beside the study's")
    summary.add_argument("folder", nargs="?", default="results/synthetic")
    summary.set_defaults(run=_cohort_summary)
    preprocess = commands.add_parser(
        "preprocess",
        help="patients' CT, PET and ROI to square ROI crops per slice (OUTPUT_DIR/{patient}.npz)",
    )
    preprocess.add_argument("--patients", nargs="+", required=True, metavar="PATIENT")
    for name in ("ct", "pet", "roi"):
        preprocess.add_argument(
            f"--{name}", nargs="+", required=True, metavar="PATH", help=f"{name.upper()} image of each patient"
        )
    preprocess.add_argument("--settings", required=True, help="the config's imaging block, as JSON")
    preprocess.add_argument("--output-dir", required=True)
    preprocess.add_argument("--log", default=None)
    preprocess.set_defaults(run=_preprocess)
    radiomics = commands.add_parser(
        "radiomics", help="patients' radiomic features of CT and PET in the ROI (one TSV, a row per patient)"
    )
    radiomics.add_argument("--patients", nargs="+", required=True, metavar="PATIENT")
    for name in ("ct", "pet", "roi"):
        radiomics.add_argument(f"--{name}", nargs="+", metavar="PATH", help=f"{name.upper()} image of each patient")
    radiomics.add_argument("--settings", required=True, help="the config's radiomics block, as JSON")
    radiomics.add_argument("--output", required=True)
    radiomics.add_argument("--log", default=None)
    radiomics.set_defaults(run=_radiomics)
    score = commands.add_parser(
        "score",
        help="score a sheet of new patients with a saved nomogram (as rule score_new)",
        description="Score a sheet of new patients with a nomogram JSON of the workflow "
        "(results/nomograms/{nomogram}.json): points per term, total points, linear "
        "predictor, survival at the nomogram's times, and the terms outside the training "
        "range. The sheet (CSV or TSV) needs patient_id and the columns of the nomogram's "
        "terms, in canonical names and labels. Bad input: one line on stderr, status 2, "
        "no output written.",
    )
    score.add_argument("nomogram", metavar="NOMOGRAM_JSON", help="nomogram file written by the workflow")
    score.add_argument("sheet", metavar="SHEET", help="CSV or TSV of new patients")
    score.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="TSV to write")
    score.set_defaults(run=_score)
    dicom = commands.add_parser(
        "import-dicom",
        help="a DICOM export to NIfTI CT, SUV PET and ROI per patient and the image sheet DIR/images.tsv",
        description="Walk ROOT, a folder of DICOM files in any order (CT and PET series, the ROI as "
        "RTSTRUCT or DICOM-SEG; one patient per PatientID), and write DIR/{patient}/ct.nii.gz (HU), "
        "pet.nii.gz (SUV from the PET header), roi.nii.gz (on the CT grid), DIR/images.tsv (the image "
        "sheet) and DIR/import_summary.tsv. DIR must be new or empty. Bad input: one line on stderr, "
        "status 2, nothing written.",
    )
    dicom.add_argument("root", metavar="ROOT", help="folder of the DICOM export")
    dicom.add_argument("--out", required=True, metavar="DIR", help="new or empty folder to write")
    dicom.add_argument(
        "--roi", default="GTV", metavar="PATTERN", help="regular expression matching the ROI's name in full, any case"
    )
    dicom.add_argument("--suv", choices=("bw", "lbm"), default="bw", help="SUV by body weight or lean body mass")
    dicom.set_defaults(run=_import_dicom)
    predict = commands.add_parser(
        "predict",
        help="score new patients from their images with a finished run (networks, nomogram, cut-off)",
        description="Score new patients from their PET/CT with a finished run's frozen networks, nomogram "
        "and cut-off: every signature, points, linear predictor, survival at the nomogram's times, the "
        "risk group by the training cut-off and the terms outside the training range. The sheet (CSV or "
        "TSV) needs patient_id, ct, pet, roi (paths relative to the sheet's folder) and the clinical "
        "columns of the nomogram's terms, in canonical names and labels. Reads only RESULTS/frozen/run.json "
        "and the files it lists. Bad input: one line on stderr, status 2, no output written.",
    )
    predict.add_argument("sheet", metavar="SHEET", help="CSV or TSV of new patients and their images")
    predict.add_argument("--results", default="results", metavar="DIR", help="a finished run's results folder")
    predict.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="TSV to write")
    predict.add_argument("--nomogram", default="integrated", help="the nomogram that scores them (default integrated)")
    predict.add_argument("--threads", type=int, default=None, help="CPU threads of the networks")
    predict.set_defaults(run=_predict)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
