"""A finished run, frozen: the files that score other patients, and proof they belong together.

``results/frozen/run.json`` lists, relative to the results folder, every file that scoring
other patients reads: each network's frozen signature (the training scales and the SHA-256
of its model files, :class:`~survsig.imaging.signature.FrozenSignature`), the radiomics
signature's, every nomogram's JSON and every cut-off of the risk groups, each with the
SHA-256 of its bytes, and the preprocessing and radiomic feature settings of the run.
:meth:`FrozenRun.load` refuses a results folder that lacks one of them or holds one whose
bytes differ (a file of another run), naming the file; nothing else of the run (no
training patient's data) is read.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from survsig.core.errors import InputError
from survsig.core.io import atomic_path, read_table
from survsig.core.jsonkeys import JsonKeys, read_json
from survsig.core.settings import PreprocessSettings
from survsig.core.vocabulary import RADIOMICS
from survsig.imaging.signature import FrozenSignature, file_sha256

#: The ``format`` of ``results/frozen/run.json``
FROZEN_RUN_FORMAT = "survsig-frozen-run/1"
#: Where the manifest lies in a results folder
RUN_MANIFEST = Path("frozen") / "run.json"


def _entry(path, results_dir) -> dict:
    return {"file": Path(os.path.relpath(path, results_dir)).as_posix(), "sha256": file_sha256(path)}


def run_manifest(
    *, results_dir, preprocess: dict, signatures: dict, nomograms: dict, cutoffs: dict, radiomics=None
) -> dict:
    """The manifest of a finished run (``results/frozen/run.json``).

    Parameters
    ----------
    results_dir : path
        The results folder; every path is written relative to it.
    preprocess : dict
        The ``imaging`` block's preprocessing settings
        (:class:`~survsig.core.settings.PreprocessSettings`).
    signatures : dict of str to path
        Signature -> its frozen file (networks, and ``radiomics``).
    nomograms : dict of str to path
        Nomogram -> its JSON.
    cutoffs : dict of str to path
        Nomogram -> its cut-off file (``results/stratify/{nomogram}_cutoff.tsv``).
    radiomics : dict, optional
        The radiomic feature settings, when the run has a radiomics signature.
    """
    settings = PreprocessSettings.from_config(preprocess)
    cutoff_entries = {}
    for name, path in cutoffs.items():
        value = float(read_table(path)["cutoff"].iloc[0])
        cutoff_entries[name] = {**_entry(path, results_dir), "cutoff": value}
    return {
        "format": FROZEN_RUN_FORMAT,
        "preprocess": {key: list(v) if isinstance(v, tuple) else v for key, v in vars(settings).items()},
        "radiomics": radiomics,
        "signatures": {name: _entry(path, results_dir) for name, path in signatures.items()},
        "nomograms": {name: _entry(path, results_dir) for name, path in nomograms.items()},
        "cutoffs": cutoff_entries,
    }


def write_run_manifest(path, **manifest) -> dict:
    """Write :func:`run_manifest` to ``path`` (atomic) and return it."""
    data = run_manifest(**manifest)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")
    return data


@dataclass
class FrozenRun:
    """A results folder's frozen run, every file checked (:meth:`load`).

    Attributes
    ----------
    results_dir : pathlib.Path
    preprocess : PreprocessSettings
    radiomics : dict or None
        The radiomic feature settings.
    signatures, nomograms : dict of str to pathlib.Path
        Name -> its checked file.
    cutoffs : dict of str to float
        Nomogram -> the training set's cut-off of its risk groups.
    """

    results_dir: Path
    preprocess: PreprocessSettings
    radiomics: dict | None
    signatures: dict
    nomograms: dict
    cutoffs: dict

    @classmethod
    def load(cls, results_dir) -> FrozenRun:
        """Read ``results_dir/frozen/run.json`` and check every file it lists (and the
        model files each network's frozen signature lists).

        Raises
        ------
        InputError
            The manifest is missing or not one of this workflow; a file it lists is
            missing (an incomplete results folder) or its bytes differ from those the run
            wrote (a file of another run), naming the file.
        """
        results_dir = Path(results_dir)
        if not results_dir.is_dir():
            raise InputError("the results folder is not a folder", file=results_dir)
        path = results_dir / RUN_MANIFEST
        if not path.exists():
            raise InputError(
                "the results folder has no frozen run: in the run's project, "
                f"`snakemake --cores N {Path('results') / RUN_MANIFEST}` writes it from the finished run",
                file=path,
            )
        data = read_json(path, what="the frozen run file")
        keys = JsonKeys(path, kind="frozen run")
        if not isinstance(data, dict) or data.get("format") != FROZEN_RUN_FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise InputError(f"not a frozen run file ({found!r}, expected {FROZEN_RUN_FORMAT})", file=path)

        def checked(group) -> dict:
            files = {}
            for name, entry in keys.mapping(keys.get(data, group), group).items():
                where = f"{group}.{name}"
                entry = keys.mapping(entry, where)
                relative = keys.text(keys.get(entry, "file", where), f"{where}.file")
                if Path(relative).is_absolute() or ".." in Path(relative).parts:
                    raise keys.error(f"{where}.file", f"must lie inside the results folder, got {relative!r}")
                file = results_dir / relative
                if not file.is_file():
                    raise InputError(
                        f"the results folder is incomplete: {where} of the frozen run ({RUN_MANIFEST}) is missing",
                        file=file,
                    )
                if file_sha256(file) != keys.text(keys.get(entry, "sha256", where), f"{where}.sha256"):
                    raise InputError(
                        f"the file does not belong to the frozen run ({RUN_MANIFEST}): its bytes differ from those "
                        "the run wrote; the results folder mixes files of different runs",
                        file=file,
                    )
                files[name] = (file, entry)
            return files

        preprocess = PreprocessSettings.from_config(keys.mapping(keys.get(data, "preprocess"), "preprocess"))
        radiomics = data.get("radiomics")
        if radiomics is not None:
            keys.mapping(radiomics, "radiomics")
        signatures = {name: file for name, (file, _) in checked("signatures").items()}
        for name, file in signatures.items():
            if name != RADIOMICS:  # each network's model files, checked before any work
                FrozenSignature.load(file).model_files(results_dir)
        nomograms = {name: file for name, (file, _) in checked("nomograms").items()}
        cutoffs = {}
        for name, (file, entry) in checked("cutoffs").items():
            value = keys.number(keys.get(entry, "cutoff", f"cutoffs.{name}"), f"cutoffs.{name}.cutoff")
            recorded = float(read_table(file)["cutoff"].iloc[0])
            if not math.isclose(value, recorded, rel_tol=0, abs_tol=0):
                raise keys.error(f"cutoffs.{name}.cutoff", f"({value!r}) is not the cut-off of its file ({recorded!r})")
            cutoffs[name] = value
        return cls(results_dir, preprocess, radiomics, signatures, nomograms, cutoffs)
