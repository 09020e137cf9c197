"""JSON arrays of objects and JSON Lines, streamed with bounded memory.

Neither ijson nor another incremental parser is installed, so a JSON array is read element by element
with ``json.JSONDecoder.raw_decode`` over a sliding buffer: memory is bounded by the largest element
(``Limits.max_json_record_bytes``), not by the file. JSON Lines are read line by line. Both make two
passes: the first collects the headers (every key, in order of first appearance), the second yields
batches. Numbers keep their exact text (``Decimal``, arbitrary-size ``int``); nested objects and arrays
become their JSON text; ``null`` and a missing key are null."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa

from ._model import ExtractionError, Format, Limits, Table

_CHUNK = 1 << 20
_WHITESPACE = " \t\r\n"
_decoder = json.JSONDecoder(parse_float=Decimal)
_nested = msgspec.json.Encoder(decimal_format="number")


def _text_chunks(path: Path, what: str) -> Iterator[str]:
    with path.open("rb") as f:
        head = f.read(4)
        f.seek(0)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            decoder = codecs.getincrementaldecoder("utf-16")()
        else:
            decoder = codecs.getincrementaldecoder("utf-8-sig")()
        offset = 0
        while chunk := f.read(_CHUNK):
            try:
                yield decoder.decode(chunk)
            except UnicodeDecodeError as e:
                raise ExtractionError(f"{what} is not valid UTF-8 (byte offset {offset + e.start})") from None
            offset += len(chunk)
        yield decoder.decode(b"", final=True)


class _ArrayScanner:
    """The elements of a top-level JSON array, decoded one at a time from a sliding text buffer."""

    def __init__(self, path: Path, what: str, limits: Limits) -> None:
        self._chunks = _text_chunks(path, what)
        self._what = what
        self._max = limits.max_json_record_bytes
        self._buffer = ""
        self._pos = 0
        self._eof = False

    def _fill(self) -> bool:
        if self._eof:
            return False
        try:
            chunk = next(self._chunks)
        except StopIteration:
            self._eof = True
            return False
        self._buffer = self._buffer[self._pos :] + chunk
        self._pos = 0
        return True

    def _next_char(self) -> str:
        """The next non-whitespace character (not consumed), or "" at the end of the file."""
        while True:
            while self._pos < len(self._buffer) and self._buffer[self._pos] in _WHITESPACE:
                self._pos += 1
            if self._pos < len(self._buffer):
                return self._buffer[self._pos]
            if not self._fill():
                return ""

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        what = self._what
        first = self._next_char()
        if not first:
            raise ExtractionError(f"{what} is empty")
        if first != "[":
            kind = "an object" if first == "{" else "not an array"
            raise ExtractionError(f"{what} is {kind}; expected a JSON array of objects (or JSON Lines)")
        self._pos += 1
        index = 0
        while True:
            char = self._next_char()
            if not char:
                raise ExtractionError(f"{what} ends before its array is closed", row=index + 1 if index else None)
            if char == "]":
                self._pos += 1
                if self._next_char():
                    raise ExtractionError(f"{what} has data after the end of its array")
                return
            if index:
                if char != ",":
                    raise ExtractionError(f"{what} is not valid JSON: expected ',' or ']' after record", row=index)
                self._pos += 1
                self._next_char()
            index += 1
            yield index, self._decode_one(index)

    def _decode_one(self, index: int) -> Any:
        while True:
            try:
                value, end = _decoder.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError as e:
                if len(self._buffer) - self._pos > self._max:
                    raise ExtractionError(
                        f"{self._what}: a record is invalid JSON or larger than {self._max} bytes", row=index
                    ) from None
                if not self._fill():
                    raise ExtractionError(f"{self._what} is not valid JSON: {e.msg}", row=index) from None
                continue
            # A number at the very end of the buffer may continue in the next chunk.
            if end >= len(self._buffer) and self._fill():
                continue
            break
        size = end - self._pos
        if size * 4 > self._max and len(self._buffer[self._pos : end].encode()) > self._max:
            raise ExtractionError(f"{self._what}: a record is larger than {self._max} bytes", row=index)
        self._pos = end
        return value


def _jsonl_records(path: Path, what: str, limits: Limits) -> Iterator[tuple[int, Any]]:
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            line = raw[3:] if number == 1 and raw.startswith(codecs.BOM_UTF8) else raw
            if len(line) > limits.max_json_record_bytes:
                raise ExtractionError(f"a line is larger than {limits.max_json_record_bytes} bytes", row=number)
            try:
                text = line.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise ExtractionError(f"{what} is not valid UTF-8", row=number) from None
            if not text:
                continue
            try:
                yield number, _decoder.decode(text)
            except json.JSONDecodeError as e:
                raise ExtractionError(f"{what} is not valid JSON Lines: {e.msg}", row=number) from None


def _records(path: Path, fmt: Format, what: str, limits: Limits) -> Iterator[tuple[int, dict[str, Any]]]:
    source = _jsonl_records(path, what, limits) if fmt is Format.JSONL else _ArrayScanner(path, what, limits)
    for number, value in source:
        if not isinstance(value, dict):
            kind = type(value).__name__ if not isinstance(value, list) else "array"
            raise ExtractionError(f"{what}: every record must be a JSON object, this one is {kind}", row=number)
        yield number, value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    return _nested.encode(value).decode()


def extract_json(path: Path, fmt: Format, name: str, limits: Limits, batch_rows: int) -> Iterator[Table]:
    what = path.name if name == path.stem else name
    if path.stat().st_size == 0:
        raise ExtractionError(f"{what} is empty")
    order: dict[str, None] = {}
    for number, record in _records(path, fmt, what, limits):
        for key in record:
            if key not in order:
                order[key] = None
                if len(order) > limits.max_columns:
                    raise ExtractionError(
                        f"{what} has more than {limits.max_columns} distinct keys", row=number, column=key
                    )
    keys = list(order)
    if not keys:
        raise ExtractionError(f"{what} has no records" if fmt is Format.JSON else f"{what} has no JSON objects")
    headers = [k if k.strip() else f"column_{i + 1}" for i, k in enumerate(keys)]
    cap = limits.max_cell_bytes

    def read() -> Iterator[pa.RecordBatch]:
        schema = pa.schema([pa.field(h, pa.string()) for h in headers])
        columns: list[list[str | None]] = [[] for _ in keys]
        for number, record in _records(path, fmt, what, limits):
            for i, key in enumerate(keys):
                text = _text(record.get(key))
                if text is not None and len(text) * 4 > cap and len(text.encode()) > cap:
                    raise ExtractionError(
                        f"a value of {len(text.encode())} bytes is larger than the limit of {cap}",
                        row=number,
                        column=headers[i],
                    )
                columns[i].append(text)
            if len(columns[0]) >= batch_rows:
                yield pa.RecordBatch.from_arrays([pa.array(c, pa.string()) for c in columns], schema=schema)
                columns = [[] for _ in keys]
        if columns[0]:
            yield pa.RecordBatch.from_arrays([pa.array(c, pa.string()) for c in columns], schema=schema)

    yield Table(name=name, headers=headers, header_row=0, format=fmt, read=read, encoding="utf-8")
