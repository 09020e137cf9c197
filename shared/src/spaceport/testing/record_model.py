"""A reference for the records API's selection, in Python: what `GET /v1/sheets/{id}/records`
(and its `counts`) and `GET /v1/sheets/{id}/counts` answer, evaluated over all records of a sheet.

The spec is the record service's SQL (`record_service.application.query`, `tombstones`) and
`docs/api.md`:
- `filter=error` keeps invalid records (with `filterField`: invalid on that field); `filter=valid`
  keeps valid records (with `filterField`: valid on that field); `all`, `none` and no filter keep all.
- `searchValue` matches a cell's value as text (Postgres `->>`: strings as they are, other JSON
  as JSON text) case-insensitively as a substring; wrapped in double quotes, exactly. Over
  `searchField` or any cell of the record.
- `ids` include only these records when nothing filters (no `filter` of valid/error/all and no
  `searchValue`), else exclude them; `sinceCommitId` keeps records last written by that commit
  or a later one.
- Order: insertion order; with `sortField` the cells with a value by their JSON value in Postgres
  `jsonb` order (`jsonb_order`), ties in insertion order (desc: exactly asc backwards, ties too),
  then the records without the cell (SQL NULL) in insertion order, whichever the direction.
- `sinceCommitId` without `filter=valid|error`, `filterField` or `searchValue`: the last page of
  the live records (page `total // pageSize + 1`) also carries the records deleted by that commit
  or a later one (`tombstone`), oldest deletion first, limited by `ids` (excluded with `filter=all`).
- `fields` projects the cells shown, `includeMessages=false` drops their messages.

Strings compare by code point, as under Postgres' C collation: keep string data to characters
whose order every collation agrees on (lowercase ASCII letters and digits) for tests that sort.
Pure: no I/O.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = [
    "Deleted",
    "Query",
    "Row",
    "answer",
    "by_field",
    "counts",
    "errors_by_field",
    "first_difference",
    "jsonb_order",
    "page",
    "pg_text",
    "selected",
    "shown",
    "tombstones",
    "wire",
]

FILTERING = ("valid", "error", "all")


@dataclass(frozen=True)
class Row:
    """One live record as the API lists it, in insertion order: `cells` in wire form
    `{key: {value, valid, messages, updatedAt}}`; `commit_id` = the commit that last wrote it."""

    id: str
    cells: Mapping[str, Mapping[str, Any]]
    valid: bool
    commit_id: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] | None = None  # None: the API lists no `config`

    @property
    def error_fields(self) -> frozenset[str]:
        """The keys of its invalid cells (the read model's `error_fields`)."""
        return frozenset(k for k, c in self.cells.items() if not c.get("valid", True))

    def value(self, key: str) -> tuple[bool, Any]:
        """(has a value, value): False when the record has no such cell (SQL NULL)."""
        cell = self.cells.get(key)
        if cell is None or "value" not in cell:
            return False, None
        return True, cell["value"]


@dataclass(frozen=True)
class Deleted:
    """A deleted record: its id and the commit that deleted it."""

    id: str
    commit_id: str


@dataclass(frozen=True)
class Query:
    """One request's selection, paging and shape; `params()` spells it as the query string.
    None = the parameter is not sent (the API's default applies)."""

    filter: str | None = None
    filter_field: str | None = None
    search_value: str | None = None
    search_field: str | None = None
    sort_field: str | None = None
    sort_direction: str | None = None  # as sent: asc, desc, any case
    ids: tuple[str, ...] = ()
    ids_repeated: bool = False  # ids=a&ids=b rather than ids=a,b
    since_commit_id: str | None = None
    page_size: int | None = None
    page_number: int | None = None
    fields: tuple[str, ...] = ()
    include_messages: bool | None = None
    include_counts: bool = False

    @property
    def filtering(self) -> bool:
        return self.filter in FILTERING or self.search_value is not None

    @property
    def descending(self) -> bool:
        return (self.sort_direction or "asc").lower() == "desc"

    def params(self) -> tuple[tuple[str, str], ...]:
        out: list[tuple[str, str]] = []
        for name, value in (
            ("filter", self.filter),
            ("filterField", self.filter_field),
            ("searchValue", self.search_value),
            ("searchField", self.search_field),
            ("sortField", self.sort_field),
            ("sortDirection", self.sort_direction),
            ("sinceCommitId", self.since_commit_id),
        ):
            if value is not None:
                out.append((name, value))
        if self.ids:
            out += [("ids", i) for i in self.ids] if self.ids_repeated else [("ids", ",".join(self.ids))]
        if self.fields:
            out.append(("fields", ",".join(self.fields)))
        if self.page_size is not None:
            out.append(("pageSize", str(self.page_size)))
        if self.page_number is not None:
            out.append(("pageNumber", str(self.page_number)))
        if self.include_messages is not None:
            out.append(("includeMessages", str(self.include_messages).lower()))
        if self.include_counts:
            out.append(("includeCounts", "true"))
        return tuple(out)


def pg_text(value: Any) -> str | None:
    """A JSON value as Postgres' `->>` gives it: strings unquoted, null as NULL, the rest as
    `jsonb` prints it (`[1, "a"]`, `{"k": 1}`: a space after `,` and `:`)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):  # JSON has no NaN: null
        return None
    if isinstance(value, str):
        return value
    return _jsonb_text(value)


def _jsonb_text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):  # numeric's output: positional, no negative zero, NaN/inf written as null
        if not math.isfinite(value):
            return "null"
        text = repr(abs(value) if value == 0 else value)
        return format(Decimal(text), "f") if "e" in text or "E" in text else text
    if isinstance(value, list):
        return "[" + ", ".join(_jsonb_text(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))  # jsonb's key order
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {_jsonb_text(value[k])}" for k in keys) + "}"
    return json.dumps(value, ensure_ascii=False)


def _scalar_rank(value: Any) -> tuple[int, Any]:
    """jsonb's scalar type order: null < string < number < boolean."""
    if value is None:
        return (0, 0)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, bool):
        return (3, value)
    if isinstance(value, int | float):
        return (2, value)
    raise TypeError(f"not a JSON scalar: {value!r}")


