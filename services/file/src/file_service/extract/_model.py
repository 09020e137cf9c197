"""The types of the extraction API: formats, limits, tables and the one error type."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa


class Format(enum.StrEnum):
    """What a file is. CSV, TSV and PSV are all delimited text; the name only hints at the delimiter
    (the delimiter itself is always detected from a sample)."""

    CSV = "csv"
    TSV = "tsv"
    PSV = "psv"
    XLSX = "xlsx"
    XLSB = "xlsb"
    XLS = "xls"
    ODS = "ods"
    JSON = "json"
    JSONL = "jsonl"

    @property
    def is_delimited(self) -> bool:
        return self in (Format.CSV, Format.TSV, Format.PSV)

    @property
    def is_spreadsheet(self) -> bool:
        return self in (Format.XLSX, Format.XLSB, Format.XLS, Format.ODS)


class ExtractionError(Exception):
    """A file cannot be turned into tables. ``message`` says what is wrong; ``row`` (1-based, as a user
    counts rows in the file or sheet), ``column`` (the header name, or ``column_N``) and ``sheet`` say
    where, when known."""

    def __init__(self, message: str, row: int | None = None, column: str | None = None, sheet: str | None = None):
        self.message = message
        self.row = row
        self.column = column
        self.sheet = sheet
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = []
        if self.sheet is not None:
            where.append(f"sheet {self.sheet!r}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{self.message} ({', '.join(where)})" if where else self.message


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps that keep extraction bounded. Exceeding one is an ``ExtractionError``, never a truncation.

    CSV memory is about ``(read_ahead_blocks + 2) x block_size`` plus one batch, whatever the file size;
    a CSV row must fit in one block."""

    max_cell_bytes: int = 1 << 20  # one cell, UTF-8 encoded
    max_columns: int = 5_000
    block_size: int = 2 << 20  # pyarrow CSV block; also the largest possible CSV row (> max_cell_bytes)
    read_ahead_blocks: int = 2  # CSV blocks read ahead of the consumer (memory ≈ (this + 2) x block_size)
    sample_bytes: int = 1 << 20  # read to detect encoding, delimiter and header row
    header_scan_rows: int = 50  # rows of the sample considered when looking for the header row
    max_json_record_bytes: int = 16 << 20  # one element of a JSON array / one JSON Lines line


DEFAULT_LIMITS = Limits()


class Table:
    """One table of a file: a CSV/JSON file is one table named after the file stem; every worksheet of a
    workbook is its own table named after the sheet.

    ``headers`` are unique and non-empty; ``header_row`` is the 1-based row of the header in the source
    (rows above it, e.g. titles, are skipped; 0 for JSON, which has no header row). ``batches()`` streams
    ``pyarrow.RecordBatch``es of at most ``batch_rows`` rows whose columns are all ``string`` and named like
    ``headers``; it can be called again to re-read the source. A table with a header and no data rows is
    valid: ``batches()`` yields nothing and ``rows_read`` is 0.

    ``rows_read`` counts the rows yielded so far (the final count once ``batches()`` is exhausted).
    ``total_rows`` is known up front for spreadsheets only, as the rows below the header including blank
    ones (an upper bound: blank rows are not yielded); ``None`` otherwise.

    Cells: CSV cells are the exact text ("" for an empty cell, never null); spreadsheet cells are typed
    values rendered as text ("" when empty); JSON values are text, null when null or missing."""

    def __init__(
        self,
        *,
        name: str,
        headers: list[str],
        header_row: int,
        format: Format,
        read: Callable[[], Iterator[pa.RecordBatch]],
        sheet: str | None = None,
        encoding: str | None = None,
        delimiter: str | None = None,
        total_rows: int | None = None,
    ) -> None:
        self.name = name
        self.headers = headers
        self.header_row = header_row
        self.format = format
        self.sheet = sheet
        self.encoding = encoding
        self.delimiter = delimiter
        self.total_rows = total_rows
        self.rows_read = 0
        self._read = read

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(h, pa.string()) for h in self.headers])

    def batches(self) -> Iterator[pa.RecordBatch]:
        self.rows_read = 0
        for batch in self._read():
            self.rows_read += batch.num_rows
            yield batch

    def __repr__(self) -> str:
        return (
            f"Table(name={self.name!r}, format={self.format.value}, columns={len(self.headers)}, "
            f"header_row={self.header_row})"
        )


def rebatch(
    batches: Iterator[pa.RecordBatch], batch_rows: int, max_bytes: int | None = None
) -> Iterator[pa.RecordBatch]:
    """Batches of ``batch_rows`` rows (the last may be shorter), or fewer once they hold
    ``max_bytes`` (wide rows): big ones sliced (zero-copy), small ones concatenated."""
    pending: list[pa.RecordBatch] = []
    pending_rows = pending_bytes = 0
    for batch in batches:
        offset = 0
        while offset < batch.num_rows:
            take = min(batch_rows - pending_rows, batch.num_rows - offset)
            piece = batch.slice(offset, take)
            pending.append(piece)
            pending_rows += take
            pending_bytes += piece.nbytes
            offset += take
            if pending_rows == batch_rows or (max_bytes is not None and pending_bytes >= max_bytes):
                yield pending[0] if len(pending) == 1 else pa.concat_batches(pending)
                pending, pending_rows, pending_bytes = [], 0, 0
    if pending_rows:
        yield pending[0] if len(pending) == 1 else pa.concat_batches(pending)
