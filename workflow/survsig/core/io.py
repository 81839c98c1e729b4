"""Small file helpers shared by the stages: tables in, tables out, atomic writes."""

from __future__ import annotations

import contextlib
import errno
import os
import re
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


def first_repeat(names):
    """The first of ``names`` that appeared before it (a repeated column name), or None."""
    seen = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def _temp_name_parts(path: Path):
    """Prefix and suffix of the temporary files :func:`atomic_path` makes for ``path``."""
    return f".{path.name}.", path.suffix or ".tmp"


#: Errors of a write that are the output's to report: a full or read-only disk, a
#: denied write, a folder that cannot take the file.
_WRITE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR, errno.EISDIR}
)


def chained_os_error(err: BaseException, matches) -> OSError | None:
    """The first :class:`OSError` in ``err``'s chain (``err``, then its cause or context,
    and so on) for which ``matches(error)`` holds; None when there is none.

    Libraries that fail while writing can raise something else on top of the real cause
    (an ``AttributeError`` of a half-closed stream over ``ENOSPC``); the cause is what
    the user can act on.
    """
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and matches(err):
            return err
        err = err.__cause__ or err.__context__
    return None


def _write_cause(err: BaseException, tmp) -> OSError | None:
    """The OSError of writing ``tmp`` in ``err``'s chain: one naming ``tmp`` (or no file)
    with an errno of :data:`_WRITE_ERRNOS`; None when the error is another's."""
    return chained_os_error(
        err, lambda e: e.errno in _WRITE_ERRNOS and (e.filename is None or str(e.filename) == str(tmp))
    )


def _naming(err: OSError, path) -> OSError:
    """``err`` again, naming ``path`` (the output asked for) instead of a temporary file."""
    return OSError(err.errno, err.strerror or str(err), str(path))


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it into place only on success.

    A failing writer leaves nothing at ``path``, so no half-written output survives
    (a writer killed outright, as by ``kill -9``, leaves its temporary file: see
    :func:`remove_stale_temp_files`).

    A file-system error of the write (a full or read-only disk, a denied write, a folder
    that cannot take the file) is raised again as an :class:`OSError` naming ``path``,
    the output the user asked for, not the hidden temporary file.
    """
    path = Path(path)
    prefix, suffix = _temp_name_parts(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
    except OSError as err:
        raise _naming(err, path) from err
    os.close(fd)
    try:
        # mkstemp makes the file private (0600); outputs get the usual umask permissions
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        yield Path(tmp)
        os.replace(tmp, path)
    except Exception as err:
        cause = _write_cause(err, tmp)
        if cause is None:
            raise
        raise _naming(cause, path) from err
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def remove_stale_temp_files(path) -> list[Path]:
    """Delete the temporary files of ``path`` that killed writers left beside it.

    Only names :func:`atomic_path` makes for ``path`` are matched (``.{name}.`` + the
    8 random characters of :func:`tempfile.mkstemp` + the suffix), so call it only when
    no other process is writing ``path``.

    Returns
    -------
    list of pathlib.Path
        The files deleted.
    """
    path = Path(path)
    prefix, suffix = _temp_name_parts(path)
    pattern = re.compile(re.escape(prefix) + r"[a-z0-9_]{8}" + re.escape(suffix))
    if not path.parent.is_dir():
        return []
    removed = []
    for candidate in sorted(path.parent.iterdir()):
        if pattern.fullmatch(candidate.name) and candidate.is_file():
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def write_tsv(frame, path, *, index=False, float_format="%.6g") -> None:
    """Write a table as TSV atomically, with a fixed float format (byte-stable)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=index, float_format=float_format, lineterminator="\n")
