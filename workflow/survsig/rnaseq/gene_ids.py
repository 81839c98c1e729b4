"""RNA-seq branch: gene ids of a count matrix mapped to gene symbols.

:func:`map_gene_ids` puts symbols on the counts. Symbols stay as they are; Ensembl ids
(version suffix stripped, :func:`strip_ensembl_version`) and Entrez ids are mapped with an
id map (:func:`read_id_map`); :func:`detect_gene_id_type` tells the kinds apart. Ids
without a symbol are dropped; ids sharing a symbol are summed into one row (raw counts
add up). This is the first step of the differential expression
(:mod:`survsig.rnaseq.differential`).
"""

from __future__ import annotations

import re
from typing import NamedTuple

import pandas as pd

from survsig.core.errors import InputError
from survsig.core.io import read_table

#: Gene id column of the validated counts and of every gene table the RNA-seq branch writes.
GENE_ID = "gene_id"
GENE = "gene"

#: Kinds of gene ids :func:`map_gene_ids` understands.
GENE_ID_TYPES = ("auto", "symbol", "ensembl", "entrez")

#: An Ensembl gene id, with an optional version suffix (``ENSG00000000003.14``) and
#: GENCODE's ``_PAR_Y`` tag; group 1 is the id without version.
ENSEMBL_ID = re.compile(r"^(ENS[A-Z]*G\d{6,})(?:\.\d+)?(?:_PAR_Y)?$")
ENTREZ_ID = re.compile(r"^\d+$")


# ----------------------------------------------------------------------------- gene ids
class IdMapping(NamedTuple):
    """What :func:`map_gene_ids` did, for the log.

    Attributes
    ----------
    id_type : str
        ``symbol``, ``ensembl`` or ``entrez`` (after ``auto`` detection).
    n_input : int
        Gene rows in.
    n_unmapped : int
        Rows dropped because their id has no symbol in the id map.
    n_merged : int
        Rows summed into another row of the same symbol (rows in - rows out - unmapped).
    n_symbols : int
        Gene rows out (one per symbol).
    """

    id_type: str
    n_input: int
    n_unmapped: int
    n_merged: int
    n_symbols: int

    def describe(self) -> str:
        return (
            f"gene ids ({self.id_type}): {self.n_input} rows in, {self.n_unmapped} without a symbol "
            f"dropped, {self.n_merged} summed into a row of the same symbol, {self.n_symbols} genes out"
        )


def detect_gene_id_type(ids) -> str:
    """Guess the kind of gene ids: ``ensembl`` or ``entrez`` when most ids (> 50 %) look so.

    Counts tables often carry a few other rows (spike-ins, LRG records), hence a
    majority rather than all. Anything else is taken as gene symbols.
    """
    ids = pd.Series(list(ids), dtype=str).str.strip()
    if len(ids) == 0:
        return "symbol"
    if ids.str.match(ENSEMBL_ID).mean() > 0.5:
        return "ensembl"
    if ids.str.match(ENTREZ_ID).mean() > 0.5:
        return "entrez"
    return "symbol"


def strip_ensembl_version(ids) -> pd.Series:
    """Ensembl gene ids without version suffix (``ENSG00000000003.14`` -> ``ENSG00000000003``).

    Ids that are not Ensembl gene ids are returned unchanged.
    """
    ids = pd.Series(list(ids), dtype=str).str.strip()
    return ids.str.replace(ENSEMBL_ID, r"\1", regex=True)


