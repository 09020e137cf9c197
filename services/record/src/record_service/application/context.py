"""What the record service's handlers share: its read-model pool, sheets and their schemas."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from record_service.domain.validation import Schema, compile_schema
from record_service.projections.records import NAME
from spaceport import readmodel
from spaceport.claimcheck import ClaimCheck
from spaceport.contracts.blueprint import SheetConfig
from spaceport.errors import NotFoundError
from spaceport.eventstore import AggregateRef
from spaceport.runtime import ServiceRuntime

_config = msgspec.json.Decoder(SheetConfig)


@dataclass(frozen=True)
class Sheet:
    """A sheet as the record side knows it, at `version` (its last records event)."""

    id: str
    workbook_id: str
    space_id: str
    environment_id: str
    slug: str
    config: SheetConfig
    schema: Schema
    version: int
    total: int
    valid: int
    deleted_rows: int

    @property
    def ref(self) -> AggregateRef:
        return AggregateRef(
            environment_id=self.environment_id, space_id=self.space_id, aggregate="records", aggregate_id=self.id
        )

    def scope(self, commit_id: str) -> dict[str, str]:
        return {"sheet_id": self.id, "workbook_id": self.workbook_id, "space_id": self.space_id, "commit_id": commit_id}

    @property
    def field_keys(self) -> list[str]:
        return [f.key for f in self.config.fields]


class Context:
    """The runtime plus a pool on the `records` schema and a cache of compiled schemas."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self._pool: asyncpg.Pool[Any] | None = None
        self._schemas: dict[tuple[str, int], tuple[SheetConfig, Schema]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._claims: ClaimCheck | None = None
        self.written: dict[str, int] = {}  # sheet id -> position of this process's last commit to it

    @property
    def claims(self) -> ClaimCheck:
        if self._claims is None:
            self._claims = ClaimCheck(self.runtime.broker.connection)
        return self._claims

    async def pool(self) -> asyncpg.Pool[Any]:
        if self._pool is None:
            self._pool = await readmodel.create_pool(self.runtime.settings.database_url, NAME, max_size=8)
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def lock(self, sheet_id: str) -> asyncio.Lock:
        """Writes to one sheet are serialised in this process; across replicas the append guard does it."""
        return self._locks.setdefault(sheet_id, asyncio.Lock())

    async def wait_for(self, position: int, timeout: float = 5.0) -> None:
        """Read-your-writes on the records projection (positions are stream sequences it consumes).

        With the projection in this process its runner is asked; otherwise (the projector child
        process) its checkpoint row is polled.
        """
        if position <= 0:
            return
        if any(r.projection.name == NAME for r in self.runtime.runners):
            await self.runtime.runner(NAME).wait_for(position, timeout)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pool = await self.pool()
        while loop.time() < deadline:
            async with pool.acquire() as conn:
                if await readmodel.checkpoint(conn, NAME) >= position:
                    return
            await asyncio.sleep(0.005)

    async def settled(self, sheet_id: str, min_position: int = 0) -> None:
        """Read-your-writes: this process's last commit to the sheet (and `min_position`) applied."""
        await self.wait_for(max(min_position, self.written.get(sheet_id, 0)), timeout=60.0)

    async def catch_up(self, timeout: float = 5.0) -> None:
        """Wait until the records projection has applied every event it was sent (e.g. another
        service's WorkbookCreated). Its position only moves on events it reads, so the stream's
        last sequence is no target; the durable consumer's pending counts are."""
        store = self.runtime.store
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            info = await store.js.consumer_info(store.stream, f"proj_{NAME}")
            if not info.num_pending and not info.num_ack_pending:
                return
            await asyncio.sleep(0.02)

    async def sheet(self, sheet_id: str, *, wait: bool = True) -> Sheet:
        found = await self._sheet_row(sheet_id)
        if found is None and wait:
            await self.catch_up()
            found = await self._sheet_row(sheet_id)
        if found is None:
            raise NotFoundError(f"sheet {sheet_id} not found", key="sheetId")
        return found

    async def _sheet_row(self, sheet_id: str) -> Sheet | None:
        async with (await self.pool()).acquire() as conn:
            row = await conn.fetchrow(
                "SELECT s.*, s.config::text AS config_text FROM sheet s WHERE s.id = $1 AND NOT s.deleted", sheet_id
            )
        if row is None:
            return None
        config, schema = self._schema(sheet_id, row["config_seq"], row["config_text"])
        return Sheet(
            id=row["id"],
            workbook_id=row["workbook_id"],
            space_id=row["space_id"],
            environment_id=row["environment_id"],
            slug=row["slug"],
            config=config,
            schema=schema,
            version=row["version"],
            total=row["total"],
            valid=row["valid"],
            deleted_rows=row["deleted_rows"],
        )

    def _schema(self, sheet_id: str, config_seq: int, text: str) -> tuple[SheetConfig, Schema]:
        key = (sheet_id, config_seq)
        hit = self._schemas.get(key)
        if hit is None:
            config = _config.decode(text)
            hit = self._schemas[key] = (config, compile_schema(config))
        return hit
