"""Restore: a sheet's records (or every sheet's of a space) brought back to how they were at an
earlier stream position, by appending commits — history is never rewritten, and a restore is
itself undone by restoring to the position before it (`SheetRestore.before`).

The earlier state is read from the read model as of that position (`query.as_of_table`: live
rows written before it and the superseded versions of `record_history`). The difference with
now is computed once per sheet in SQL (records created since, updated since, deleted since;
cells compared without their `updatedAt`), then applied in chunks of `CHUNK` records, in this
order so unique values are freed before they are taken again: deletes, reverts, re-creates.
Each chunk is one commit through the ordinary write path (`commit`): decided at the sheet's
current version, validated against its current fields (client messages kept, server messages
and unique constraints decided again), so listeners see ordinary `commit:created` events.
Writes made while a restore runs are kept (they are not part of the difference computed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec

from record_service.application import snapshot_diff
from record_service.application.checks import checked
from record_service.application.commit import Decided, Write, commit
from record_service.application.context import ServiceContext, Sheet
from record_service.application.ports import RecordQueries
from record_service.application.query import as_of_position
from record_service.domain import records as domain
from spaceport.contracts.record import RecordQuery, RestoreRecords, RestoreReport, SheetRestore
from spaceport.errors import ForbiddenError, NotFoundError
from spaceport.events import utcnow
from spaceport.readmodel import Conn

CHUNK = 10_000  # records per restore commit
Progress = Callable[[int, int], Awaitable[None]]


class Difference(msgspec.Struct, frozen=True, kw_only=True):
    created: list[str]  # ids created since the position: deleted by a restore
    updated: list[str]  # ids whose state changed since: reverted
    deleted: list[str]  # ids deleted since: re-created


class RestoreHandlers:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def restore(self, cmd: RestoreRecords, progress: Progress | None = None) -> RestoreReport:
        """`progress(done, total)` after every commit of an execution (records written of all sheets')."""
        if cmd.principal.kind != "secret":
            raise ForbiddenError("restoring records takes a secret key of the environment")
        await self.ctx.catch_up()
        async with (await self.ctx.pool()).acquire() as conn:
            sheets = await self._sheets(conn, cmd)
            as_of = await _space_position(conn, cmd.space_id, cmd.as_of)
        out = []
        plans: list[tuple[Sheet, SheetRestore, Difference]] = []
        for sheet_id in sheets:
            await self.ctx.settled(sheet_id)
            sheet = await self.ctx.sheet(sheet_id)
            async with (await self.ctx.pool()).acquire() as conn:
                position = await as_of_position(conn, sheet, RecordQuery(as_of=as_of))
                assert position is not None
                diff = await difference(conn, sheet, position)
            chosen = Difference(
                created=diff.created if cmd.created else [],
                updated=diff.updated if cmd.updated else [],
                deleted=diff.deleted if cmd.deleted else [],
            )
            report = SheetRestore(
                sheet_id=sheet.id,
                workbook_id=sheet.workbook_id,
                position=position,
                created_since=len(chosen.created),
                updated_since=len(chosen.updated),
                deleted_since=len(chosen.deleted),
                before=sheet.version,
            )
            plans.append((sheet, report, chosen))
        total = sum(r.created_since + r.updated_since + r.deleted_since for _, r, _ in plans)
        done = [0]
        for sheet, planned, chosen in plans:
            if cmd.preview:
                out.append(planned)
                continue
            commits = await self._apply(cmd, sheet, planned.position, chosen, done, total, progress)
            out.append(msgspec.structs.replace(planned, commit_ids=commits))
        return RestoreReport(space_id=cmd.space_id, preview=cmd.preview, sheets=out)

    async def _sheets(self, conn: Conn, cmd: RestoreRecords) -> list[str]:
        if cmd.sheet_id is not None:
            found = await conn.fetchval(
                "SELECT id FROM sheet WHERE id = $1 AND space_id = $2 AND NOT deleted", cmd.sheet_id, cmd.space_id
            )
            if found is None:
                raise NotFoundError(f"sheet {cmd.sheet_id[:80]} is not a sheet of space {cmd.space_id[:80]}")
            return [str(found)]
        rows = await conn.fetch("SELECT id FROM sheet WHERE space_id = $1 AND NOT deleted ORDER BY id", cmd.space_id)
        return [r["id"] for r in rows]

    async def _apply(  # noqa: PLR0917 - the sheet's plan and the run's progress
        self,
        cmd: RestoreRecords,
        sheet: Sheet,
        position: int,
        diff: Difference,
        done: list[int],
        total: int,
        progress: Progress | None,
    ) -> list[str]:
        """No idempotency keys: a rerun computes the difference again and writes only what still
        differs (a key per chunk would match a different chunk of an earlier run's difference)."""
        commits: list[str] = []
        for kind, ids in (("delete", diff.created), ("update", diff.updated), ("insert", diff.deleted)):
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                # no inserted records in the reply (a re-create of 1,000,000 records would fill the claim-check store)
                write = Write(sheet_id=sheet.id, kind=kind, actor=cmd.principal.actor, key=None, reply_records=False)
                written = await commit(self.ctx, write, sheet, self._decider(kind, position, chunk))
                if written.commit_id is not None:
                    commits.append(written.commit_id)
                done[0] += len(chunk)
                if progress is not None:
                    await progress(done[0], total)
        return commits

    def _decider(self, kind: str, position: int, ids: Sequence[str]) -> Any:
        async def decide(sheet: Sheet, q: RecordQueries) -> Decided:
            if kind == "delete":
                gone = await q.existing(sheet.id, ids)
                return await checked(q, sheet, [], gone, replaces=True), gone
            async with (await self.ctx.pool()).acquire() as conn:
                then = await snapshot_diff.then(conn, sheet.id, position, ids)
            now = utcnow()
            if kind == "update":
                current = await q.current(sheet.id, ids)
                built = [domain.revalidate(sheet.schema, r, now) for r in then if r.id in current]
                return await checked(q, sheet, built, replaces=True), []
            present = set(await q.existing(sheet.id, ids))  # re-created meanwhile: left as they are
            built = [domain.revalidate(sheet.schema, r, now) for r in then if r.id not in present]
            return await checked(q, sheet, built), []

        return decide


async def difference(conn: Conn, sheet: Sheet, position: int) -> Difference:
    """What changed in the sheet's records since `position`, each list in row order: the
    snapshot diff's set operations (`snapshot_diff.ids`), named as a restore undoes them."""
    found = await snapshot_diff.ids(conn, sheet.id, position)
    return Difference(created=found["createdSince"], updated=found["updatedSince"], deleted=found["deletedSince"])


async def _space_position(conn: Conn, space_id: str, as_of: str) -> str:
    """A record commit id of any sheet of the space becomes its stream position (each sheet is
    then read as of it); a time or a sequence is taken per sheet as it is."""
    if not as_of.startswith(("us_vr_", "dev_vr_")):
        return as_of
    found = await conn.fetchval(
        "SELECT c.last_seq FROM record_commit c JOIN sheet s ON s.id = c.sheet_id WHERE c.id = $1 AND s.space_id = $2",
        as_of,
        space_id,
    )
    if found is None:
        raise NotFoundError(f"version {as_of[:80]} is not a commit of space {space_id[:80]}", key="versionId")
    return str(found)
