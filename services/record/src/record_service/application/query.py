"""SQL for a record selection (filter, search, ids, since) and for pages walked by keyset.

Pages walk `row_no` (the sheet's insertion order) by keyset. `pageNumber` becomes a keyset bound
three ways, cheapest first: arithmetic while the sheet never lost a row (row_no is dense), the
cursor left by the previous page of the same query, else one index-only scan that skips to the
page's first row. Only an explicit `sortField` sorts and pages with OFFSET (documented).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from record_service.application.context import Sheet
from spaceport import paging
from spaceport.contracts.record import Counts, RecordQuery
from spaceport.errors import NotFoundError, UnprocessableError, ValidationFailedError
from spaceport.readmodel import Conn

MAX_PAGE_SIZE = 10_000
# Work cap of one search/filter/sort query (RECORDS_QUERY_TIMEOUT seconds): they scan the sheet.
QUERY_TIMEOUT = float(os.environ.get("RECORDS_QUERY_TIMEOUT", "30"))
T = TypeVar("T")


@dataclass
class Selection:
    """WHERE clause and its parameters; `plain` = the whole sheet (no condition beyond it)."""

    conditions: list[str]
    params: list[object]
    plain: bool
    signature: str = ""
    sort_key: str | None = None
    sort_desc: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    def param(self, value: object) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    @property
    def where(self) -> str:
        return " AND ".join(self.conditions)


def check_field(sheet: Sheet, key: str | None, what: str) -> None:
    if key is not None and key not in sheet.field_keys:
        raise ValidationFailedError(f"{what} {key!r} is not a field of this sheet", key=what)


def _pattern(value: str) -> tuple[bool, str]:
    """(exact, value): a value wrapped in double quotes matches exactly, else as a substring."""
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        return True, value[1:-1]
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return False, f"%{escaped}%"


def _prefilter(sel: Selection, value: str, exact: bool, pattern: str) -> str:
    """A cheap necessary condition for a search over every field (no index: measured 1.7x faster
    than `jsonb_each` alone): the JSON text of the cells' values contains the searched text.
    Skipped when JSON would escape a character of it (quotes, backslashes, control characters)."""
    inner = value[1:-1] if exact else value
    if any(c in inner for c in '"\\') or any(ord(c) < 0x20 for c in inner):
        return ""
    if exact:
        text = inner.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"jsonb_path_query_array(r.cells, '$.*.value')::text LIKE {sel.param(f'%{text}%')}"
    return f"jsonb_path_query_array(r.cells, '$.*.value')::text ILIKE {sel.param(pattern)}"


def select(sheet: Sheet, query: RecordQuery, since_seq: int | None = None) -> Selection:
    """The WHERE clause of `query`; `since_seq` = since_position(conn, sheet, query), required with sinceCommitId."""
    if query.since_commit_id is not None and since_seq is None:
        raise ValueError("select() needs since_position() when the query has sinceCommitId")  # a caller's bug
    if query.commit_id is not None:  # only GET records reads a commit (as written); nothing else may ignore it
        raise ValidationFailedError(
            "commitId selects records only when reading them; use sinceCommitId here", key="commitId"
        )
    for key, what in (
        (query.filter_field, "filterField"),
        (query.search_field, "searchField"),
        (query.sort_field, "sortField"),
    ):
        check_field(sheet, key, what)
    sel = Selection(conditions=["r.sheet_id = $1"], params=[sheet.id], plain=True)
    filtering = query.filter in ("valid", "error", "all") or query.search_value is not None
    if query.filter == "error":
        sel.conditions.append(f"{sel.param(query.filter_field)} = ANY(r.error_fields)" if query.filter_field else "")
        sel.conditions.append("NOT r.valid")
    elif query.filter == "valid":
        if query.filter_field:
            sel.conditions.append(f"NOT ({sel.param(query.filter_field)} = ANY(r.error_fields))")
        else:
            sel.conditions.append("r.valid")
    if query.search_value is not None:
        exact, pattern = _pattern(query.search_value)
        op = "=" if exact else "ILIKE"
        if query.search_field:
            sel.conditions.append(f"r.cells->{sel.param(query.search_field)}->>'value' {op} {sel.param(pattern)}")
        else:
            sel.conditions.append(_prefilter(sel, query.search_value, exact, pattern))
            sel.conditions.append(
                f"EXISTS (SELECT 1 FROM jsonb_each(r.cells) e WHERE e.value->>'value' {op} {sel.param(pattern)})"
            )
    if query.ids:
        negate = "NOT " if filtering else ""
        sel.conditions.append(f"{negate}(r.id = ANY({sel.param(query.ids)}::text[]))")
    if since_seq is not None:
        sel.conditions.append(f"r.seq >= {sel.param(since_seq)}")
    sel.conditions = [c for c in sel.conditions if c]
    sel.plain = len(sel.conditions) == 1
    sel.sort_key = query.sort_field
    sel.sort_desc = query.sort_direction == "desc"
    sel.signature = repr((query, since_seq))
    return sel


class Cursors:
    """Where the next page of a query starts, remembered per (query, page) and sheet version:
    the last row_no, or with `sortField` the last (sort value as JSON text or None, row_no)."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str, int, int], tuple[int, Any]] = OrderedDict()

    def get(self, sheet: Sheet, sel: Selection, page_size: int, page_number: int) -> Any:
        hit = self._items.get((sheet.id, sel.signature, page_size, page_number))
        if hit is None or hit[0] != sheet.version:
            return None
        return hit[1]

    def put(self, sheet: Sheet, sel: Selection, page_size: int, page_number: int, after: Any) -> None:
        self._items[(sheet.id, sel.signature, page_size, page_number)] = (sheet.version, after)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


