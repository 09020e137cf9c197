"""Extraction of uploaded files into tables: columnar (pyarrow ``RecordBatch``es of string columns) and
streamed, so that a file of any size is read with bounded memory.

    fmt = detect(path, filename="people.csv", mimetype="text/csv")
    for table in extract(path, fmt, name="people"):
        table.headers, table.header_row
        for batch in table.batches():   # pyarrow.RecordBatch, ≤ batch_rows rows, every column string
            ...

Every failure is an ``ExtractionError`` whose message says what is wrong, with ``row``/``column``/
``sheet`` saying where. See ``Limits`` for the caps.

Memory: CSV/TSV is streamed block by block (a few MiB whatever the file size; non-UTF-8 text is
transcoded as a stream); JSON arrays and JSON Lines are streamed element by element (memory bounded by
the largest record), in two passes (headers first); a workbook is read one worksheet at a time, and
python-calamine holds that whole worksheet in memory, so spreadsheets are bounded by their largest sheet.
Row numbers are 1-based as a user counts them: for delimited text, physical lines up to the header, then
records (blank lines below the header are skipped and not counted)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ._delimited import extract_delimited
from ._detect import detect
from ._json import extract_json
from ._model import DEFAULT_LIMITS, ExtractionError, Format, Limits, Table
from ._spreadsheet import extract_spreadsheet

__all__ = ["DEFAULT_LIMITS", "ExtractionError", "Format", "Limits", "Table", "detect", "extract"]


def extract(
    path: Path | str,
    format: Format | None = None,
    *,
    batch_rows: int = 10_000,
    name: str | None = None,
    encoding: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Iterator[Table]:
    """The tables of a file, lazily: one for CSV/TSV/JSON/JSONL (named ``name`` or the file stem), one per
    worksheet with data for a workbook (named after the sheet).

    ``format`` defaults to ``detect(path)``; pass ``name`` when the stored file's name is not the
    uploaded one (it is used in messages too). ``encoding`` forces a text encoding for delimited files
    (otherwise a BOM, UTF-8 validity or charset-normalizer on a sample decide). Tables and batches are
    produced while iterating: an ``ExtractionError`` comes from ``extract`` (detection: binary data, a
    PDF …), from iterating its result (the file as a whole: empty, corrupt, password-protected, too wide,
    not an array of objects …) or from ``Table.batches()`` (a row: ragged, oversized cell, invalid
    UTF-8 …). Batches already yielded stay valid; an importer should treat the error as failing the file."""
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    path = Path(path)
    fmt = format or detect(path, filename=f"{name}{path.suffix}" if name else None)
    stem = name or path.stem
    if fmt.is_delimited:
        return extract_delimited(path, fmt, stem, limits, batch_rows, encoding=encoding)
    if fmt.is_spreadsheet:
        return extract_spreadsheet(path, fmt, stem, limits, batch_rows)
    return extract_json(path, fmt, stem, limits, batch_rows)
