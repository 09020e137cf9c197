"""Read models compared whole: every table of a schema, every row, in key order.

For "rebuild from zero equals live" and "apply equals apply_batch". Only columns that record
when bookkeeping happened, not what the events say, are left out (VOLATILE).
"""

from __future__ import annotations

from typing import Any

from spaceport.readmodel import Conn, quote_ident
from spaceport.schemadiff import VOLATILE

Snapshot = dict[str, list[tuple[Any, ...]]]

__all__ = ["VOLATILE", "Snapshot", "differences", "snapshot", "table_rows"]


async def snapshot(conn: Conn, schema: str) -> Snapshot:
    """table -> its rows (VOLATILE columns left out), ordered by primary key (else every column)."""
    names = await conn.fetch(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name",
        schema,
    )
    return {row["table_name"]: await table_rows(conn, schema, row["table_name"]) for row in names}


async def table_rows(conn: Conn, schema: str, table: str) -> list[tuple[Any, ...]]:
    columns = [c for c in await _columns(conn, schema, table) if c not in VOLATILE.get(table, frozenset())]
    order = await _primary_key(conn, schema, table) or columns
    listed = ", ".join(_ident(c) for c in columns)
    rows = await conn.fetch(
        f"SELECT {listed} FROM {quote_ident(schema)}.{_ident(table)} ORDER BY {', '.join(_ident(c) for c in order)}"
    )
    return [tuple(r) for r in rows]


def differences(live: Snapshot, rebuilt: Snapshot) -> list[str]:
    """Human-readable differences, per table: missing tables, rows only on one side."""
    found = [f"table {t} only in one schema" for t in sorted(set(live) ^ set(rebuilt))]
    for table in sorted(set(live) & set(rebuilt)):
        if live[table] != rebuilt[table]:
            a, b = {repr(r) for r in live[table]}, {repr(r) for r in rebuilt[table]}  # rows hold lists
            found.append(f"{table}: only live {sorted(a - b)[:5]}, only rebuilt {sorted(b - a)[:5]}")
    return found


async def _columns(conn: Conn, schema: str, table: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
        schema,
        table,
    )
    return [r["column_name"] for r in rows]


async def _primary_key(conn: Conn, schema: str, table: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
        " ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)"
        " WHERE i.indrelid = $1::regclass AND i.indisprimary"
        " ORDER BY array_position(i.indkey::int2[], a.attnum)",
        f"{quote_ident(schema)}.{_ident(table)}",
    )
    return [r["attname"] for r in rows]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
