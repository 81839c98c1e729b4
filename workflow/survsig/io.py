"""Small file helpers shared by the stages: tables in, tables out, atomic writes."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def read_table(path, **kwargs):
    """Read a CSV or TSV file, choosing the separator from the suffix (.csv or .tsv/.txt).

    ``.gz`` compressed files are read as well. Extra keyword arguments go to
    :func:`pandas.read_csv`.
    """
    import pandas as pd  # imported here: per-patient jobs that never read tables start faster

    name = str(path).lower().removesuffix(".gz")
    sep = "," if name.endswith(".csv") else "\t"
    return pd.read_csv(path, sep=sep, **kwargs)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it into place only on success.

    A failing writer leaves nothing at ``path``, so no half-written output survives.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix or ".tmp")
    os.close(fd)
    # mkstemp makes the file private (0600); outputs get the usual umask permissions
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_tsv(frame, path, *, index=False, float_format="%.6g") -> None:
    """Write a table as TSV atomically, with a fixed float format (byte-stable)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=index, float_format=float_format, lineterminator="\n")
