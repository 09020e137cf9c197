"""CSV, TSV, PSV and other delimited text, streamed through ``pyarrow.csv.open_csv``.

Only a sample (``Limits.sample_bytes``) is ever decoded in Python, to find the encoding, the delimiter
and the header row; the rest of the file goes through pyarrow block by block (``Limits.block_size``),
transcoded to UTF-8 as a stream when it is not UTF-8. No row becomes a Python object."""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ._detect import sniff_encoding
from ._headers import find_header_row, normalize_headers
from ._model import ExtractionError, Format, Limits, Table, rebatch
from ._source import ThrottledSource

_CANDIDATES = (",", "\t", ";", "|")
_PREFERRED = {Format.CSV: ",", Format.TSV: "\t", Format.PSV: "|"}
_SNIFF_RECORDS = 200
BATCH_BYTES = 8 << 20  # a batch of wide rows stops at ~8 MB of Arrow data (bounded memory downstream)
_UTF8 = ("utf-8", "utf-8-sig")

# csv.reader refuses fields beyond its default limit (128 KiB); our own cap applies later.
csv.field_size_limit(1 << 30)


@dataclass(frozen=True, slots=True)
class _Record:
    line: int  # 1-based physical line where the record starts
    next_line: int  # physical lines consumed once the record is read
    cells: list[str]


def _records(text: str, delimiter: str, whole: bool, limit: int | None) -> list[_Record]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    out: list[_Record] = []
    before = 0
    try:
        for cells in reader:
            out.append(_Record(before + 1, reader.line_num, cells))
            before = reader.line_num
            if limit is not None and len(out) > limit:
                break
    except csv.Error:
        pass
    if not whole and (limit is None or len(out) <= limit) and out:
        out.pop()  # the sample cut the last record short
    return out


def _sniff_delimiter(text: str, whole: bool, preferred: str) -> str:
    best: tuple[bool, float, bool, int] | None = None
    chosen = preferred
    for delimiter in _CANDIDATES:
        widths = [len(r.cells) for r in _records(text, delimiter, whole, _SNIFF_RECORDS) if r.cells]
        if not widths:
            continue
        mode, count = Counter(widths).most_common(1)[0]
        key = (mode > 1, round(count / len(widths), 1), delimiter == preferred, mode)
        if best is None or key > best:
            best, chosen = key, delimiter
    return chosen


def _decode_sample(sample: bytes, encoding: str, whole: bool, what: str) -> str:
    try:
        return codecs.getincrementaldecoder(encoding)().decode(sample, final=whole)
    except UnicodeDecodeError as e:
        line = sample[: e.start].count(b"\n") + 1
        raise ExtractionError(f"{what} is not valid {_label(encoding)} (byte offset {e.start})", row=line) from None


def _label(encoding: str) -> str:
    return "UTF-8" if encoding in _UTF8 else encoding


def extract_delimited(
    path: Path, fmt: Format, name: str, limits: Limits, batch_rows: int, *, encoding: str | None = None
) -> Iterator[Table]:
    with path.open("rb") as f:
        sample = f.read(limits.sample_bytes)
        whole = not f.read(1)
    what = path.name if name == path.stem else name
    if not sample.strip(b" \t\r\n") or sample in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise ExtractionError(f"{what} is empty")
    encoding = codecs.lookup(encoding).name if encoding else sniff_encoding(sample, what)
    if encoding == "utf-8" and sample.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    text = _decode_sample(sample, encoding, whole, what).lstrip("\ufeff")
    if not text.strip():
        raise ExtractionError(f"{what} is empty")
    delimiter = _sniff_delimiter(text, whole, _PREFERRED.get(fmt, ","))
    records = _records(text, delimiter, whole, limits.header_scan_rows + _SNIFF_RECORDS)
    if not records:
        raise ExtractionError(f"the first row of {what} is larger than {limits.sample_bytes} bytes", row=1)
    index = find_header_row([r.cells for r in records[: limits.header_scan_rows]])
    header = records[index]
    if len(header.cells) > limits.max_columns:
        raise ExtractionError(
            f"{what} has {len(header.cells)} columns, more than the limit of {limits.max_columns}", row=header.line
        )
    headers = normalize_headers(header.cells)
    has_data = not whole or any(any(c for c in r.cells) for r in records[index + 1 :])
    reader = _Reader(path, what, headers, header.next_line, delimiter, encoding, limits)
    yield Table(
        name=name,
        headers=headers,
        header_row=header.line,
        format=fmt,
        read=(lambda: rebatch(reader.read(), batch_rows, BATCH_BYTES)) if has_data else (lambda: iter(())),
        encoding=encoding,
        delimiter=delimiter,
    )