def jsonb_order(value: Any) -> tuple[Any, ...]:
    """A key sorting JSON values as Postgres orders `jsonb` (B-tree): a scalar is a one-element
    pseudo array, containers compare by element count first, then element by element, so an empty
    array sorts below every scalar and a non-empty one above; objects above everything."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return (3, len(value), tuple((k, jsonb_order(value[k])) for k in keys))
    if isinstance(value, list):
        if not value:
            return (0,)
        return (2, len(value), tuple(_element(v) for v in value))
    return (1, _scalar_rank(value))


def _element(value: Any) -> tuple[Any, ...]:
    if isinstance(value, dict | list):  # a nested container sorts above the scalars beside it
        return (9, jsonb_order(value))
    return _scalar_rank(value)


def _found(row: Row, query: Query) -> bool:
    value = query.search_value
    assert value is not None
    exact = len(value) >= 2 and value.startswith('"') and value.endswith('"')
    wanted = value[1:-1] if exact else value.lower()
    keys = [query.search_field] if query.search_field else list(row.cells)
    for key in keys:
        has, cell_value = row.value(key)
        text = pg_text(cell_value) if has else None
        if text is None:
            continue
        if (text == wanted) if exact else (wanted in text.lower()):
            return True
    return False


def matches(row: Row, query: Query, commits: Sequence[str]) -> bool:
    """Does `row` belong to the selection of `query`? `commits` = the sheet's commit ids, oldest first."""
    key = query.filter_field
    if query.filter == "error" and not (not row.valid and (key is None or key in row.error_fields)):
        return False
    if query.filter == "valid" and not ((key not in row.error_fields) if key else row.valid):
        return False
    if query.search_value is not None and not _found(row, query):
        return False
    if query.ids and (row.id in query.ids) == query.filtering:
        return False
    if query.since_commit_id is not None:
        return commits.index(row.commit_id) >= commits.index(query.since_commit_id)
    return True


def selected(rows: Sequence[Row], query: Query, commits: Sequence[str]) -> list[Row]:
    """Every record `query` selects, in the answer's order (`rows` in insertion order)."""
    chosen = [r for r in rows if matches(r, query, commits)]
    sort_key = query.sort_field
    if sort_key is None:
        return chosen
    valued = [(jsonb_order(r.value(sort_key)[1]), n, r) for n, r in enumerate(chosen) if r.value(sort_key)[0]]
    empty = [r for r in chosen if not r.value(sort_key)[0]]
    ordered = [r for _, _, r in sorted(valued, key=lambda v: (v[0], v[1]), reverse=query.descending)]
    return ordered + empty


