"""What the record service's handlers share: their ports, sheets and their schemas, sheet locks.

`Context` holds the ports only (the write path runs on it, with fakes in tests);
`ServiceContext` is the running service's, whose queries also read Postgres directly.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
import msgspec

from record_service.application.ports import Payloads, RecordReadModel, SheetRow
from record_service.domain.validation import Schema, compile_schema
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.record import AGGREGATE
from spaceport.errors import NotFoundError, ServiceUnavailableError
from spaceport.ports import AggregateRef, EventStorePort
from spaceport.runtime import ServiceRuntime

if TYPE_CHECKING:
    from record_service.projections.queries import PgRecordReadModel

_config = msgspec.json.Decoder(SheetConfig)
MAX_CLAIMED = 1_000_000  # unique values held in memory per sheet before an insert settles instead
MAX_KEYED = 10_000  # idempotency keys of unprojected commits held in memory per sheet
SHEET_WAIT = 10.0  # seconds an unknown sheet waits for the projection to catch up before 404 (or 503)


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
            environment_id=self.environment_id, space_id=self.space_id, aggregate=AGGREGATE, aggregate_id=self.id
        )

    def scope(self, commit_id: str) -> dict[str, str]:
        return {"sheet_id": self.id, "workbook_id": self.workbook_id, "space_id": self.space_id, "commit_id": commit_id}

    @property
    def field_keys(self) -> list[str]:
        return [f.key for f in self.config.fields]


class Context:
    """The ports, a cache of compiled schemas, per-sheet locks and this process's last commits."""

    def __init__(self, store: EventStorePort, model: RecordReadModel, claims: Payloads) -> None:
        self.store = store
        self.model = model
        self.claims = claims
        self._schemas: dict[tuple[str, int], tuple[SheetConfig, Schema]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.written: dict[str, int] = {}  # sheet id -> position of this process's last commit to it
        # sheet id -> unique key name -> value -> record: the claims of this process's inserts
        # since it last settled the sheet (see commit._attempt)
        self.claimed: dict[str, dict[str, dict[str, str]]] = {}
        # sheet id -> idempotency key -> (first_seq, last_seq): the keyed commits of this process
        # since it last settled the sheet, tracked from that settle on (see commit._attempt)
        self.keyed: dict[str, dict[str, tuple[int, int]]] = {}

    def lock(self, sheet_id: str) -> asyncio.Lock:
        """Writes to one sheet are serialised in this process; across replicas the append guard does it."""
        return self._locks.setdefault(sheet_id, asyncio.Lock())

    async def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        """Read-your-writes on the records projection (positions are stream sequences it consumes);
        False when it had not applied `position` by `timeout`."""
        return position <= 0 or await self.model.wait_for(position, timeout)

    async def settled(self, sheet_id: str, min_position: int = 0, timeout: float = 60.0) -> bool:
        """Read-your-writes: this process's last commit to the sheet (and `min_position`) applied;
        False when it had not been by `timeout`."""
        return await self.wait_for(max(min_position, self.written.get(sheet_id, 0)), timeout=timeout)

    async def catch_up(self, timeout: float = 5.0) -> bool:
        """Wait until the records projection applied every event it was sent (e.g. another
        service's WorkbookCreated, another replica's commit); False if it had not by `timeout`."""
        return await self.model.catch_up(timeout)

    async def caught_up(self) -> None:
        """`catch_up` for callbacks that take no answer (a conflict retry)."""
        await self.catch_up()

    def may_claim(self, sheet_id: str) -> bool:
        """Whether an insert may decide uniqueness against the read model plus the claims held in
        memory without settling first: they are tracked for the sheet (every unprojected commit
        of this process to it is an insert whose claims are there) and still few enough."""
        held = self.claimed.get(sheet_id)
        return held is not None and sum(len(v) for v in held.values()) < MAX_CLAIMED

    def hold_claims(self, sheet_id: str, claims: dict[str, dict[str, str]]) -> None:
        held = self.claimed.setdefault(sheet_id, {})
        for name, values in claims.items():
            held.setdefault(name, {}).update(values)

    def forget_claims(self, sheet_id: str) -> None:
        """The next write to the sheet settles first: the claims and keys held in memory go."""
        self.claimed.pop(sheet_id, None)
        self.keyed.pop(sheet_id, None)

    def own_keys(self, sheet_id: str) -> dict[str, tuple[int, int]] | None:
        """The keys of this process's commits to the sheet since it last settled it, if tracked
        since then (None: a keyed insert must settle first) and still few enough."""
        found = self.keyed.get(sheet_id)
        return found if found is not None and len(found) < MAX_KEYED else None

    def committed(self, sheet_id: str, position: int) -> None:
        """This process's commit to the sheet is at `position` (its next read or write waits for it)."""
        self.written[sheet_id] = max(self.written.get(sheet_id, 0), position)

    async def sheet(self, sheet_id: str, *, wait: bool = True) -> Sheet:
        found = await self.model.sheet(sheet_id)
        caught_up = True
        if found is None and wait:
            caught_up = await self.catch_up(SHEET_WAIT)
            found = await self.model.sheet(sheet_id)
        if found is None and not caught_up:
            # A sheet created a moment ago may be in events not applied yet (the projector is
            # starting, or behind): not known to be missing, so no 404.
            raise ServiceUnavailableError(f"the records read model is catching up; retry (sheet {sheet_id})")
        if found is None:
            raise NotFoundError(f"sheet {sheet_id} not found", key="sheetId")
        return self._compiled(found)

    def _compiled(self, row: SheetRow) -> Sheet:
        key = (row.id, row.config_seq)
        hit = self._schemas.get(key)
        if hit is None:
            config = _config.decode(row.config)
            hit = self._schemas[key] = (config, compile_schema(config))
        return Sheet(
            id=row.id,
            workbook_id=row.workbook_id,
            space_id=row.space_id,
            environment_id=row.environment_id,
            slug=row.slug,
            config=hit[0],
            schema=hit[1],
            version=row.version,
            total=row.total,
            valid=row.valid,
            deleted_rows=row.deleted_rows,
        )


class ServiceContext(Context):
    """The running service's context: the runtime's adapters; its queries read the pool too."""

    def __init__(self, runtime: ServiceRuntime, model: PgRecordReadModel) -> None:
        super().__init__(runtime.store, model, runtime.claims)
        self.runtime = runtime
        self.records = model

    async def pool(self) -> asyncpg.Pool[Any]:
        return await self.records.pool()

    async def close(self) -> None:
        await self.records.close()
