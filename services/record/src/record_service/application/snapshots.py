"""Sheet snapshots: create / delete (aggregate `snapshot`: load -> decide -> append), reads of a
snapshot against the sheet now, and restore (one commit through the ordinary write path).

A snapshot is the sheet's state at its `SnapshotCreated`'s stream position: reads and restores
take it from the read model as of that position (`snapshot_diff`), so creating one copies
nothing. Every read first waits until the records projection reached the snapshot's position.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from record_service.application import snapshot_diff as diff
from record_service.application.checks import checked
from record_service.application.commit import Decided, Restored, Write, commit
from record_service.application.context import ServiceContext, Sheet
from record_service.application.ports import RecordQueries
from record_service.domain import records as domain
from record_service.domain import snapshot as snapshots
from spaceport import ids
from spaceport.aggregate import Folder, execute
from spaceport.contracts.record import MAX_RECORDS_PER_WRITE, StoredRecord
from spaceport.contracts.snapshot import (
    AGGREGATE,
    MAX_PAGE_SIZE,
    CreateSnapshot,
    DeleteSnapshot,
    DiffRecordsReply,
    GetSnapshot,
    GetSnapshotRecords,
    ListSnapshots,
    RestoreSnapshot,
    SnapshotList,
    SnapshotRestored,
    SnapshotView,
    SnapshotWritten,
)
from spaceport.errors import NotFoundError, ValidationFailedError
from spaceport.events import utcnow
from spaceport.ports import AggregateRef, AppendContext

SNAPSHOTS = Folder(snapshots.initial, snapshots.evolve)
CHUNK = MAX_RECORDS_PER_WRITE  # records per restore commit: one commit unless the difference is bigger
_config = msgspec.json.Decoder(dict[str, Any])
_ROW = (
    "SELECT n.id, n.sheet_id, n.workbook_id, n.space_id, n.environment_id, n.label, n.thread_id, n.created_by,"
    " n.created_at, n.seq, n.config::text AS config FROM snapshot n JOIN sheet s ON s.id = n.sheet_id AND NOT s.deleted"
)


class SnapshotHandlers:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # ---- commands ---------------------------------------------------------------------------

    async def create(self, cmd: CreateSnapshot) -> SnapshotWritten:
        sheet = await self.ctx.sheet(cmd.sheet_id)
        if sheet.environment_id != cmd.principal.environment_id:
            raise NotFoundError(f"sheet {cmd.sheet_id} not found", key="sheetId")
        key = cmd.idempotency_key
        seed = f"snapshot:{sheet.id}:{key}"
        snapshot_id = ids.derived_id("snapshot", seed) if key else ids.new_id("snapshot")
        ref = _ref(sheet.environment_id, sheet.space_id, snapshot_id)
        done = await execute(
            self.ctx.store,
            ref,
            SNAPSHOTS,
            lambda s: snapshots.create(s, snapshot_id, sheet.workbook_id, sheet.space_id, cmd),
            AppendContext(actor=cmd.principal.actor, idempotency_key=seed if key else None),
        )
        return SnapshotWritten(snapshot_id=snapshot_id, position=done.position)

    async def delete(self, cmd: DeleteSnapshot) -> SnapshotWritten:
        found = await self._row(cmd.snapshot_id)
        ref = _ref(found["environment_id"], found["space_id"], cmd.snapshot_id)
        context = AppendContext(actor=cmd.principal.actor)
        done = await execute(self.ctx.store, ref, SNAPSHOTS, lambda s: snapshots.delete(s, cmd.snapshot_id), context)
        await self.ctx.wait_for(done.position, timeout=60.0)  # read-your-writes: the next read finds it gone
        return SnapshotWritten(snapshot_id=cmd.snapshot_id, position=done.position)

    async def restore(self, cmd: RestoreSnapshot) -> SnapshotRestored:
        """Deletes, reverts and re-creates what the options select, as one commit of kind
        `restore` (several, in that order, only past `CHUNK` records), each decided at the
        sheet's current version and validated against its current fields (client messages kept,
        server messages and uniqueness decided again). Writes that land meanwhile are kept."""
        found = await self._row(cmd.snapshot_id)
        sheet = await self.ctx.sheet(found["sheet_id"], wait=False)
        await self.ctx.settled(sheet.id, found["seq"])
        restricted = cmd.principal.kind != "secret"
        domain.check_writable(sheet.schema, restricted)
        async with (await self.ctx.pool()).acquire() as conn:
            changed = await diff.ids(conn, sheet.id, found["seq"])
        plan = [("delete", i) for i in (changed["createdSince"] if cmd.created else [])]
        plan += [("update", i) for i in (changed["updatedSince"] if cmd.updated else [])]
        plan += [("insert", i) for i in (changed["deletedSince"] if cmd.deleted else [])]
        commits: list[str] = []
        position = sheet.version
        for start in range(0, len(plan), CHUNK):
            chunk = plan[start : start + CHUNK]
            write = Write(sheet_id=sheet.id, kind="restore", actor=cmd.principal.actor, key=None, reply_records=False)
            written = await commit(self.ctx, write, sheet, self._decider(found["seq"], chunk, restricted))
            if written.commit_id is not None:
                commits.append(written.commit_id)
                position = written.position
        return SnapshotRestored(
            snapshot_id=cmd.snapshot_id,
            commit_ids=commits,
            position=position,
            created_since=sum(1 for kind, _ in plan if kind == "delete"),
            updated_since=sum(1 for kind, _ in plan if kind == "update"),
            deleted_since=sum(1 for kind, _ in plan if kind == "insert"),
        )

    def _decider(self, position: int, plan: Sequence[tuple[str, str]], restricted: bool) -> Any:
        def of(kind: str) -> list[str]:
            return [i for k, i in plan if k == kind]

        async def decide(sheet: Sheet, q: RecordQueries) -> Decided:
            gone = await q.existing(sheet.id, of("delete"))
            current = await q.current(sheet.id, [*gone, *of("update")])
            domain.check_deletable(restricted, (current[i] for i in gone))
            present = set(await q.existing(sheet.id, of("insert")))  # re-created meanwhile: left as they are
            async with (await self.ctx.pool()).acquire() as conn:
                then = await diff.then(conn, sheet.id, position, [*of("update"), *of("insert")])
            now = utcnow()
            updates, inserts = set(of("update")), set(of("insert"))
            reverted = [domain.revalidate(sheet.schema, r, now) for r in then if r.id in updates and r.id in current]
            again = [domain.revalidate(sheet.schema, r, now) for r in then if r.id in inserts and r.id not in present]
            _check_restricted(sheet, restricted, reverted, again, current)
            decided = await checked(q, sheet, [*reverted, *again], gone, replaces=True)
            created = {r.id for r in again}
            return Restored(
                updated=[r for r in decided if r.id not in created],
                created=[r for r in decided if r.id in created],
            ), gone

        return decide

    # ---- queries ----------------------------------------------------------------------------

    async def get(self, query: GetSnapshot) -> SnapshotView:
        if query.min_position:
            await self.ctx.wait_for(query.min_position, timeout=60.0)
        found = await self._row(query.snapshot_id)
        if not query.include_summary:
            return _view(found)
        sheet = await self._settled(found)
        config = _config.decode(found["config"])
        async with (await self.ctx.pool()).acquire() as conn:
            summary = await diff.summary(conn, sheet.id, found["seq"], config, sheet.field_keys)
        return msgspec.structs.replace(_view(found), summary=summary)

    async def listing(self, query: ListSnapshots) -> SnapshotList:
        if query.min_position:
            await self.ctx.wait_for(query.min_position, timeout=60.0)
        await self.ctx.sheet(query.sheet_id)  # 404 for an unknown or deleted sheet
        where, params = "n.sheet_id = $1", [query.sheet_id]
        if query.thread_id is not None:
            where, params = where + " AND n.thread_id = $2", [*params, query.thread_id]
        async with (await self.ctx.pool()).acquire() as conn:
            rows = await conn.fetch(f"{_ROW} WHERE {where} ORDER BY n.seq", *params)
        return SnapshotList(data=[_view(r) for r in rows])

    async def records(self, query: GetSnapshotRecords) -> DiffRecordsReply:
        if not 1 <= query.page_size <= MAX_PAGE_SIZE:
            raise ValidationFailedError(f"pageSize must be between 1 and {MAX_PAGE_SIZE}", key="pageSize")
        if not 1 <= query.page_number <= 2**31 - 1:
            raise ValidationFailedError("pageNumber must be 1 or more", key="pageNumber")
        found = await self._row(query.snapshot_id)
        sheet = await self._settled(found)
        async with (await self.ctx.pool()).acquire() as conn:
            body = await diff.page(conn, sheet.id, found["seq"], query.change_type, query.page_size, query.page_number)
        return DiffRecordsReply(records=await self.ctx.claims.pack(body))

    async def _settled(self, found: Any) -> Sheet:
        """The snapshot's sheet once the projection has applied the snapshot and this process's writes."""
        sheet = await self.ctx.sheet(found["sheet_id"], wait=False)
        await self.ctx.settled(sheet.id, found["seq"])
        return await self.ctx.sheet(sheet.id, wait=False)

    async def _row(self, snapshot_id: str) -> Any:
        """The live snapshot of a live sheet (404 `snapshotId` if not; a miss first catches up)."""
        for attempt in range(2):
            async with (await self.ctx.pool()).acquire() as conn:
                row = await conn.fetchrow(f"{_ROW} WHERE n.id = $1", snapshot_id)
            if row is not None:
                return row
            if attempt == 0:
                await self.ctx.catch_up()
        raise NotFoundError(f"snapshot {snapshot_id} not found (or its sheet was deleted)", key="snapshotId")


def _check_restricted(
    sheet: Sheet,
    restricted: bool,
    reverted: list[StoredRecord],
    again: list[StoredRecord],
    current: dict[str, StoredRecord],
) -> None:
    """Guests and publishable keys restore only what they could write themselves."""
    domain.check_readonly_fields(sheet.schema, restricted, reverted, current)
    domain.check_record_config(restricted, reverted, current)
    domain.check_readonly_fields(sheet.schema, restricted, again)
    domain.check_record_config(restricted, again)


def _ref(environment_id: str, space_id: str, snapshot_id: str) -> AggregateRef:
    return AggregateRef(environment_id=environment_id, space_id=space_id, aggregate=AGGREGATE, aggregate_id=snapshot_id)


def _view(row: Any) -> SnapshotView:
    return SnapshotView(
        id=row["id"],
        sheet_id=row["sheet_id"],
        label=row["label"],
        thread_id=row["thread_id"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        workbook_id=row["workbook_id"],
        space_id=row["space_id"],
        environment_id=row["environment_id"],
    )