def check_paging(page_size: int, page_number: int) -> None:
    """Every paged read: `pageSize` 1..MAX_PAGE_SIZE, `pageNumber` from 1."""
    paging.check(page_size, page_number, MAX_PAGE_SIZE)


def page_bounds(
    sheet: Sheet, sel: Selection, page_size: int, page_number: int, cursors: Cursors
) -> tuple[str, str, str]:
    """(extra WHERE, ORDER BY, LIMIT/OFFSET) for one page of `sel`."""
    check_paging(page_size, page_number)
    skip = (page_number - 1) * page_size
    if sel.sort_key is not None:
        return _sorted_bounds(sheet, sel, page_size, page_number, cursors)
    if skip == 0:
        return "", "r.row_no", f"LIMIT {page_size}"
    if sel.plain and sheet.deleted_rows == 0:
        return f"r.row_no > {sel.param(skip)}", "r.row_no", f"LIMIT {page_size}"
    after = cursors.get(sheet, sel, page_size, page_number)
    if after is not None:
        return f"r.row_no > {sel.param(after)}", "r.row_no", f"LIMIT {page_size}"
    # Random access into a sheet with holes: one index-only walk to the page's first row.
    bound = f"(SELECT r.row_no FROM record r WHERE {sel.where} ORDER BY r.row_no OFFSET {skip - 1} LIMIT 1)"
    return f"r.row_no > {bound}", "r.row_no", f"LIMIT {page_size}"


def _sorted_bounds(
    sheet: Sheet, sel: Selection, page_size: int, page_number: int, cursors: Cursors
) -> tuple[str, str, str]:
    assert sel.sort_key is not None
    # No index per field (measured: an expression index costs ~30% of COPY throughput), so a
    # sorted page is a scan + top-N sort; the next page of the same query is a keyset bound
    # on (value, row_no) from the previous page's cursor, deeper random pages use OFFSET.
    direction = "DESC" if sel.sort_desc else "ASC"
    expr = f"r.cells->{sel.param(sel.sort_key)}->'value'"
    order = f"{expr} {direction} NULLS LAST, r.row_no"
    sel.extra["sort_expr"] = expr
    skip = (page_number - 1) * page_size
    cursor = cursors.get(sheet, sel, page_size, page_number) if skip else None
    if cursor is None:
        return "", order, f"LIMIT {page_size} OFFSET {skip}"
    value, row_no = cursor
    after_row = sel.param(row_no)
    if value is None:
        return f"{expr} IS NULL AND r.row_no > {after_row}", order, f"LIMIT {page_size}"
    v = sel.param(value)
    beyond = "<" if sel.sort_desc else ">"
    bound = f"({expr} {beyond} {v}::jsonb OR ({expr} = {v}::jsonb AND r.row_no > {after_row}) OR {expr} IS NULL)"
    return bound, order, f"LIMIT {page_size}"


