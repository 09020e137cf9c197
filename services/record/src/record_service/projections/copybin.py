"""Rows of the `record` table in Postgres's binary COPY format, built from the events' bytes.

The projector is the import path's narrowest stage: it decodes every `RecordsInserted` and
COPYs its rows, and asyncpg's `copy_records_to_table` encodes each of a row's ten values through
its codecs (a `str` per jsonb value, decoded from the event's bytes only to be encoded again).
Here the cells, metadata and config go from the event's JSON bytes straight into the stream
(jsonb's binary form is a version byte and the JSON text), and the values every row of one event
shares (sheet, commit, position, time) are encoded once per event. Tested against
`copy_records_to_table` on real Postgres (services/record/tests/test_record_copybin.py).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # signature, flags, no header extension
TRAILER = struct.pack(">h", -1)
TEXT_OID = 25
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_int8 = struct.Struct(">iq")  # length 8, then the value
_length = struct.Struct(">i")
_jsonb = struct.Struct(">ib")  # length, then jsonb's version byte (1)
_count = struct.Struct(">h")
_TRUE = struct.pack(">ib", 1, 1)
_FALSE = struct.pack(">ib", 1, 0)
_EMPTY_TEXT_ARRAY = struct.pack(">iiii", 12, 0, 0, TEXT_OID)  # no dimensions, no nulls, element type


def text(value: str) -> bytes:
    raw = value.encode()
    return _length.pack(len(raw)) + raw


def int8(value: int) -> bytes:
    return _int8.pack(8, value)


def timestamptz(at: datetime) -> bytes:
    return int8((at - _PG_EPOCH) // _MICRO)


def text_array(items: Sequence[str]) -> bytes:
    if not items:
        return _EMPTY_TEXT_ARRAY
    body = struct.pack(">iiiii", 1, 0, TEXT_OID, len(items), 1) + b"".join(text(item) for item in items)
    return _length.pack(len(body)) + body


def row_lead(sheet_id: str) -> bytes:
    """What every row of a sheet starts with: the field count and the sheet id."""
    return _count.pack(11) + text(sheet_id)


def event_tail(commit_id: str, seq: int, at: datetime) -> bytes:
    """What every row of one event shares after its own values: commit, position, time."""
    return text(commit_id) + int8(seq) + timestamptz(at)


def record_row(  # noqa: PLR0917 - once per row on the hot path: positional on purpose
    lead: bytes,
    row_no: int,
    record_id: str,
    cells: bytes,
    metadata: bytes,
    valid: bool,
    error_fields: Sequence[str],
    tail: bytes,
    config: bytes,
) -> bytes:
    """One row of (sheet_id, row_no, id, cells, metadata, valid, error_fields, commit_id, seq,
    updated_at, config): the projection's CONFIG_COLUMNS, in that order."""
    return b"".join(
        (
            lead,
            _int8.pack(8, row_no),
            text(record_id),
            _jsonb.pack(len(cells) + 1, 1),
            cells,
            _jsonb.pack(len(metadata) + 1, 1),
            metadata,
            _TRUE if valid else _FALSE,
            text_array(error_fields),
            tail,
            _jsonb.pack(len(config) + 1, 1),
            config,
        )
    )
