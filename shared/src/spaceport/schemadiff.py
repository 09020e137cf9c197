"""Two read-model schemas compared inside Postgres: every table, every row, nothing loaded whole.

`spaceport rebuild` uses it to verify a shadow schema against the live one before swapping
it in; the tests' `spaceport.testing.readmodels` shares `VOLATILE`. Rows are compared with
`EXCEPT ALL` over each column cast to text (jsonb's text is canonical), so a 1M-row table is one
hashed set operation in the database, not a million rows in Python.
"""

from __future__ import annotations

import msgspec

from spaceport.readmodel import Conn, quote_ident

# table -> columns stamped with now() by the database, which differ between any two builds
VOLATILE: dict[str, frozenset[str]] = {
    "schema_migration": frozenset({"applied_at"}),
    "projection_failure": frozenset({"failed_at"}),
}
SAMPLES = 3  # rows of each side shown per differing table


class TableDifference(msgspec.Struct, frozen=True, kw_only=True):
    table: str
    only_live: int  # rows (with multiplicity) only in the live schema
    only_shadow: int
    samples: tuple[str, ...] = ()  # a few of the differing rows, as text

    def describe(self) -> str:
        if self.only_live < 0:
            return f"table {self.table} exists in one schema only"
        shown = "; ".join(self.samples)
        return f"{self.table}: {self.only_live} row(s) only live, {self.only_shadow} only rebuilt ({shown})"


async def differences(conn: Conn, live: str, shadow: str) -> list[TableDifference]:
    """Every table whose rows differ between the two schemas (VOLATILE columns left out)."""
    live_tables, shadow_tables = await _tables(conn, live), await _tables(conn, shadow)
    found = [TableDifference(table=t, only_live=-1, only_shadow=-1) for t in sorted(live_tables ^ shadow_tables)]
    for table in sorted(live_tables & shadow_tables):
        columns = [c for c in await _columns(conn, live, table) if c not in VOLATILE.get(table, frozenset())]
        if columns != [c for c in await _columns(conn, shadow, table) if c not in VOLATILE.get(table, frozenset())]:
            found.append(TableDifference(table=table, only_live=-1, only_shadow=-1))
            continue
        listed = ", ".join(f"{_ident(c)}::text" for c in columns)
        a, b = f"{quote_ident(live)}.{_ident(table)}", f"{quote_ident(shadow)}.{_ident(table)}"
        only_live = f"SELECT {listed} FROM {a} EXCEPT ALL SELECT {listed} FROM {b}"
        only_shadow = f"SELECT {listed} FROM {b} EXCEPT ALL SELECT {listed} FROM {a}"
        row = await conn.fetchrow(
            f"WITH l AS ({only_live}), s AS ({only_shadow})"
            " SELECT (SELECT count(*) FROM l) AS l, (SELECT count(*) FROM s) AS s,"
            f" ARRAY(SELECT 'live ' || row(l.*)::text FROM l LIMIT {SAMPLES})"
            f" || ARRAY(SELECT 'rebuilt ' || row(s.*)::text FROM s LIMIT {SAMPLES}) AS samples"
        )
        assert row is not None
        if row["l"] or row["s"]:
            found.append(
                TableDifference(
                    table=table,
                    only_live=int(row["l"]),
                    only_shadow=int(row["s"]),
                    samples=tuple(str(s)[:200] for s in row["samples"]),
                )
            )
    return found


async def _tables(conn: Conn, schema: str) -> set[str]:
    rows = await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'",
        schema,
    )
    return {r["table_name"] for r in rows}


async def _columns(conn: Conn, schema: str, table: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
        schema,
        table,
    )
    return [r["column_name"] for r in rows]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