async def commit_row(conn: Conn, sheet_id: str, commit_id: str | None) -> Any:
    row = await conn.fetchrow(
        "SELECT first_seq, last_seq FROM record_commit WHERE id = $1 AND sheet_id = $2", commit_id, sheet_id
    )
    if row is None:
        raise NotFoundError(f"commit {commit_id} not found in this sheet", key="commitId")
    return row


async def since_position(conn: Conn, sheet: Sheet, query: RecordQuery) -> int | None:
    """The stream position `sinceCommitId` starts at (404 for a commit not of this sheet)."""
    if query.since_commit_id is None:
        return None
    row = await commit_row(conn, sheet.id, query.since_commit_id)
    first: int = row["first_seq"]
    return first


async def bounded(query: Awaitable[T]) -> T:
    """A search, filter or sort scans the sheet (no index per field): its work is capped."""
    try:
        return await query
    except TimeoutError:
        raise UnprocessableError(
            f"this query ran longer than {QUERY_TIMEOUT:.0f} s and was stopped; narrow it"
            " (searchField, filter, a quoted exact searchValue) or page without sortField"
        ) from None


async def counts_of(conn: Conn, sheet: Sheet, query: RecordQuery) -> Counts:
    since = await since_position(conn, sheet, query)
    sel = select(sheet, query, since)
    if sel.plain:
        return Counts(total=sheet.total, valid=sheet.valid, error=sheet.total - sheet.valid)
    row = await bounded(
        conn.fetchrow(
            f"SELECT count(*) AS n, count(*) FILTER (WHERE r.valid) AS v FROM record r WHERE {sel.where}",
            *sel.params,
            timeout=QUERY_TIMEOUT,
        )
    )
    assert row is not None
    return Counts(total=row["n"], valid=row["v"], error=row["n"] - row["v"])


async def counts_by_field(conn: Conn, sheet: Sheet) -> dict[str, dict[str, int]]:
    keys = sheet.field_keys
    parts = []
    for i, _ in enumerate(keys):
        k = f"${i + 2}"
        parts.append(
            f"count(*) FILTER (WHERE {k} = ANY(r.error_fields)) AS e{i},"
            f" count(*) FILTER (WHERE coalesce(r.cells->{k}->>'value', '') = '') AS m{i}"
        )
    row = await conn.fetchrow(
        f"SELECT count(*) AS n, {', '.join(parts)} FROM record r WHERE r.sheet_id = $1", sheet.id, *keys
    )
    assert row is not None
    total = row["n"]
    return {
        key: {"total": total, "valid": total - row[f"e{i}"], "error": row[f"e{i}"], "empty": row[f"m{i}"]}
        for i, key in enumerate(keys)
    }


def cells_expr(sel: Selection, fields: list[str], include_messages: bool) -> str:
    if not fields and include_messages:
        return "r.cells"
    value = "e.value" if include_messages else "(e.value - 'messages')"
    where = f" WHERE e.key = ANY({sel.param(fields)}::text[])" if fields else ""
    return f"(SELECT coalesce(jsonb_object_agg(e.key, {value}), '{{}}'::jsonb) FROM jsonb_each(r.cells) e{where})"


def csv_value(key_param: str) -> str:
    v = f"r.cells->{key_param}->'value'"
    return (
        f"CASE jsonb_typeof({v}) WHEN 'array' THEN (SELECT string_agg(x, ', ') FROM jsonb_array_elements_text({v}) x)"
        f" ELSE r.cells->{key_param}->>'value' END"
    )


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