@dataclass(frozen=True, slots=True)
class _Reader:
    path: Path
    what: str
    headers: list[str]
    skip_lines: int
    delimiter: str
    encoding: str
    limits: Limits

    def read(self) -> Iterator[pa.RecordBatch]:
        invalid: list[pacsv.InvalidRow] = []

        def on_invalid(row: pacsv.InvalidRow) -> str:
            invalid.append(row)
            return "error"

        names = [f"f{i}" for i in range(len(self.headers))]  # header names may repeat in case; keep pyarrow's own
        read_options = pacsv.ReadOptions(
            use_threads=False,
            block_size=self.limits.block_size,
            skip_rows=self.skip_lines,
            column_names=names,
        )
        parse_options = pacsv.ParseOptions(
            delimiter=self.delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
        )
        convert_options = pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.binary()), strings_can_be_null=False, quoted_strings_can_be_null=False
        )
        schema = pa.schema([pa.field(h, pa.string()) for h in self.headers])
        first_row = self.skip_lines + 1
        source = ThrottledSource(self.path, self.encoding, ahead=self.limits.read_ahead_blocks)
        try:
            stream = pacsv.open_csv(
                pa.PythonFile(source, mode="r"),
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
            with stream:
                for batch in stream:
                    source.consumed()
                    checked = self._check(batch, schema, first_row)
                    first_row += batch.num_rows
                    yield checked
        except pa.ArrowInvalid as e:
            raise self._translate(e, invalid, first_row, source) from None
        finally:
            source.stop()
        if source.decode_error is not None:
            raise self._not_decodable(source.decode_error, source.decode_offset)

    def _not_decodable(self, e: UnicodeDecodeError, offset: int) -> ExtractionError:
        # Transcoding runs ahead of parsing, so the row is unknown; the byte offset says where.
        bad = e.object[e.start : e.end]
        return ExtractionError(
            f"{self.what} is not valid {_label(self.encoding)}: bytes {bad!r} at byte offset {offset}"
        )

    def _translate(
        self, e: pa.ArrowInvalid, invalid: list[pacsv.InvalidRow], first_row: int, source: ThrottledSource
    ) -> ExtractionError:
        message = str(e)
        if source.decode_error is not None:
            return self._not_decodable(source.decode_error, source.decode_offset)
        if invalid:
            row = invalid[0]
            return ExtractionError(
                f"a row has {row.actual_columns} cells but the header has {row.expected_columns}",
                row=row.number if row.number is not None and row.number >= 0 else None,
            )
        if "straddling" in message:
            return ExtractionError(f"a row is larger than {self.limits.block_size} bytes", row=first_row)
        if "Empty CSV file" in message:
            return ExtractionError(f"{self.what} has no rows after its header")
        return ExtractionError(f"{self.what} cannot be read as delimited text: {message}", row=first_row)

    def _check(self, batch: pa.RecordBatch, schema: pa.Schema, first_row: int) -> pa.RecordBatch:
        columns = []
        for i, column in enumerate(batch.columns):
            lengths = pc.binary_length(column)
            longest = pc.max(lengths).as_py()
            if longest is not None and longest > self.limits.max_cell_bytes:
                at = pc.index(pc.greater(lengths, self.limits.max_cell_bytes), True).as_py()
                raise ExtractionError(
                    f"a cell of {longest} bytes is larger than the limit of {self.limits.max_cell_bytes}",
                    row=first_row + at,
                    column=self.headers[i],
                )
            try:
                columns.append(column.cast(pa.string()))
            except pa.ArrowInvalid:
                raise self._invalid_utf8(column, i, first_row) from None
        return pa.RecordBatch.from_arrays(columns, schema=schema)

    def _invalid_utf8(self, column: pa.Array, i: int, first_row: int) -> ExtractionError:
        # The slow path runs only once a batch is known to be bad, to say where.
        for at, value in enumerate(column.to_pylist()):
            try:
                value.decode("utf-8")
            except UnicodeDecodeError as e:
                return ExtractionError(
                    f"{self.what} is not valid UTF-8 (bytes {value[e.start : e.start + 4]!r})",
                    row=first_row + at,
                    column=self.headers[i],
                )
        return ExtractionError(f"{self.what} is not valid UTF-8", column=self.headers[i])
