"""`GET …/records?commitId=X`: the selection parameters applied to the records a commit wrote.

A commit's records are read back from its events (as written), not from the read model, so the
SQL selection (`query.select`) cannot serve them. This applies the same parameters in Python with
the same meaning: `filter` (valid/error, per `filterField`), `searchValue` (substring, any case;
quoted: exact; per `searchField` or over every field), `ids` (only these; with a filter or a
search: all but these, as `select` does), `fields` and `includeMessages`. A parameter that has no
meaning for one commit's records answers 400 naming it — never silently ignored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

import msgspec

from record_service.application.context import Sheet
from record_service.application.query import check_field
from spaceport.contracts.record import RecordQuery
from spaceport.errors import ValidationFailedError

# with commitId, these parameters are refused: what they would mean is not one commit's records
UNSUPPORTED = {
    "sort_field": "sortField",
    "since_commit_id": "sinceCommitId",
    "as_of": "asOf",
}
_encoder = msgspec.json.Encoder()
_exact = msgspec.json.Decoder(float_hook=Decimal)  # numbers with their written digits, as jsonb keeps them


def check(sheet: Sheet, query: RecordQuery) -> None:
    """400 for a parameter that cannot be combined with `commitId`, or a field the sheet lacks."""
    for attr, name in UNSUPPORTED.items():
        if getattr(query, attr) is not None:
            raise ValidationFailedError(
                f"{name} cannot be combined with commitId (a commit's records are listed in the order"
                " it wrote them); drop one of the two",
                key=name,
            )
    if query.q:  # FFQL is compiled to SQL only; a commit's records are selected in Python
        raise ValidationFailedError("q is not supported with commitId", key="q")
    check_field(sheet, query.filter_field, "filterField")
    check_field(sheet, query.search_field, "searchField")


def exact_cells(values: bytes) -> dict[str, Any]:
    """A record's cells JSON with every number as written (`Decimal` for a fraction or an
    exponent), so `pg_text` and `csv_text` render it as the read model's jsonb does."""
    cells: dict[str, Any] = _exact.decode(values)
    return cells


def pg_text(value: Any) -> str | None:
    """A cell value as Postgres' `->>'value'` gives it: a string as it is, no value as NULL, any
    other JSON as `jsonb` prints it (`jsonb_text`)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):  # written as null
        return None
    return value if isinstance(value, str) else jsonb_text(value)


def jsonb_text(value: Any) -> str:
    """`value::jsonb::text`: a space after `,` and `:`, object keys in jsonb's order (shorter
    first, then bytewise), numbers as `numeric` prints them. Exact for numbers decoded as
    `Decimal` (`_exact`: the event's own digits, which the read model's jsonb keeps); a float is
    taken as msgspec writes it, which is how the events were written."""
    if isinstance(value, list):
        return "[" + ", ".join(jsonb_text(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(f"{_string(k)}: {jsonb_text(value[k])}" for k in keys) + "}"
    return _scalar(value)


def _scalar(value: Any) -> str:
    if isinstance(value, float):  # not finite: msgspec writes null
        value = Decimal(_encoder.encode(value).decode()) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return _numeric(value)
    if isinstance(value, str):
        return _string(value)
    if value is None or isinstance(value, bool | int):
        return _encoder.encode(value).decode()
    raise TypeError(f"not a JSON value: {value!r}")


def _string(text: str) -> str:
    """Escaped as jsonb escapes: `"`, `\\`, the named controls, other controls below U+0020 as `\\u00xx`."""
    return json.dumps(text, ensure_ascii=False)


def _numeric(number: Decimal) -> str:
    """`numeric` output: positional, as many decimals as the input gave after its exponent is
    applied (`1.50` -> `1.50`, `1e2` -> `100`, `1.5e-7` -> `0.00000015`), no negative zero."""
    return format(number.copy_abs() if number.is_zero() else number, "f")


def csv_text(cell: Any) -> str:
    """A cell as the SQL download renders it (`query.csv_value`): text as is, a list's elements
    as `jsonb_array_elements_text` gives them joined by ", " (nulls left out, as `string_agg`
    does), other JSON as `->>` gives it, no value as ""."""
    value = cell.get("value") if isinstance(cell, dict) else None
    if isinstance(value, list):
        return ", ".join(text for v in value if (text := pg_text(v)) is not None)
    return pg_text(value) or ""


def _found(cells: dict[str, Any], query: RecordQuery) -> bool:
    value = query.search_value
    assert value is not None
    exact = len(value) >= 2 and value.startswith('"') and value.endswith('"')  # as query._pattern reads it
    pattern = value[1:-1] if exact else value
    keys = [query.search_field] if query.search_field else list(cells)
    for key in keys:
        cell = cells.get(key)
        text = pg_text(cell.get("value")) if isinstance(cell, dict) else None
        if text is None:
            continue
        if text == pattern if exact else pattern.lower() in text.lower():
            return True
    return False


def matches(record_id: str, valid: bool, error_fields: list[str], cells: dict[str, Any], query: RecordQuery) -> bool:
    """Does a record (as the commit wrote it) belong to the answer of `query`?"""
    field = query.filter_field
    if query.filter == "error" and not (not valid and (field is None or field in error_fields)):
        return False
    if query.filter == "valid" and not (field not in error_fields if field else valid):
        return False
    if query.search_value is not None and not _found(cells, query):
        return False
    if query.ids:
        filtering = query.filter in ("valid", "error", "all") or query.search_value is not None
        if (record_id in query.ids) == filtering:  # a filter's ids are exclusions, as in select()
            return False
    return True


def shaped(cells: dict[str, Any], fields: list[str], include_messages: bool) -> dict[str, Any]:
    """The cells the answer shows: only `fields` (when given), without messages when not wanted."""
    kept = {k: v for k, v in cells.items() if not fields or k in fields}
    if include_messages:
        return kept
    return {k: {n: x for n, x in v.items() if n != "messages"} if isinstance(v, dict) else v for k, v in kept.items()}


def select(
    records: Iterable[tuple[str, bool, list[str], bytes]],
    query: RecordQuery,
    fields: list[str],
    include_messages: bool,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(index in `records`, cells to show) of each matching record, in order;
    `records` = (id, valid, error fields, values JSON) as the commit wrote them."""
    searched = query.search_value is not None  # only a search reads numbers as text
    for index, (record_id, valid, error_fields, values) in enumerate(records):
        cells: dict[str, Any] = msgspec.json.decode(values)
        if matches(record_id, valid, error_fields, exact_cells(values) if searched else cells, query):
            yield index, shaped(cells, fields, include_messages)
