"""A sheet now against a snapshot of it (its state at stream position N), in SQL set operations.

Only rows touched since N are read (a space restore uses the same `ids` and `then`): the live rows written after N
(`record_seq`) and the versions current at N that were replaced since (`record_history` by
`seq_to`); a live row with `seq <= N` is unchanged since. Cells are compared without their
`updatedAt`, so a write that left a record as it was is no change.

- createdSince: live now, no version at N;
- updatedSince: a version at N and live now, differing in cells, metadata or config;
- deletedSince: a version at N, not live now.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import msgspec

from record_service.application.query import QUERY_TIMEOUT, Selection, as_of_table
from record_service.projections.records import history_span
from spaceport.contracts.record import StoredRecord
from spaceport.contracts.snapshot import SnapshotSummary, SummarySection
from spaceport.readmodel import Conn

_stored = msgspec.json.Decoder(StoredRecord)
_CELLS = "(SELECT coalesce(jsonb_object_agg(e.key, e.value - 'updatedAt'), '{{}}') FROM jsonb_each({0}.cells) e)"
# $1 sheet id, $2 the snapshot's position. `was`/`now`: the cells then and now (NULL: no record).
DIFF = (
    "WITH l AS (SELECT id, row_no, cells, metadata, config, valid FROM record WHERE sheet_id = $1 AND seq > $2),"
    " t AS (SELECT id, row_no, cells, metadata, config, valid FROM record_history"
    "   WHERE sheet_id = $1 AND seq_to > $2 AND seq <= $2),"
    " d AS (SELECT l.id, CASE WHEN t.id IS NULL THEN 'createdSince' ELSE 'updatedSince' END AS change, l.row_no,"
    "   t.cells AS was, l.cells AS now, l.valid, l.metadata, l.config FROM l LEFT JOIN t ON t.id = l.id"
    f"   WHERE t.id IS NULL OR {_CELLS.format('t')} <> {_CELLS.format('l')}"
    "     OR t.metadata <> l.metadata OR t.config <> l.config"
    "  UNION ALL SELECT t.id, 'deletedSince', t.row_no, t.cells, NULL, t.valid, t.metadata, t.config FROM t"
    "   WHERE NOT EXISTS (SELECT 1 FROM record r WHERE r.sheet_id = $1 AND r.id = t.id))"
)
# the field keys whose value differs (a missing record has no values)
_KEYS = (
    "(SELECT k FROM jsonb_object_keys(coalesce(d.was, '{}') || coalesce(d.now, '{}')) k"
    " WHERE nullif(d.was->k->'value', 'null') IS DISTINCT FROM nullif(d.now->k->'value', 'null'))"
)
# one DiffRecord: every key of either version, `value` now (null once deleted) and `snapshotValue`
_DIFF_RECORD = (
    "json_build_object('id', d.id, 'values', (SELECT coalesce(jsonb_object_agg(k,"
    "   coalesce(d.now->k, '{\"value\": null}') || jsonb_build_object('snapshotValue', d.was->k->'value')), '{}')"
    "   FROM jsonb_object_keys(coalesce(d.was, '{}') || coalesce(d.now, '{}')) k),"
    " 'valid', d.valid, 'metadata', d.metadata, 'config', d.config)::text"
)


async def summary(
    conn: Conn, sheet_id: str, position: int, config: dict[str, Any], now: Sequence[str]
) -> SnapshotSummary:
    """Counts per kind of change, and per field how many of them differ in it; the schema diff of
    the field keys then (`config`) and `now`."""
    rows = await conn.fetch(
        f"{DIFF} SELECT d.change, NULL AS key, count(*) AS n FROM d GROUP BY d.change"
        f" UNION ALL SELECT d.change, k, count(*) FROM d, LATERAL {_KEYS} f(k) GROUP BY d.change, k",
        sheet_id,
        position,
        timeout=QUERY_TIMEOUT * 4,
    )
    totals: dict[str, int] = {}
    fields: dict[str, dict[str, int]] = {}
    for r in rows:
        if r["key"] is None:
            totals[r["change"]] = r["n"]
        else:
            fields.setdefault(r["change"], {})[r["key"]] = r["n"]

    def section(change: str) -> SummarySection:
        return SummarySection(total=totals.get(change, 0), by_field=fields.get(change) or None)

    return SnapshotSummary(
        created_since=section("createdSince"),
        updated_since=section("updatedSince"),
        deleted_since=section("deletedSince"),
        schema_diff=schema_diff([str(f.get("key")) for f in config.get("fields", [])], now),
        config=config,
    )


def schema_diff(then: Sequence[str], now: Sequence[str]) -> dict[str, Any]:
    """Each field key of either: `added` since the snapshot, `removed` since, or `unchanged`."""
    out: dict[str, Any] = {key: "unchanged" if key in now else "removed" for key in then}
    out.update({key: "added" for key in now if key not in out})
    return out


async def page(  # noqa: PLR0917 - the snapshot's sheet and position, the kind and the page
    conn: Conn, sheet_id: str, position: int, change: str | None, size: int, number: int
) -> bytes:
    """One page (row order) of the DiffRecords of one kind of change (None: all), as a JSON array."""
    rows = await conn.fetch(
        f"{DIFF} SELECT {_DIFF_RECORD} AS j FROM d WHERE $3::text IS NULL OR d.change = $3"
        " ORDER BY d.row_no LIMIT $4 OFFSET $5",
        sheet_id,
        position,
        change,
        size,
        (number - 1) * size,
        timeout=QUERY_TIMEOUT * 4,
    )
    return b"[" + b",".join(r["j"].encode() for r in rows) + b"]"


async def ids(conn: Conn, sheet_id: str, position: int) -> dict[str, list[str]]:
    """change -> the ids of the records of that kind of change, in row order."""
    rows = await conn.fetch(
        f"{DIFF} SELECT d.id, d.change FROM d ORDER BY d.row_no", sheet_id, position, timeout=QUERY_TIMEOUT * 4
    )
    out: dict[str, list[str]] = {"createdSince": [], "updatedSince": [], "deletedSince": []}
    for r in rows:
        out[r["change"]].append(r["id"])
    return out


async def then(conn: Conn, sheet_id: str, position: int, record_ids: Sequence[str]) -> list[StoredRecord]:
    """The records `record_ids` as they were at `position` (those that existed then), in row order."""
    sel = Selection(conditions=["r.sheet_id = $1"], params=[sheet_id], plain=True)
    as_of_table(sel, position)
    wanted = sel.param(list(record_ids))
    rows = await conn.fetch(
        "SELECT json_build_object('id', r.id, 'values', r.cells, 'metadata', r.metadata, 'config', r.config)::text"
        f" AS j FROM {sel.table} r WHERE {sel.where} AND r.id = ANY({wanted}::text[]) ORDER BY r.row_no",
        *sel.params,
        timeout=QUERY_TIMEOUT,
    )
    return [_stored.decode(r["j"]) for r in rows]


class Then(msgspec.Struct, frozen=True):
    """One record as it was at a position, for a restore (`then_rows`)."""

    id: str
    record: str  # StoredRecord JSON (id, values, valid, metadata, errorFields, config), as stored then
    decided: bool  # validated under the sheet's current fields and free of unique-constraint messages
    uniques: str  # JSON object: the cells then of the fields the sheet's unique keys read


UNIQUE_MESSAGE = "'$.*.messages[*] ? (@.source == \"unique-constraint\")'"  # a cell flagged by a unique key


def unflagged(row: str) -> str:
    """SQL: no cell of version `row` carries a unique-constraint message. Such a message is an
    error, so a valid version has none and its cells are not searched (most versions)."""
    return f"({row}.valid OR NOT jsonb_path_exists({row}.cells, {UNIQUE_MESSAGE}))"


# One version as `then_rows` reads it ({0}: the row), $4 the sheet's last config change, $5 the
# unique keys' fields; `u`: their cells ({0}.cells -> key for each field it has).
_THEN = (
    "{0}.id, {0}.row_no, json_build_object('id', {0}.id, 'values', {0}.cells, 'valid', {0}.valid,"
    " 'metadata', {0}.metadata, 'errorFields', {0}.error_fields, 'config', {0}.config)::text AS j,"
    f" {{0}}.seq > $4::bigint AND {unflagged('{0}')} AS decided,"
    " (SELECT coalesce(jsonb_object_agg(k, {0}.cells->k), '{{}}') FROM unnest($5::text[]) k"
    "   WHERE {0}.cells ? k)::text AS u"
)
# $1 sheet, $2 ids, $3 position: the live rows written up to it (`record_id`, in id order) ...
_THEN_LIVE = (
    f"SELECT {_THEN.format('r')} FROM record r WHERE r.id = ANY($2::text[]) AND r.sheet_id = $1 AND r.seq <= $3"
)


def versions_in_rows(columns: str) -> str:
    """SQL: `columns` (of `h`) of the versions at position $3 of sheet $1's rows $6..$7
    (`records.history_span`: one range scan of `record_history_row`, whichever ids); $2, the
    ids, is named only so that its type is known (`history_versions` keeps those of the ids)."""
    return (
        f"SELECT {columns} FROM record_history h WHERE h.sheet_id = $1 AND h.row_no BETWEEN $6 AND $7"
        " AND h.seq_to > $3 AND h.seq <= $3 AND $2::text[] IS NOT NULL"
    )


def versions_of_ids(columns: str) -> str:
    """SQL: `columns` (of `h`) of the versions at position $3 of the ids $2 of sheet $1, one probe
    per id (`record_history_record`: its last version up to $3)."""
    return (
        f"SELECT {columns} FROM unnest($2::text[]) o(id) CROSS JOIN LATERAL (SELECT * FROM record_history x"
        "   WHERE x.id = o.id AND x.seq <= $3 ORDER BY x.seq DESC LIMIT 1) h"
        " WHERE h.sheet_id = $1 AND h.seq_to > $3"
    )


# ... the versions then of rows $6..$7, and a probe per id of the others
_THEN_RANGE = versions_in_rows(_THEN.format("h"))
_THEN_PROBE = versions_of_ids(_THEN.format("h"))


async def then_rows(  # noqa: PLR0917 - the sheet, the position, the records, what decides them
    conn: Conn, sheet_id: str, position: int, record_ids: Sequence[str], fields_since: int, unique_fields: Sequence[str]
) -> list[Then]:
    """The records `record_ids` as they were at `position` (those that existed then), in row
    order, as JSON text (no Python object per cell). `decided`: the version was written after
    `fields_since` (the sheet's last config change), so its validation is the current fields'
    one, and no cell of it carries a unique-constraint message (those are decided again).

    As `as_of_table` reads them (a live row written up to `position`, else the version then in
    `record_history`), the history by row range (`records.history_span`, the ids in row order)."""
    ids = list(record_ids)
    args = (sheet_id, ids, position, fields_since, list(unique_fields))
    rows = list(await conn.fetch(_THEN_LIVE, *args, timeout=QUERY_TIMEOUT))
    rows += await history_versions(conn, _THEN_RANGE, _THEN_PROBE, args, exclude={r["id"] for r in rows})
    rows.sort(key=lambda r: int(r["row_no"]))
    return [Then(r["id"], r["j"], r["decided"], r["u"]) for r in rows]


async def history_versions(
    conn: Conn, ranged: str, probe: str, args: tuple[Any, ...], *, exclude: AbstractSet[str] = frozenset()
) -> list[Any]:
    """The versions at a position of records (`args`: sheet, ids in row order then, position,
    ...) from `record_history`: those of the rows the ids span with one range scan (`ranged`,
    the span as its two last parameters), the others (an id out of row order, a sparse chunk)
    probed one by one (`probe`). An id of `exclude` (read elsewhere) is left out."""
    sheet_id, ids, position = args[0], args[1], args[2]
    wanted = [i for i in ids if i not in exclude] if exclude else list(ids)
    found: list[Any] = []
    span = await history_span(conn, sheet_id, position, wanted)
    if span is not None:
        mine = set(wanted)
        found = [r for r in await conn.fetch(ranged, *args, *span, timeout=QUERY_TIMEOUT) if r["id"] in mine]
    if len(found) < len(wanted):
        have = {r["id"] for r in found}
        rest = [i for i in wanted if i not in have]
        found += await conn.fetch(probe, sheet_id, rest, position, *args[3:], timeout=QUERY_TIMEOUT)
    return found
