"""Gene-set libraries in GMT format (one set per line: name, description, genes...)."""

from __future__ import annotations

from survsig.core.errors import InputError
from survsig.core.io import atomic_path
from survsig.core.paths import SHEET_MAX_BYTES, checked_input_path


def read_gmt(path) -> dict[str, list[str]]:
    """Read a GMT file into ``{set name: [gene, ...]}`` (order kept, duplicates dropped).

    Raises
    ------
    InputError
        When the file is missing or no regular file that may be read (a folder, a named
        pipe, a device: :func:`~survsig.core.paths.checked_input_path`), larger than
        :data:`~survsig.core.paths.SHEET_MAX_BYTES`, or a line has no genes, or a set
        name repeats.
    """
    path = checked_input_path(path, what="the gene-set file", max_bytes=SHEET_MAX_BYTES)
    sets: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as handle:
        for row, line in enumerate(handle, start=1):
            fields = [f.strip() for f in line.rstrip("\n").split("\t")]
            if not any(fields):
                continue
            genes = [g for g in fields[2:] if g]
            if not genes:
                raise InputError(f"gene set '{fields[0]}' lists no genes", file=path, row=row)
            if fields[0] in sets:
                raise InputError(f"gene set '{fields[0]}' appears twice", file=path, row=row)
            sets[fields[0]] = list(dict.fromkeys(genes))
    if not sets:
        raise InputError("no gene sets in file", file=path)
    return sets


def write_gmt(sets: dict[str, list[str]], path, *, description="survsig") -> None:
    """Write ``{set name: genes}`` as a GMT file, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for name, genes in sets.items():
            handle.write("\t".join([name, description, *genes]) + "\n")
