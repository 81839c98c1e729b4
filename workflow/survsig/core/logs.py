"""Logging for workflow scripts: everything to the rule's log file, progress and errors
also to the console, and bad input reported as one line instead of a traceback."""

from __future__ import annotations

import contextlib
import errno
import logging
import sys

from survsig.core.errors import InputError
from survsig.core.io import chained_os_error

FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"

#: Errors of the machine rather than of the code: reported in one line, as bad input is.
STORAGE_ERRORS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "the file system is read-only",
}


def storage_error(err: BaseException) -> str | None:
    """One line for a full disk or a denied write, found anywhere in ``err``'s chain
    (:func:`~survsig.core.io.chained_os_error`)."""
    cause = chained_os_error(err, lambda e: e.errno in STORAGE_ERRORS)
    if cause is None:
        return None
    where = f" {cause.filename}" if cause.filename else ""
    return f"cannot write{where}: {STORAGE_ERRORS[cause.errno]} ({cause.strerror})"


@contextlib.contextmanager
def stage_logging(log_path, *, console=True):
    """Route :mod:`logging` of the ``survsig`` package to ``log_path`` (and the console).

    On :class:`~survsig.core.errors.InputError`, a full disk or a denied write
    (:func:`storage_error`) the message is logged once and the process exits with status
    1, so Snakemake reports the failed job and removes its outputs. Other exceptions keep
    their traceback in the log file.
    """
    logger = logging.getLogger("survsig")
    logger.setLevel(logging.INFO)
    handlers = []
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    if console:
        handlers.append(logging.StreamHandler(sys.__stderr__))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        logger.addHandler(handler)
    log_file = open(log_path, "a") if log_path else None  # noqa: SIM115 - closed below
    try:
        if log_file is not None:
            # warnings and tracebacks of libraries land in the log too
            with contextlib.redirect_stderr(log_file):
                yield logger
        else:
            yield logger
    except InputError as err:
        logger.error("%s", err)
        raise SystemExit(1) from None
    except Exception as err:
        problem = storage_error(err)
        if problem is None:
            logger.exception("stage failed")
            raise
        logger.error("%s", problem)
        raise SystemExit(1) from None
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
        if log_file is not None:
            log_file.close()


def run_script(snakemake, main):
    """Run ``main(snakemake)`` inside :func:`stage_logging` on ``snakemake.log[0]``."""
    log_path = snakemake.log[0] if len(snakemake.log) else None
    with stage_logging(log_path):
        main(snakemake)
