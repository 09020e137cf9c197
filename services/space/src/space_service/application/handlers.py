"""Command and query handlers: load -> decide -> append; queries read the projection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from space_service.application import keys
from space_service.domain import environment as env_domain
from space_service.domain import space as space_domain
from spaceport import ids
from spaceport.aggregate import Folder, execute
from spaceport.contracts.space import (
    Authenticate,
    CreateEnvironment,
    CreateSpace,
    EnvironmentCreatedReply,
    EnvironmentView,
    GetEnvironment,
    GetSpace,
    ListSpaces,
    Pagination,
    Principal,
    SpacePage,
    SpaceView,
    SpaceWritten,
)
from spaceport.errors import NotFoundError, UnauthorizedError, ValidationFailedError
from spaceport.eventstore import AggregateRef, AppendContext
from spaceport.runtime import ServiceRuntime

ENVIRONMENTS = Folder(env_domain.initial, env_domain.evolve)
SPACES = Folder(space_domain.initial, space_domain.evolve)
ACCOUNT_ID = "us_acc_local"
SPACE_COLUMNS = (
    "id, environment_id, name, namespace, labels, metadata, settings, auto_configure, created_by,"
    " created_at, updated_at, archived_at, last_activity_at, workbooks_count, files_count"
)


class SpaceHandlers:
    """The space service's use cases, bound to one runtime."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    def register(self) -> None:
        rpc = self.runtime.rpc
        rpc.handle(Authenticate)(self.authenticate)
        rpc.handle(CreateEnvironment)(self.create_environment)
        rpc.handle(GetEnvironment)(self.get_environment)
        rpc.handle(CreateSpace)(self.create_space)
        rpc.handle(GetSpace)(self.get_space)
        rpc.handle(ListSpaces)(self.list_spaces)

    # ---- environments -------------------------------------------------------------------

    async def create_environment(
        self, cmd: CreateEnvironment, *, secret_key: str | None = None
    ) -> EnvironmentCreatedReply:
        key = cmd.idempotency_key
        environment_id = ids.derived_id("environment", key) if key else ids.new_id("environment")
        secret = secret_key or keys.new_key("secret")
        publishable = keys.new_key("publishable")
        issued = [keys.issued(secret, "secret"), keys.issued(publishable, "publishable")]
        ref = AggregateRef(
            environment_id=environment_id, space_id=None, aggregate="environment", aggregate_id=environment_id
        )
        done = await execute(
            self.runtime.store,
            ref,
            ENVIRONMENTS,
            lambda state: env_domain.create(state, environment_id, cmd, issued),
            AppendContext(actor="system", idempotency_key=key),
        )
        assert done.result is not None
        fresh = not done.result.duplicate
        view = await self._environment(environment_id, done.result.last_seq)
        return EnvironmentCreatedReply(
            environment=view,
            secret_key=secret if fresh else None,
            publishable_key=publishable if fresh else None,
            position=done.result.last_seq,
        )

    async def get_environment(self, query: GetEnvironment) -> EnvironmentView:
        return await self._environment(query.environment_id, query.min_position)

    async def _environment(self, environment_id: str, min_position: int) -> EnvironmentView:
        await self.runtime.wait_for(min_position)
        async with self.runtime.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM environment WHERE id = $1", environment_id)
        if row is None:
            raise NotFoundError(f"environment {environment_id} not found", key="environmentId")
        return EnvironmentView(
            id=row["id"],
            account_id=ACCOUNT_ID,
            name=row["name"],
            is_prod=row["is_prod"],
            guest_authentication=_json(row["guest_authentication"]),
            metadata=_json(row["metadata"]),
        )

    async def authenticate(self, query: Authenticate) -> Principal:
        async with self.runtime.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT environment_id, kind, key_id FROM api_key WHERE key_hash = $1 AND NOT revoked",
                keys.hash_key(query.token),
            )
        if row is None:
            raise UnauthorizedError("the API key is not valid; pass a secret key as 'Authorization: Bearer sk_…'")
        return Principal(environment_id=row["environment_id"], kind=row["kind"], actor=row["key_id"])

    # ---- spaces -------------------------------------------------------------------------

    async def create_space(self, cmd: CreateSpace) -> SpaceWritten:
        if len(cmd.name) > space_domain.MAX_NAME:
            raise ValidationFailedError(f"name is longer than {space_domain.MAX_NAME} characters", key="name")
        await self._environment(cmd.environment_id, 0)
        key = cmd.idempotency_key
        space_id = ids.derived_id("space", f"{cmd.environment_id}:{key}") if key else ids.new_id("space")
        ref = AggregateRef(
            environment_id=cmd.environment_id, space_id=space_id, aggregate="space", aggregate_id=space_id
        )
        done = await execute(
            self.runtime.store,
            ref,
            SPACES,
            lambda state: space_domain.create(state, space_id, cmd),
            AppendContext(actor=cmd.principal.actor, idempotency_key=key),
        )
        assert done.result is not None
        return SpaceWritten(space_id=space_id, position=done.result.last_seq)

    async def get_space(self, query: GetSpace) -> SpaceView:
        await self.runtime.wait_for(query.min_position)
        async with self.runtime.pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT {SPACE_COLUMNS} FROM space WHERE id = $1 AND environment_id = $2 AND deleted_at IS NULL",
                query.space_id,
                query.environment_id,
            )
        if row is None:
            raise NotFoundError(f"space {query.space_id} not found", key="spaceId")
        return space_view(row)

    async def list_spaces(self, query: ListSpaces) -> SpacePage:
        if not 1 <= query.page_size <= 1000 or query.page_number < 1:
            raise ValidationFailedError("pageSize must be 1..1000 and pageNumber ≥ 1", key="pageSize")
        await self.runtime.wait_for(query.min_position)
        async with self.runtime.pool.acquire() as conn:
            total = await conn.fetchval(
                "SELECT count(*) FROM space WHERE environment_id = $1 AND deleted_at IS NULL", query.environment_id
            )
            rows = await conn.fetch(
                f"SELECT {SPACE_COLUMNS} FROM space WHERE environment_id = $1 AND deleted_at IS NULL"
                " ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
                query.environment_id,
                query.page_size,
                (query.page_number - 1) * query.page_size,
            )
        pages = max(1, -(-int(total) // query.page_size))
        return SpacePage(
            data=[space_view(r) for r in rows],
            pagination=Pagination(current_page=query.page_number, page_count=pages, total_count=int(total)),
        )


def _json(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def space_view(row: asyncpg.Record) -> SpaceView:
    created: datetime = row["created_at"]
    return SpaceView(
        id=row["id"],
        environment_id=row["environment_id"],
        name=row["name"],
        created_at=created,
        updated_at=row["updated_at"],
        guest_authentication=["magic_link"],
        workbooks_count=row["workbooks_count"],
        files_count=row["files_count"],
        created_by_user_id=row["created_by"],
        last_activity_at=row["last_activity_at"],
        archived_at=row["archived_at"],
        namespace=row["namespace"],
        labels=_json(row["labels"]),
        metadata=_json(row["metadata"]),
        settings=_json(row["settings"]),
        auto_configure=row["auto_configure"],
    )
