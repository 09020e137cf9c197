"""SQL reads of the `space` read model (the pool's search_path is the service's schema).

Implements every read port of `application/ports.py`; each query reads live rows only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from space_service.application.ports import SecretRow
from space_service.projections import rows
from spaceport.contracts.space import (
    ActorRoleView,
    ApiKeyView,
    AppView,
    ConstraintVersionView,
    ConstraintView,
    DocumentView,
    EnvironmentView,
    GuestGrant,
    GuestView,
    ListSpaces,
    Principal,
    SpaceView,
)
from spaceport.readmodel import from_jsonb

Pool = Callable[[], "asyncpg.Pool[Any]"]
"""The runtime's pool once it has started (the queries are built before it exists)."""

SORT_COLUMNS = {
    "name": "lower(name)",
    "workbooksCount": "workbooks_count",
    "filesCount": "files_count",
    "environmentId": "environment_id",
    "createdByUserName": "created_by",
    "createdAt": "created_at",
    "lastActivityAt": "last_activity_at",
}
SECRET_COLUMNS = "id, name, ciphertext, environment_id, space_id, actor_id"  # noqa: S105 - column names, not a password
LIVE_SPACE = f"SELECT {rows.SPACE_COLUMNS} FROM space WHERE id = $1 AND environment_id = $2 AND deleted_at IS NULL"


