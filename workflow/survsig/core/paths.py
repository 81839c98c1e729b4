"""Checked user-given paths: what a reader may open, where a writer may write.

Every reader of a path the user names (the cohort's sheets, the image sheet's images, a
nomogram file, a model file, a gene-set file, the sheet of new patients) checks it with
:func:`checked_input_path` (or opens it with :func:`open_checked`) before reading a byte,
and a command-line output (``survsig score -o``) is checked with
:func:`checked_output_path` before any work. Each problem is one
:class:`~survsig.core.errors.InputError` naming the path and why:

* only a regular file is read (or a folder where the format is one, as a DICOM series):
  a named pipe (FIFO) would wait forever for a writer, a device such as ``/dev/zero``
  streams until memory runs out, and a folder is no table;
* a file larger than its format's bound (:data:`SHEET_MAX_BYTES`,
  :data:`JSON_MAX_BYTES`, :data:`MODEL_MAX_BYTES`) is refused unread;
* an output must not be empty, a folder, a device, or one of the inputs (writing it
  would destroy what is being read), and its nearest existing folder must be a folder.

The checks are made on the file's status (``os.stat``), which never blocks; the
readers of small files (:func:`read_checked_bytes`) open with ``O_NONBLOCK`` and check
the opened file again, so a path swapped for a pipe in between cannot block either.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from survsig.core.errors import InputError

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30

#: Largest table read (clinical sheet, image sheet, RNA-seq counts, gene sets, new
#: patients): 1 GiB. The largest real sheet in view, raw counts of 60,000 genes for a
#: few hundred patients, is a few hundred MiB as text; a file beyond this is not a sheet.
SHEET_MAX_BYTES = GIB

#: Largest JSON file read (a nomogram): 16 MiB. A nomogram file holds its terms and the
#: baseline hazard at every death time (about 25 bytes per time and value): 16 MiB is
#: room for some 300,000 deaths, where the study's files hold a few hundred (tens of KiB).
JSON_MAX_BYTES = 16 * MIB

#: Largest model file or checkpoint read: 4 GiB. One EfficientNet-lite0 holds 3.4
#: million float32 weights (13 MiB); a model file holds one network per snapshot, a
#: checkpoint the network, the optimiser's two moments and the snapshots, so 4 GiB
#: holds some 300 networks, beyond any snapshot count a training keeps.
MODEL_MAX_BYTES = 4 * GIB

#: What each accepted kind of path is, in the messages.
KINDS = {"file": "a regular file", "folder": "a folder", "dicom": "a DICOM folder"}


def byte_text(n: int) -> str:
    """``n`` bytes for people: ``"16 MiB"``, ``"1.5 GiB"``, ``"512 bytes"``."""
    for unit, name in ((GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")):
        if n >= unit:
            return f"{n / unit:.3g} {name}"
    return f"{n} bytes"


def _what_it_is(mode: int) -> tuple[str, str]:
    """The kind of a file that is not a regular one, and why that matters for reading it."""
    if stat.S_ISDIR(mode):
        return "a folder", ""
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)", "reading it would wait for a writer"
    if stat.S_ISCHR(mode):
        return "a character device", "reading it could go on without end"
    if stat.S_ISBLK(mode):
        return "a block device", ""
    if stat.S_ISSOCK(mode):
        return "a socket", ""
    return "a file of an unknown kind", ""


def _kind_problem(mode: int, expected: str) -> str:
    """``it is a named pipe (FIFO), not a regular file; reading it would wait ...``."""
    kind, why = _what_it_is(mode)
    return f"it is {kind}, not {expected}" + (f"; {why}" if why else "")


def _status_problem(status: os.stat_result, *, kinds, max_bytes) -> str | None:
    """Why a file of this status may not be read; None when it may."""
    mode = status.st_mode
    if stat.S_ISREG(mode) and "file" in kinds:
        if max_bytes is not None and status.st_size > max_bytes:
            return f"it holds {byte_text(status.st_size)}, more than the {byte_text(max_bytes)} accepted"
        return None
    if stat.S_ISDIR(mode) and ("folder" in kinds or "dicom" in kinds):
        return None
    return _kind_problem(mode, " or ".join(KINDS[kind] for kind in kinds))


def checked_input_path(path, *, what, max_bytes=None, kinds=("file",)) -> Path:
    """``path`` as a :class:`~pathlib.Path` once it is a file that may be read.

    Parameters
    ----------
    path : str or path
        As the user gave it.
    what : str
        What the file is, with its article, for the message (``"the clinical sheet"``).
    max_bytes : int, optional
        Largest size of a regular file (:data:`SHEET_MAX_BYTES`, ...); None: no bound.
    kinds : tuple of {"file", "folder", "dicom"}
        What the path may be: a regular file, a folder, or a folder holding a DICOM
        series (a folder, named so in the message).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InputError
        Naming the path: no path given, missing (or a missing folder on the way), not
        readable, of another kind (folder, named pipe, device, socket) or too large.
        The check reads only the file's status, so it never waits.
    """
    if os.fspath(path) == "":
        raise InputError(f"no path given for {what} (the name is empty)")
    try:
        status = os.stat(path)
    except OSError as err:
        raise InputError(f"cannot read {what} ({err.strerror or err})", file=path) from None
    problem = _status_problem(status, kinds=kinds, max_bytes=max_bytes)
    if problem is not None:
        raise InputError(f"cannot read {what}: {problem}", file=path)
    return Path(path)


def open_checked(path, *, what, max_bytes=None):
    """Open the regular file ``path`` for binary reading, checked as by
    :func:`checked_input_path`, before and after opening.

    The file is opened with ``O_NONBLOCK``, so a path swapped for a named pipe after the
    check opens at once (and is refused) instead of waiting for a writer.

    Returns
    -------
    file object
        Binary, readable, seekable; the caller closes it.
    """
    checked_input_path(path, what=what, max_bytes=max_bytes)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise InputError(f"cannot read {what} ({err.strerror or err})", file=path) from None
    try:
        problem = _status_problem(os.fstat(fd), kinds=("file",), max_bytes=max_bytes)
    except OSError as err:
        problem = err.strerror or str(err)
    if problem is not None:
        os.close(fd)
        raise InputError(f"cannot read {what}: {problem}", file=path)
    return os.fdopen(fd, "rb")


def read_checked_bytes(path, *, what, max_bytes) -> bytes:
    """The bytes of the regular file ``path`` (:func:`open_checked`), at most ``max_bytes``.

    Raises
    ------
    InputError
        As :func:`open_checked`, or when the file grew past ``max_bytes`` while read.
    """
    with open_checked(path, what=what, max_bytes=max_bytes) as handle:
        try:
            data = handle.read(max_bytes + 1)
        except OSError as err:
            raise InputError(f"cannot read {what} ({err.strerror or err})", file=path) from None
    if len(data) > max_bytes:
        raise InputError(f"cannot read {what}: it holds more than the {byte_text(max_bytes)} accepted", file=path)
    return data


def _same_path(a, b) -> bool:
    """Whether ``a`` and ``b`` name one file: the same resolved path, or one file under
    two names (a hard or symbolic link)."""
    if Path(a).resolve() == Path(b).resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def checked_output_path(path, *, what="the output", inputs=()) -> Path:
    """``path`` as a :class:`~pathlib.Path` once a file may be written there.

    Folders missing on the way are made by the writer
    (:func:`~survsig.core.io.atomic_path`); what the file system refuses only when
    written (a read-only or full disk) is named by the writer, with this path.

    Parameters
    ----------
    path : str or path
        As the user gave it (``-o``).
    what : str
        What the file is, with its article, for the message.
    inputs : sequence of str or path
        The files the command reads: the output may be none of them.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InputError
        Naming the path: empty, ending with a separator (a folder), an existing folder
        or a file that is not a regular one (a named pipe, a device), one of
        ``inputs`` (same path or same file), or below something that is not a folder.
    """
    text = os.fspath(path)
    if text.strip() == "":
        raise InputError(f"no path given for {what} (the name is empty)")
    if text.endswith(("/", os.sep)):
        raise InputError(f"cannot write {what}: the path ends with a separator, so it names a folder", file=path)
    target = Path(text)
    try:
        status = os.stat(target)
    except FileNotFoundError:
        status = None
    except OSError as err:  # a file where a folder should be, a loop of links, no permission
        raise InputError(f"cannot write {what} ({err.strerror or err})", file=path) from None
    if status is not None and not stat.S_ISREG(status.st_mode):
        raise InputError(f"cannot write {what}: {_kind_problem(status.st_mode, 'a regular file')}", file=path)
    for source in inputs:
        if _same_path(target, source):
            raise InputError(f"cannot write {what}: it is the input {source}, which writing would overwrite", file=path)
    folder = target.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(f"cannot write {what}: {folder} is not a folder", file=path)
    return target