def read_id_map(path, *, id_type=None) -> pd.Series:
    """Read a gene id -> symbol map (TSV or CSV, optionally gzipped).

    The first column holds the ids (Ensembl or Entrez), the column named ``symbol``
    (else the second column) the gene symbols, as in
    ``ensembl_gene_index.csv.gz`` (``ensembl_gene_id,symbol``) and ``entrez_symbol.tsv``
    (``entrez_id<TAB>symbol``). Rows without a symbol are skipped; when an id repeats,
    its first row wins. Ensembl version suffixes are stripped.

    Returns
    -------
    pandas.Series
        Symbol indexed by id (both str).

    Raises
    ------
    InputError
        When the file is missing, has fewer than two columns or no row with a symbol.
    """
    try:
        table = read_table(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise InputError("gene id map not found", file=path) from None
    if table.shape[1] < 2:
        raise InputError("gene id map needs an id column and a symbol column", file=path)
    symbol_col = "symbol" if "symbol" in table.columns[1:] else table.columns[1]
    ids = table.iloc[:, 0].str.strip()
    if id_type in (None, "ensembl"):
        ids = strip_ensembl_version(ids)
    symbols = table[symbol_col].str.strip()
    keep = (ids != "") & (symbols != "") & ~symbols.str.upper().isin(["NA", "NAN"])
    mapping = pd.Series(symbols[keep].to_numpy(), index=ids[keep].to_numpy(), dtype=str)
    mapping = mapping[~mapping.index.duplicated(keep="first")]
    if mapping.empty:
        raise InputError("gene id map has no row with a symbol", file=path, column=symbol_col)
    return mapping


def map_gene_ids(counts: pd.DataFrame, *, id_type="auto", id_map=None, id_map_file=None):
    """Put gene symbols on a count matrix.

    Parameters
    ----------
    counts : pandas.DataFrame
        Raw counts, genes x samples, indexed by gene id (the validated counts with
        ``gene_id`` as index).
    id_type : {"auto", "symbol", "ensembl", "entrez"}
        Kind of the ids; ``auto`` uses :func:`detect_gene_id_type`.
    id_map : pandas.Series, optional
        Id -> symbol (:func:`read_id_map`); required for Ensembl and Entrez ids.
    id_map_file : str, optional
        The id map's path, named in errors.

    Returns
    -------
    counts : pandas.DataFrame
        Counts indexed by symbol (index name ``gene``), one row per symbol, sorted by
        symbol. Rows whose id has no symbol are dropped; rows sharing a symbol are summed.
    summary : IdMapping
        Numbers of rows in, dropped, summed and out.

    Raises
    ------
    InputError
        On an unknown ``id_type``, a missing id map, or when no id maps to a symbol.
    """
    if id_type not in GENE_ID_TYPES:
        raise InputError(f"config rnaseq.gene_ids: unknown kind {id_type!r}; known: {', '.join(GENE_ID_TYPES)}")
    ids = pd.Series(counts.index.astype(str), index=counts.index).str.strip()
    if id_type == "auto":
        id_type = detect_gene_id_type(ids)
    n_input = len(counts)
    if id_type == "symbol":
        symbols = ids
    else:
        if id_map is None:
            raise InputError(
                f"gene ids look like {id_type.capitalize()} ids: set config rnaseq.id_map to a "
                "table of id -> symbol (e.g. ensembl_gene_index.csv.gz or entrez_symbol.tsv)"
            )
        keys = strip_ensembl_version(ids) if id_type == "ensembl" else ids
        symbols = pd.Series(keys.map(id_map).to_numpy(), index=counts.index)
    mapped = symbols.notna() & (symbols.astype(str).str.len() > 0)
    if not mapped.any():
        raise InputError(
            f"none of the {n_input} {id_type} gene ids has a symbol in the id map "
            f"(first ids: {', '.join(ids.iloc[:3])})",
            file=id_map_file,
        )
    kept = counts.loc[mapped.to_numpy()]
    kept.index = pd.Index(symbols[mapped].astype(str).to_numpy(), name=GENE)
    out = kept.groupby(level=0, sort=True).sum()
    out.index.name = GENE
    summary = IdMapping(
        id_type=id_type,
        n_input=n_input,
        n_unmapped=int((~mapped).sum()),
        n_merged=int(mapped.sum()) - len(out),
        n_symbols=len(out),
    )
    return out, summary