class DirectoryQueries:
    """The `Directory` port on Postgres."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    # ---- environments -------------------------------------------------------------------

    async def environment(self, environment_id: str) -> EnvironmentView | None:
        row = await self._row("SELECT * FROM environment WHERE id = $1 AND deleted_at IS NULL", environment_id)
        return None if row is None else rows.environment_view(row)

    async def environments(self, page_size: int, page_number: int) -> tuple[list[EnvironmentView], int]:
        async with self._pool().acquire() as conn:
            total = int(await conn.fetchval("SELECT count(*) FROM environment WHERE deleted_at IS NULL"))
            # An account has a handful of environments: OFFSET is fine here.
            found = await conn.fetch(
                "SELECT * FROM environment WHERE deleted_at IS NULL ORDER BY created_at, id LIMIT $1 OFFSET $2",
                page_size,
                (page_number - 1) * page_size,
            )
        return [rows.environment_view(r) for r in found], total

    async def api_keys(self, environment_id: str) -> list[ApiKeyView]:
        found = await self._rows(
            "SELECT k.key_id, k.kind, k.environment_id, k.created_at FROM api_key k"
            " JOIN environment e ON e.id = k.environment_id AND e.deleted_at IS NULL"
            " WHERE k.environment_id = $1 AND NOT k.revoked ORDER BY k.created_at, k.key_id",
            environment_id,
        )
        return [rows.api_key_view(r) for r in found]

    # ---- spaces -------------------------------------------------------------------------

    async def space(self, environment_id: str, space_id: str) -> SpaceView | None:
        row = await self._row(LIVE_SPACE, space_id, environment_id)
        return None if row is None else rows.space_view(row)

    async def spaces(self, query: ListSpaces) -> tuple[list[SpaceView], int]:
        where, params = _filters(query)
        order = f"{SORT_COLUMNS[query.sort_field]} {query.sort_direction} NULLS LAST, id {query.sort_direction}"
        async with self._pool().acquire() as conn:
            total = int(await conn.fetchval(f"SELECT count(*) FROM space WHERE {where}", *params))
            # Spaces per environment are modest (hundreds to thousands): OFFSET over the
            # (environment_id, created_at) index is acceptable here, unlike records.
            found = await conn.fetch(
                f"SELECT {rows.SPACE_COLUMNS} FROM space WHERE {where} ORDER BY {order}"
                f" LIMIT {query.page_size} OFFSET {(query.page_number - 1) * query.page_size}",
                *params,
            )
        return [rows.space_view(r) for r in found], total

    async def space_exists(self, environment_id: str, space_id: str) -> bool:
        sql = "SELECT id FROM space WHERE id = $1 AND environment_id = $2 AND deleted_at IS NULL"
        return await self._row(sql, space_id, environment_id) is not None

    # ---- documents ----------------------------------------------------------------------

    async def document(self, environment_id: str, space_id: str, document_id: str) -> DocumentView | None:
        row = await self._row(
            "SELECT d.* FROM document d JOIN space s ON s.id = d.space_id AND s.deleted_at IS NULL"
            " WHERE d.id = $1 AND d.space_id = $2 AND d.environment_id = $3",
            document_id,
            space_id,
            environment_id,
        )
        return None if row is None else rows.document_view(row)

    async def documents(self, space_id: str) -> list[DocumentView]:
        sql = "SELECT * FROM document WHERE space_id = $1 ORDER BY created_at, id LIMIT 1000"
        return [rows.document_view(r) for r in await self._rows(sql, space_id)]

    # ---- guests -------------------------------------------------------------------------

    async def guests(self, environment_id: str, guest_ids: list[str]) -> list[GuestView]:
        async with self._pool().acquire() as conn:
            found = await conn.fetch(
                "SELECT * FROM guest WHERE id = ANY($1::text[]) AND environment_id = $2 ORDER BY created_at, id",
                guest_ids,
                environment_id,
            )
            grants = await conn.fetch(
                "SELECT * FROM guest_space WHERE guest_id = ANY($1::text[]) ORDER BY space_id", guest_ids
            )
        return [rows.guest_view(r, [g for g in grants if g["guest_id"] == r["id"]]) for r in found]

    async def guest_ids_in_space(self, space_id: str, email: str | None) -> list[str]:
        found = await self._rows(
            "SELECT g.id FROM guest g JOIN guest_space gs ON gs.guest_id = g.id"
            " WHERE gs.space_id = $1 AND ($2::text IS NULL OR g.email = $2) ORDER BY g.created_at, g.id LIMIT 1000",
            space_id,
            email,
        )
        return [r["id"] for r in found]

    async def guest_roles(self, environment_id: str, guest_id: str) -> list[ActorRoleView]:
        found = await self._rows(
            "SELECT gs.* FROM guest_space gs JOIN guest g ON g.id = gs.guest_id"
            " WHERE gs.guest_id = $1 AND g.environment_id = $2 ORDER BY gs.space_id",
            guest_id,
            environment_id,
        )
        return [rows.actor_role_view(r) for r in found]

    # ---- secrets ------------------------------------------------------------------------

    async def secrets(self, environment_id: str, space_id: str | None, actor_id: str | None) -> list[SecretRow]:
        found = await self._rows(
            f"SELECT {SECRET_COLUMNS} FROM secret WHERE environment_id = $1"
            " AND (space_id IS NULL OR space_id = $2) AND (actor_id IS NULL OR actor_id = $3)"
            " ORDER BY name, id LIMIT 10000",
            environment_id,
            space_id,
            actor_id,
        )
        return [SecretRow(**dict(r)) for r in found]

    async def secret(self, environment_id: str, secret_id: str) -> SecretRow | None:
        sql = f"SELECT {SECRET_COLUMNS} FROM secret WHERE id = $1 AND environment_id = $2"
        row = await self._row(sql, secret_id, environment_id)
        return None if row is None else SecretRow(**dict(row))

    # ---- apps ---------------------------------------------------------------------------

    async def app(self, environment_id: str, app_id: str) -> AppView | None:
        sql = "SELECT * FROM app WHERE id = $1 AND environment_id = $2 AND deleted_at IS NULL"
        row = await self._row(sql, app_id, environment_id)
        return None if row is None else rows.app_view(row)

    async def apps(self, environment_id: str) -> list[AppView]:
        sql = "SELECT * FROM app WHERE environment_id = $1 AND deleted_at IS NULL ORDER BY created_at, id LIMIT 1000"
        return [rows.app_view(r) for r in await self._rows(sql, environment_id)]

    async def constraints(self, app_id: str) -> list[ConstraintView]:
        sql = "SELECT * FROM app_constraint WHERE app_id = $1 ORDER BY created_at, id LIMIT 1000"
        return [rows.constraint_view(r) for r in await self._rows(sql, app_id)]

    async def constraint_versions(self, app_id: str, constraint_id: str) -> list[ConstraintVersionView]:
        sql = "SELECT * FROM app_constraint_version WHERE app_id = $1 AND constraint_id = $2 ORDER BY version"
        return [rows.constraint_version_view(r) for r in await self._rows(sql, app_id, constraint_id)]

    # ---- credentials --------------------------------------------------------------------

    async def key_holder(self, key_hash: str) -> Principal | None:
        row = await self._row(
            "SELECT k.environment_id, k.kind, k.key_id FROM api_key k"
            " JOIN environment e ON e.id = k.environment_id AND e.deleted_at IS NULL"
            " WHERE k.key_hash = $1 AND NOT k.revoked",
            key_hash,
        )
        if row is None:
            return None
        return Principal(environment_id=row["environment_id"], kind=row["kind"], actor=row["key_id"])

    async def guest_role(self, guest_id: str, space_id: str, environment_id: str) -> str | None:
        grant = await self.guest_grant(guest_id, space_id, environment_id)
        return None if grant is None else grant.role

    async def guest_grant(self, guest_id: str, space_id: str, environment_id: str) -> GuestGrant | None:
        row = await self._row(
            "SELECT gs.role, gs.workbook_ids FROM guest_space gs JOIN guest g ON g.id = gs.guest_id"
            " JOIN space s ON s.id = gs.space_id AND s.deleted_at IS NULL"
            " JOIN environment e ON e.id = g.environment_id AND e.deleted_at IS NULL"
            " WHERE gs.guest_id = $1 AND gs.space_id = $2 AND g.environment_id = $3",
            guest_id,
            space_id,
            environment_id,
        )
        if row is None:
            return None
        return GuestGrant(space_id=space_id, role=row["role"], workbook_ids=from_jsonb(row["workbook_ids"]))

    async def _row(self, sql: str, *args: object) -> asyncpg.Record | None:
        async with self._pool().acquire() as conn:
            return await conn.fetchrow(sql, *args)

    async def _rows(self, sql: str, *args: object) -> list[asyncpg.Record]:
        async with self._pool().acquire() as conn:
            return await conn.fetch(sql, *args)


def _filters(query: ListSpaces) -> tuple[str, list[object]]:
    """A WHERE clause of constant fragments and its $n parameters."""
    clauses = ["environment_id = $1", "deleted_at IS NULL"]
    params: list[object] = [query.environment_id]

    def add(fragment: str, value: object) -> None:
        params.append(value)
        clauses.append(fragment.replace("$?", f"${len(params)}"))

    clauses.append("archived_at IS NOT NULL" if query.archived else "archived_at IS NULL")
    if query.space_ids is not None:
        add("id = ANY($?::text[])", query.space_ids)
    if query.namespace is not None:
        add("namespace = $?", query.namespace)
    if query.search:
        add("strpos(lower(name), lower($?)) > 0", query.search)
    if query.is_collaborative is not None:
        add("is_collaborative = $?", query.is_collaborative)
    if query.app_id is not None:
        add("app_id = $?", query.app_id)
    if query.is_app_template is not None:
        add("is_app_template = $?", query.is_app_template)
    return " AND ".join(clauses), params