def _window(query: Query) -> tuple[int, int]:
    size = 10_000 if query.page_size is None else query.page_size
    number = 1 if query.page_number is None else query.page_number
    return (number - 1) * size, size


def page(rows: Sequence[Row], query: Query, commits: Sequence[str]) -> list[Row]:
    """The live records of the page `query` asks for (pageSize default 10,000, pageNumber from 1)."""
    skip, size = _window(query)
    return selected(rows, query, commits)[skip : skip + size]


def tombstones(
    rows: Sequence[Row], deleted: Sequence[Deleted], query: Query, commits: Sequence[str]
) -> list[dict[str, Any]]:
    """The deleted records the page of `query` carries after its live ones (`sinceCommitId`)."""
    if query.since_commit_id is None or query.filter in ("valid", "error"):
        return []
    if query.filter_field is not None or query.search_value is not None:
        return []
    skip, size = _window(query)
    if not 0 <= len(selected(rows, query, commits)) - skip < size:
        return []  # not the last page of the live records
    since = commits.index(query.since_commit_id)
    exclude = query.filter == "all"
    found = [
        d for d in deleted if commits.index(d.commit_id) >= since and (not query.ids or (d.id in query.ids) != exclude)
    ]
    found.sort(key=lambda d: (commits.index(d.commit_id), d.id))
    return [
        {
            "id": d.id,
            "values": {},
            "valid": True,
            "metadata": {},
            "commitId": d.commit_id,
            "versionId": d.commit_id,
            "config": {"markedForDeletion": True},
        }
        for d in found
    ]


def wire(row: Row, query: Query) -> dict[str, Any]:
    """`row` as the API's page shows it."""
    out: dict[str, Any] = {
        "id": row.id,
        "values": shown(row, query),
        "valid": row.valid,
        "metadata": dict(row.metadata),
    }
    if row.config is not None:
        out["config"] = dict(row.config)
    out["commitId"] = out["versionId"] = row.commit_id
    return out


def answer(
    rows: Sequence[Row], deleted: Sequence[Deleted], query: Query, commits: Sequence[str]
) -> list[dict[str, Any]]:
    """The `records` of the API's answer to `query`, as JSON objects."""
    return [wire(r, query) for r in page(rows, query, commits)] + tombstones(rows, deleted, query, commits)


def shown(row: Row, query: Query) -> dict[str, Any]:
    """The `values` the API shows for `row`: only `fields` (when given), messages unless excluded."""
    kept = {k: dict(c) for k, c in row.cells.items() if not query.fields or k in query.fields}
    if query.include_messages is False:
        kept = {k: {n: x for n, x in c.items() if n != "messages"} for k, c in kept.items()}
    return kept


def counts(rows: Sequence[Row]) -> dict[str, int]:
    total = len(rows)
    valid = sum(1 for r in rows if r.valid)
    return {"total": total, "valid": valid, "error": total - valid}


def errors_by_field(rows: Sequence[Row]) -> dict[str, int]:
    """The sheet's invalid cells per field (`errorsByField`: whole sheet, fields with errors only)."""
    found: dict[str, int] = {}
    for r in rows:
        for key in r.error_fields:
            found[key] = found.get(key, 0) + 1
    return found


def by_field(rows: Sequence[Row], keys: Sequence[str]) -> dict[str, dict[str, int]]:
    """`byField=true`: per field over the whole sheet; `empty` = no value, null or ""."""
    out: dict[str, dict[str, int]] = {}
    for key in keys:
        error = sum(1 for r in rows if key in r.error_fields)
        empty = sum(1 for r in rows if pg_text(r.value(key)[1]) in (None, ""))
        out[key] = {"total": len(rows), "valid": len(rows) - error, "error": error, "empty": empty}
    return out


def first_difference(expected: Sequence[Any], got: Sequence[Any]) -> int | None:
    """The first position where two sequences differ (a length difference counts), else None."""
    for n, (a, b) in enumerate(zip(expected, got, strict=False)):
        if a != b:
            return n
    return None if len(expected) == len(got) else min(len(expected), len(got))
