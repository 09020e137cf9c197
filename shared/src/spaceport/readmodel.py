"""Postgres read models: schemas, numbered SQL migrations and checkpoints.

Each service owns one schema. Migrations are `NNN_name.sql` files written without a schema
prefix; they run with `search_path` set to the target schema, so the same files build the live
schema and a rebuild's shadow schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeAlias

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

# A connection either straight from asyncpg or lent by a pool; both speak the same API.
Conn: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"

CHECKPOINT_DDL = """
CREATE TABLE IF NOT EXISTS projection_checkpoint (
    name text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS projection_failure (
    name text NOT NULL,
    position bigint NOT NULL,
    event_id text NOT NULL,
    error text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, position)
);
CREATE TABLE IF NOT EXISTS schema_migration (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""


_jsonb_encoder = msgspec.json.Encoder()


def to_jsonb(value: object) -> str:
    """A value as the text of a `$n::jsonb` parameter (asyncpg sends jsonb as text by default)."""
    return _jsonb_encoder.encode(value).decode()


def from_jsonb(value: Any) -> Any:
    """A jsonb column as read by asyncpg (text by default) back as a Python value."""
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def quote_ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"bad schema name {name!r}")
    return f'"{name}"'


async def migrate(conn: Conn, schema: str, migrations: Path | None) -> list[str]:
    """Create `schema` and apply the migrations it lacks, in one transaction. Returns applied names."""
    applied: list[str] = []
    pending = migration_files(migrations)
    async with conn.transaction():
        # Serialise concurrent migrators (several replicas starting at once).
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", schema)
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
        await conn.execute(f"SET LOCAL search_path TO {quote_ident(schema)}")
        await conn.execute(CHECKPOINT_DDL)
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migration")}
        for version, name, sql in pending:
            if version in done:
                continue
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migration (version, name) VALUES ($1, $2)", version, name)
            applied.append(name)
    return applied


def migration_files(folder: Path | None) -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every `NNN_name.sql` in `folder`, in version order."""
    if folder is None:
        return []
    files = sorted(folder.glob("*.sql"))
    return [(int(p.name.split("_", 1)[0]), p.name, p.read_text(encoding="utf-8")) for p in files]


async def checkpoint(conn: Conn, name: str, *, lock: bool = False) -> int:
    """The position `name` has applied up to, 0 if none; `lock` holds the row for this txn."""
    suffix = " FOR UPDATE" if lock else ""
    value = await conn.fetchval(f"SELECT position FROM projection_checkpoint WHERE name = $1{suffix}", name)
    if value is None and lock:
        await conn.execute(
            "INSERT INTO projection_checkpoint (name, position) VALUES ($1, 0) ON CONFLICT DO NOTHING", name
        )
        value = await conn.fetchval(f"SELECT position FROM projection_checkpoint WHERE name = $1{suffix}", name)
    return int(value or 0)


async def save_checkpoint(conn: Conn, name: str, position: int) -> None:
    await conn.execute("UPDATE projection_checkpoint SET position = $2 WHERE name = $1", name, position)


async def create_pool(
    dsn: str, schema: str, min_size: int = 1, max_size: int = 10, settings: dict[str, str] | None = None
) -> asyncpg.Pool[Any]:
    """A pool whose connections read `schema` by default (plus any other server `settings`)."""
    server_settings = {"search_path": schema, **(settings or {})}
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, server_settings=server_settings)
    assert pool is not None
    return pool
