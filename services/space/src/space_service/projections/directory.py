"""The space service's read model: environments, API keys (hashed), spaces, documents, guests,
secrets (their values sealed) and apps with their stored constraints (every version kept).

It also folds the workbook service's events (`evt.*.workbook.>`) and the file service's
(`evt.*.file.>`) into the space row: a space's `workbooks_count`, `files_count` and
`last_activity_at`. It never reads another service's tables.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import msgspec

from space_service.projections import retention
from space_service.projections.cache import SpaceCache
from spaceport.contracts.file import FileCreated, FileDeleted, FileUpdated
from spaceport.contracts.space import (
    ApiKeyIssued,
    ApiKeyRevoked,
    AppCreated,
    AppDeleted,
    AppUpdated,
    ConstraintCreated,
    ConstraintDeleted,
    ConstraintUpdated,
    DocumentCreated,
    DocumentDeleted,
    DocumentUpdated,
    EnvironmentCreated,
    EnvironmentDeleted,
    EnvironmentUpdated,
    GuestCreated,
    GuestDeleted,
    GuestGrant,
    GuestUpdated,
    SecretCreated,
    SecretDeleted,
    SecretUpdated,
    SpaceArchived,
    SpaceCreated,
    SpaceDeleted,
    SpaceUnarchived,
    SpaceUpdated,
)
from spaceport.contracts.workbook import EVENTS as WORKBOOK_EVENTS
from spaceport.contracts.workbook import WorkbookCreated, WorkbookDeleted
from spaceport.events import StoredEvent
from spaceport.readmodel import Conn
from spaceport.readmodel import to_jsonb as js

# Optional fields of an update event -> column (jsonb columns need a cast); None keeps the column.
ENVIRONMENT_UPDATES = {
    "name": "name",
    "is_prod": "is_prod",
    "guest_authentication": "guest_authentication::jsonb",
    "metadata": "metadata::jsonb",
    "namespaces": "namespaces::jsonb",
    "translations_path": "translations_path",
    "language_override": "language_override",
}
SPACE_UPDATES = {
    "name": "name",
    "namespace": "namespace",
    "labels": "labels::jsonb",
    "metadata": "metadata::jsonb",
    "settings": "settings::jsonb",
    "access": "access::jsonb",
    "guest_authentication": "guest_authentication::jsonb",
    "actions": "actions::jsonb",
    "primary_workbook_id": "primary_workbook_id",
    "translations_path": "translations_path",
    "language_override": "language_override",
    "display_order": "display_order",
    "allowed_domains": "allowed_domains::jsonb",
    "is_app_template": "is_app_template",
}
APP_UPDATES = {
    "name": "name",
    "namespace": "namespace",
    "entity": "entity",
    "entity_plural": "entity_plural",
    "icon": "icon",
    "metadata": "metadata::jsonb",
    "environment_filters": "environment_filters::jsonb",
    "blueprint": "blueprint::jsonb",
    "activated_at": "activated_at",
}
DOCUMENT_UPDATES = {
    "title": "title",
    "body": "body",
    "treatments": "treatments::jsonb",
    "actions": "actions::jsonb",
}


def _param(value: object) -> object:
    return js(value) if isinstance(value, list | dict) else value


def _jsonb(value: object | None) -> str | None:
    """A nullable jsonb parameter: SQL NULL for None."""
    return None if value is None else js(value)


def _changes(event: msgspec.Struct, columns: dict[str, str]) -> tuple[str, list[object]]:
    """`col = $3, ...` for the fields set on `event`, numbered after $1 (id) and $2 (time)."""
    assignments, params = [], []
    for field, column in columns.items():
        value = getattr(event, field)
        if value is not None:
            params.append(_param(value))
            name, _, cast = column.partition("::")
            assignments.append(f"{name} = ${len(params) + 2}{'::' + cast if cast else ''}")
    return ", ".join(assignments), params


class SpaceDirectory:
    """Projection `space`: one schema of the same name."""

    migrations = Path(__file__).parent / "migrations"

    def __init__(self, prefix: str = "evt", name: str = "space", cache: SpaceCache | None = None) -> None:
        self.name = name
        self.cache = cache  # told of every space an event changes, before its batch commits
        self.filter_subjects = [
            f"{prefix}.*.{aggregate}.>"
            for aggregate in (
                *("environment", "space", "document", "guest", "secret", "app", "workbook", "file"),
                "retention",  # data retention policies (`projections/retention.py`)
            )
        ]

    async def apply(self, conn: Conn, stored: StoredEvent) -> None:
        at = stored.envelope.occurred_at
        if self.cache is not None:  # every `space` row an event writes is its envelope's or its own space_id
            self.cache.touched(stored.envelope.space_id, stored.seq)
            named = getattr(stored.event, "space_id", None)
            if isinstance(named, str) and named != stored.envelope.space_id:
                self.cache.touched(named, stored.seq)
        match stored.event:
            case EnvironmentCreated() | EnvironmentUpdated() | EnvironmentDeleted() | ApiKeyIssued() | ApiKeyRevoked():
                await self._environment(conn, stored, at)
            case SpaceCreated() | SpaceUpdated() | SpaceArchived() | SpaceUnarchived() | SpaceDeleted():
                await self._space(conn, stored, at)
            case DocumentCreated() | DocumentUpdated() | DocumentDeleted():
                await self._document(conn, stored, at)
            case GuestCreated() | GuestUpdated() | GuestDeleted():
                await self._guest(conn, stored, at)
            case SecretCreated() | SecretUpdated() | SecretDeleted():
                await self._secret(conn, stored, at)
            case AppCreated() | AppUpdated() | AppDeleted():
                await self._app(conn, stored, at)
            case ConstraintCreated() | ConstraintUpdated() | ConstraintDeleted():
                await self._constraint(conn, stored, at)
            case _ if isinstance(stored.event, WORKBOOK_EVENTS):
                await self._workbook(conn, stored, at)
            case FileCreated() | FileUpdated() | FileDeleted():
                await self._file(conn, stored, at)
            case _ if isinstance(stored.event, retention.POLICY_EVENTS):
                await retention.apply(conn, stored, at)

    async def _environment(self, conn: Conn, stored: StoredEvent, at: datetime) -> None:
        match stored.event:
            case EnvironmentCreated() as e:
                await conn.execute(
                    "INSERT INTO environment (id, name, is_prod, guest_authentication, metadata, created_at,"
                    " namespaces, translations_path, language_override)"
                    " VALUES ($1,$2,$3,$4::jsonb,$5::jsonb,$6,$7::jsonb,$8,$9) ON CONFLICT DO NOTHING",
                    e.environment_id,
                    e.name,
                    e.is_prod,
                    js(e.guest_authentication),
                    js(e.metadata),
                    at,
                    None if e.namespaces is None else js(e.namespaces),
                    e.translations_path,
                    e.language_override,
                )
            case EnvironmentUpdated() as e:
                await self._update(conn, "environment", e.environment_id, at=at, event=e, columns=ENVIRONMENT_UPDATES)
            case EnvironmentDeleted() as e:
                await conn.execute("UPDATE environment SET deleted_at = $2 WHERE id = $1", e.environment_id, at)
                await conn.execute("UPDATE api_key SET revoked = true WHERE environment_id = $1", e.environment_id)
            case ApiKeyIssued() as e:
                await conn.execute(
                    "INSERT INTO api_key (key_hash, key_id, environment_id, kind, hint, created_at) "
                    "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING",
                    e.key_hash,
                    e.key_id,
                    stored.envelope.environment_id,
                    e.kind,
                    e.hint,
                    at,
                )
            case ApiKeyRevoked() as e:
                await conn.execute("UPDATE api_key SET revoked = true WHERE key_id = $1", e.key_id)

    async def _space(self, conn: Conn, stored: StoredEvent, at: datetime) -> None:
        match stored.event:
            case SpaceCreated() as e:
                await conn.execute(
                    "INSERT INTO space (id, environment_id, name, namespace, labels, metadata, settings,"
                    " auto_configure, created_by, created_at, updated_at, last_activity_at, position, access,"
                    " guest_authentication, actions, primary_workbook_id, translations_path, language_override,"
                    " display_order, allowed_domains, is_collaborative, app_id, is_app_template, template_id)"
                    " VALUES ($1,$2,$3,$4,$5::jsonb,$6::jsonb,$7::jsonb,$8,$9,$10,$10,$10,$11,$12::jsonb,"
                    "$13::jsonb,$14::jsonb,$15,$16,$17,$18,$19::jsonb,$20,$21,$22,$23) ON CONFLICT DO NOTHING",
                    e.space_id,
                    e.environment_id,
                    e.name,
                    e.namespace,
                    js(e.labels),
                    js(e.metadata),
                    js(e.settings),
                    e.auto_configure,
                    e.created_by,
                    at,
                    stored.seq,
                    None if e.access is None else js(e.access),
                    js(e.guest_authentication),
                    js(e.actions),
                    e.primary_workbook_id,
                    e.translations_path,
                    e.language_override,
                    e.display_order,
                    js(e.allowed_domains),
                    e.is_collaborative,
                    e.app_id,
                    e.is_app_template,
                    e.template_id,
                )
            case SpaceUpdated() as e:
                await self._update(conn, "space", e.space_id, at=at, event=e, columns=SPACE_UPDATES, seq=stored.seq)
            case SpaceArchived() as e:
                await self._stamp(conn, e.space_id, "archived_at = $2, updated_at = $2", at, stored.seq)
            case SpaceUnarchived() as e:
                await self._stamp(conn, e.space_id, "archived_at = NULL, updated_at = $2", at, stored.seq)
            case SpaceDeleted() as e:
                await erase_space(conn, e.space_id, stored.envelope.environment_id, at, stored.seq)

    async def _document(self, conn: Conn, stored: StoredEvent, at: datetime) -> None:
        match stored.event:
            case DocumentCreated() as e:
                await conn.execute(
                    "INSERT INTO document VALUES ($1,$2,$3,$4,$5,$6::jsonb,$7::jsonb,$8,$8,$9) ON CONFLICT DO NOTHING",
                    e.document_id,
                    e.space_id,
                    stored.envelope.environment_id,
                    e.title,
                    e.body,
                    js(e.treatments),
                    js(e.actions),
                    at,
                    stored.seq,
                )
            case DocumentUpdated() as e:
                await self._update(
                    conn, "document", e.document_id, at=at, event=e, columns=DOCUMENT_UPDATES, seq=stored.seq
                )
            case DocumentDeleted() as e:
                await conn.execute("DELETE FROM document WHERE id = $1", e.document_id)
        if stored.envelope.space_id is not None:  # a document changed: the space saw activity
            await conn.execute("UPDATE space SET last_activity_at = $2 WHERE id = $1", stored.envelope.space_id, at)

    async def _workbook(self, conn: Conn, stored: StoredEvent, at: datetime) -> None:
        """Any workbook event is activity in its space; creates and deletes move `workbooks_count`."""
        space_id = stored.envelope.space_id
        if space_id is None:
            return
        step = (
            1 if isinstance(stored.event, WorkbookCreated) else -1 if isinstance(stored.event, WorkbookDeleted) else 0
        )
        await conn.execute(
            "UPDATE space SET workbooks_count = greatest(workbooks_count + $2, 0), last_activity_at = $3 WHERE id = $1",
            space_id,
            step,
            at,
        )

    async def _file(self, conn: Conn, stored: StoredEvent, at: datetime) -> None:
        """Any file event is activity in its space; creates and deletes move `files_count` (live files)."""
        space_id = stored.envelope.space_id
        if space_id is None:
            return
        step = 1 if isinstance(stored.event, FileCreated) else -1 if isinstance(stored.event, FileDeleted) else 0
        await conn.execute(
            "UPDATE space SET files_count = greatest(files_count + $2, 0), last_activity_at = $3 WHERE id = $1",
            space_id,
            step,
            at,
        )

    async def _guest(self, conn: Conn, stored: StoredEvent, at: datetime) -> None:
        match stored.event:
            case GuestCreated() as e:
                await conn.execute(
                    "INSERT INTO guest VALUES ($1,$2,$3,$4,$5,$5,$6) ON CONFLICT (id) DO UPDATE SET"
                    " email = $3, name = $4, created_at = $5, updated_at = $5, position = $6",
                    e.guest_id,
                    e.environment_id,
                    e.email,
                    e.name,
                    at,
                    stored.seq,
                )
                await self._grants(conn, e.guest_id, e.spaces, at)
            case GuestUpdated() as e:
                await conn.execute(
                    "UPDATE guest SET email = coalesce($2, email), name = coalesce($3, name), updated_at = $4,"
                    " position = $5 WHERE id = $1",
                    e.guest_id,
                    e.email,
                    e.name,
                    at,
                    stored.seq,
                )
                if e.spaces is not None:
                    await self._grants(conn, e.guest_id, e.spaces, at)
            case GuestDeleted() as e:
                await conn.execute("DELETE FROM guest WHERE id = $1", e.guest_id)

    async def _secret(self, conn: Conn, stored: StoredEvent, at: datetime) -> None:
        match stored.event:
            case SecretCreated() as e:  # again after a delete: the same id, a fresh row
                await conn.execute(
                    "INSERT INTO secret VALUES ($1,$2,$3,$4,$5,$6,$7,$7,$8) ON CONFLICT (id) DO UPDATE SET"
                    " name = $5, ciphertext = $6, created_at = $7, updated_at = $7, position = $8",
                    e.secret_id,
                    e.environment_id,
                    e.space_id,
                    e.actor_id,
                    e.name,
                    e.ciphertext,
                    at,
                    stored.seq,
                )
            case SecretUpdated() as e:
                await conn.execute(
                    "UPDATE secret SET ciphertext = $2, updated_at = $3, position = $4 WHERE id = $1",
                    e.secret_id,
                    e.ciphertext,
                    at,
                    stored.seq,
                )
            case SecretDeleted() as e:
                await conn.execute("DELETE FROM secret WHERE id = $1", e.secret_id)

    async def _app(self, conn: Conn, stored: StoredEvent, at: datetime) -> None:
        match stored.event:
            case AppCreated() as e:
                await conn.execute(
                    "INSERT INTO app (id, environment_id, name, namespace, type, entity, entity_plural, icon, metadata,"
                    " environment_filters, blueprint, created_by, created_at, updated_at, position)"
                    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9::jsonb,$10::jsonb,$11::jsonb,$12,$13,$13,$14)"
                    " ON CONFLICT DO NOTHING",
                    e.app_id,
                    e.environment_id,
                    e.name,
                    e.namespace,
                    e.app_type,
                    e.entity,
                    e.entity_plural,
                    e.icon,
                    _jsonb(e.metadata),
                    _jsonb(e.environment_filters),
                    _jsonb(e.blueprint),
                    e.created_by,
                    at,
                    stored.seq,
                )
            case AppUpdated() as e:
                await self._update(conn, "app", e.app_id, at=at, event=e, columns=APP_UPDATES, seq=stored.seq)
            case AppDeleted() as e:
                await conn.execute(
                    "UPDATE app SET deleted_at = $2, position = $3 WHERE id = $1", e.app_id, at, stored.seq
                )

    async def _constraint(self, conn: Conn, stored: StoredEvent, at: datetime) -> None:
        """The latest version in `app_constraint`, every version in `app_constraint_version`."""
        match stored.event:
            case ConstraintCreated() as e:
                await conn.execute(
                    "INSERT INTO app_constraint VALUES ($1,$2,$3,1,$4,$5,$6::jsonb,$7,$8,$8,$9) ON CONFLICT DO NOTHING",
                    e.constraint_id,
                    e.app_id,
                    e.validator,
                    e.description,
                    e.function,
                    _jsonb(e.options),
                    e.label,
                    at,
                    stored.seq,
                )
                await self._version(conn, e.constraint_id, 1, at)
            case ConstraintUpdated() as e:
                await conn.execute(
                    "UPDATE app_constraint SET version = $2, description = $3, function = $4, options = $5::jsonb,"
                    " label = $6, updated_at = $7, position = $8 WHERE id = $1 AND version < $2",
                    e.constraint_id,
                    e.version,
                    e.description,
                    e.function,
                    _jsonb(e.options),
                    e.label,
                    at,
                    stored.seq,
                )
                await self._version(conn, e.constraint_id, e.version, at)
            case ConstraintDeleted() as e:
                await conn.execute("DELETE FROM app_constraint_version WHERE constraint_id = $1", e.constraint_id)
                await conn.execute("DELETE FROM app_constraint WHERE id = $1", e.constraint_id)

    async def _version(self, conn: Conn, constraint_id: str, version: int, at: datetime) -> None:
        """Version `version` as the constraint now stands (just written to `app_constraint`)."""
        await conn.execute(
            "INSERT INTO app_constraint_version"
            " SELECT id, version, app_id, validator, description, function, options, label, $3"
            " FROM app_constraint WHERE id = $1 AND version = $2 ON CONFLICT DO NOTHING",
            constraint_id,
            version,
            at,
        )

    async def _grants(self, conn: Conn, guest_id: str, grants: list[GuestGrant], at: datetime) -> None:
        """Replace the guest's grants; a grant that stays keeps its created_at (and updated_at if unchanged)."""
        await conn.execute(
            "DELETE FROM guest_space WHERE guest_id = $1 AND NOT space_id = ANY($2::text[])",
            guest_id,
            [g.space_id for g in grants],
        )
        await conn.executemany(
            "INSERT INTO guest_space (guest_id, space_id, role, workbook_ids, created_at, updated_at)"
            " VALUES ($1,$2,$3,$4::jsonb,$5,$5) ON CONFLICT (guest_id, space_id) DO UPDATE SET"
            " role = $3, workbook_ids = $4::jsonb, updated_at = CASE WHEN guest_space.role = $3"
            " AND guest_space.workbook_ids = $4::jsonb THEN guest_space.updated_at ELSE $5 END",
            [(guest_id, g.space_id, g.role, js(g.workbook_ids), at) for g in grants],
        )

    async def _update(
        self,
        conn: Conn,
        table: str,
        row_id: str,
        *,
        at: datetime,
        event: msgspec.Struct,
        columns: dict[str, str],
        seq: int | None = None,
    ) -> None:
        assignments, params = _changes(event, columns)
        extra = ["updated_at = $2"]
        if table == "space":
            extra.append("last_activity_at = $2")
        if seq is not None:
            params.append(seq)
            extra.append(f"position = ${len(params) + 2}")
        sets = ", ".join(a for a in (assignments, *extra) if a)
        if sets:
            await conn.execute(f"UPDATE {table} SET {sets} WHERE id = $1", row_id, at, *params)

    async def _stamp(self, conn: Conn, space_id: str, assignment: str, at: object, seq: int) -> None:
        await conn.execute(f"UPDATE space SET {assignment}, position = $3 WHERE id = $1", space_id, at, seq)


async def erase_space(conn: Conn, space_id: str, environment_id: str, at: datetime, seq: int) -> None:
    """Erasure: the space's documents, secrets and grants go; its row keeps only ids and times.

    The tombstone row is what a replay makes of the space once its other events are erased
    (spaceport.crypto), so a rebuilt directory equals the live one. Idempotent.
    """
    await conn.execute("DELETE FROM guest_space WHERE space_id = $1", space_id)
    await conn.execute("DELETE FROM document WHERE space_id = $1", space_id)
    await conn.execute("DELETE FROM secret WHERE space_id = $1", space_id)
    await conn.execute("DELETE FROM space WHERE id = $1", space_id)
    await conn.execute(
        "INSERT INTO space (id, environment_id, name, labels, metadata, settings, auto_configure, created_by,"
        " created_at, updated_at, deleted_at, position)"
        " VALUES ($1, $2, '', '[]', '{}', '{}', false, '', $3, $3, $3, $4)",
        space_id,
        environment_id,
        at,
        seq,
    )
