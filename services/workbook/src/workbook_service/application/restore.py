"""`RestoreWorkbooks`: per workbook of the space, load its events -> fold then and now ->
`domain.restore.plan` -> one append guarded by its version (a conflict decides again).

The workbooks are those whose events are under the space's subject tree (deleted ones
included); no read model is asked, so a restore never acts on a lagging catalog. A rerun
recomputes the difference, so no idempotency key is needed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec

from spaceport.aggregate import Append, Decision, run_command
from spaceport.contracts.workbook import RestoreWorkbooks, WorkbookRestore, WorkbooksRestored
from spaceport.errors import ForbiddenError, NotFoundError
from spaceport.events import StoredEvent
from spaceport.ports import AggregateRef, AppendContext, AppendResult, EventStorePort
from workbook_service.application.commands import WORKBOOKS, WorkbookCommands
from workbook_service.application.ports import WaitFor
from workbook_service.application.queries import moment
from workbook_service.domain import restore as domain
from workbook_service.domain import workbook
from workbook_service.domain.as_of import fold

Moment = tuple[int | None, datetime | None]  # a stream sequence or a time (`queries.moment`)


class WorkbookRestores:
    """`caught_up` waits for the catalog: an executed restore answers once its reads show it."""

    def __init__(self, store: EventStorePort, commands: WorkbookCommands, caught_up: WaitFor) -> None:
        self.store = store
        self.commands = commands
        self.caught_up = caught_up

    async def restore(self, cmd: RestoreWorkbooks) -> WorkbooksRestored:
        if cmd.principal.kind != "secret":
            raise ForbiddenError("restoring workbooks takes a secret key of the environment")
        workbook.require_space(await self.commands.known_space(cmd.space_id), cmd.principal, cmd.space_id)
        up_to = moment(cmd.as_of)
        before = await self.store.last_seq()
        reports: list[WorkbookRestore] = []
        for workbook_id in await self._workbooks(cmd):
            report = await self._restore_one(cmd, workbook_id, up_to)
            if report is not None:
                reports.append(report)
        position = max((r.position for r in reports), default=0)
        if position:
            await self.caught_up(position)
        return WorkbooksRestored(
            space_id=cmd.space_id, preview=cmd.preview, before=before, position=position, workbooks=reports
        )

    async def _workbooks(self, cmd: RestoreWorkbooks) -> list[str]:
        """The space's workbooks ever, in order of creation; one, with `workbook_id`/`sheet_id`."""
        if cmd.sheet_id is not None:
            place = await self.commands.places.place_of_sheet(cmd.sheet_id)
            if place is None or place.space_id != cmd.space_id:
                raise NotFoundError(
                    f"sheet {cmd.sheet_id[:80]} is not a sheet of space {cmd.space_id[:80]}", key="sheetId"
                )
            return [place.workbook_id]
        found: dict[str, None] = {}
        async for stored in self.store.read(f"{self.store.prefix}.{cmd.space_id}.workbook.>"):
            found.setdefault(stored.envelope.aggregate_id, None)
        if cmd.workbook_id is not None:
            if cmd.workbook_id not in found:
                raise NotFoundError(
                    f"workbook {cmd.workbook_id[:80]} is not a workbook of space {cmd.space_id[:80]}", key="workbookId"
                )
            return [cmd.workbook_id]
        return list(found)

    async def _restore_one(self, cmd: RestoreWorkbooks, workbook_id: str, up_to: Moment) -> WorkbookRestore | None:
        ref = AggregateRef(
            environment_id=cmd.principal.environment_id,
            space_id=cmd.space_id,
            aggregate="workbook",
            aggregate_id=workbook_id,
        )
        decided: list[domain.Planned] = []

        async def attempt() -> Decision[WorkbookRestore | None]:
            loaded = await self.store.load(ref)
            then = fold(_cut(loaded.events, up_to))
            planned = domain.plan(then, fold(loaded.events), WORKBOOKS.fold(loaded), cmd.sheet_id)
            decided.append(planned)
            return Append(planned.report, [] if cmd.preview else planned.events, loaded.version)

        async def landed(result: AppendResult) -> WorkbookRestore | None:  # a lost ack: it landed
            return _at(decided[-1].report, result.last_seq)

        context = AppendContext(actor=cmd.principal.actor)
        done = await run_command(self.store, ref, attempt, context, landed=landed)
        return _at(done.value, done.result.last_seq if done.result is not None else 0)


def _cut(events: Iterable[StoredEvent], up_to: Moment) -> list[StoredEvent]:
    seq, time = up_to
    return [e for e in events if (seq is None or e.seq <= seq) and (time is None or e.envelope.occurred_at <= time)]


def _at(report: WorkbookRestore | None, position: int) -> WorkbookRestore | None:
    if report is None or position == 0:
        return report
    return msgspec.structs.replace(report, position=position)
