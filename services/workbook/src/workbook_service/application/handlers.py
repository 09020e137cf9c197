"""Command handlers: look up where the aggregate lives, then load -> decide -> append."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import partial

from spaceport import ids
from spaceport.aggregate import Folder, execute
from spaceport.contracts.space import Principal
from spaceport.contracts.workbook import (
    CreateWorkbook,
    DeleteSheet,
    DeleteWorkbook,
    GetSheet,
    GetWorkbook,
    ListSheets,
    ListWorkbooks,
    LockSheet,
    UnlockSheet,
    UpdateSheet,
    UpdateWorkbook,
    WorkbookWritten,
)
from spaceport.errors import NotFoundError
from spaceport.events import Event
from spaceport.eventstore import AggregateRef, AppendContext
from spaceport.runtime import ServiceRuntime
from workbook_service.application.queries import WorkbookQueries
from workbook_service.domain import workbook as domain
from workbook_service.domain.workbook import SpaceFact, WorkbookState

WORKBOOKS = Folder(domain.initial, domain.evolve)
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")  # ids become subject tokens: no dots or wildcards


def new_sheet_id() -> str:
    return ids.new_id("sheet")


class WorkbookHandlers:
    """The workbook service's use cases, bound to one runtime."""

    def __init__(self, runtime: ServiceRuntime, known_spaces: str) -> None:
        self.runtime = runtime
        self.queries = WorkbookQueries(runtime)
        self.known_spaces = known_spaces  # the KnownSpaces projection's name

    def register(self) -> None:
        rpc = self.runtime.rpc
        rpc.handle(CreateWorkbook)(self.create_workbook)
        rpc.handle(UpdateWorkbook)(self.update_workbook)
        rpc.handle(DeleteWorkbook)(self.delete_workbook)
        rpc.handle(UpdateSheet)(self.update_sheet)
        rpc.handle(DeleteSheet)(self.delete_sheet)
        rpc.handle(LockSheet)(self.lock_sheet)
        rpc.handle(UnlockSheet)(self.unlock_sheet)
        rpc.handle(GetWorkbook)(self.queries.get_workbook)
        rpc.handle(ListWorkbooks)(self.queries.list_workbooks)
        rpc.handle(GetSheet)(self.queries.get_sheet)
        rpc.handle(ListSheets)(self.queries.list_sheets)

    # ---- workbooks ----------------------------------------------------------------------

    async def create_workbook(self, cmd: CreateWorkbook) -> WorkbookWritten:
        space = await self.known_space(cmd.space_id)
        key = cmd.idempotency_key
        seed = f"{cmd.principal.environment_id}:{cmd.space_id}:{key}"
        workbook_id = ids.derived_id("workbook", seed) if key else ids.new_id("workbook")
        if space is None:  # refuse before touching the store with an unknown space's subjects
            domain.require_space(space, cmd.principal, cmd.space_id)
        ref = _ref(cmd.principal.environment_id, cmd.space_id, workbook_id)
        decide = partial(domain.create, workbook_id=workbook_id, space=space, cmd=cmd, new_id=new_sheet_id)
        return await self._execute(ref, decide, cmd.principal, key)

    async def update_workbook(self, cmd: UpdateWorkbook) -> WorkbookWritten:
        ref = await self._workbook_ref(cmd.workbook_id)
        decide = partial(domain.update, cmd=cmd, new_id=new_sheet_id)
        return await self._execute(ref, decide, cmd.principal, cmd.idempotency_key)

    async def delete_workbook(self, cmd: DeleteWorkbook) -> WorkbookWritten:
        ref = await self._workbook_ref(cmd.workbook_id)
        return await self._execute(ref, lambda s: domain.delete(s, cmd.workbook_id, cmd.principal), cmd.principal)

    # ---- sheets -------------------------------------------------------------------------

    async def update_sheet(self, cmd: UpdateSheet) -> WorkbookWritten:
        ref = await self._sheet_ref(cmd.sheet_id)
        return await self._execute(ref, lambda s: domain.update_sheet(s, ref.aggregate_id, cmd), cmd.principal)

    async def delete_sheet(self, cmd: DeleteSheet) -> WorkbookWritten:
        return await self._on_sheet(cmd.sheet_id, cmd.principal, domain.delete_sheet)

    async def lock_sheet(self, cmd: LockSheet) -> WorkbookWritten:
        return await self._on_sheet(cmd.sheet_id, cmd.principal, domain.lock_sheet)

    async def unlock_sheet(self, cmd: UnlockSheet) -> WorkbookWritten:
        return await self._on_sheet(cmd.sheet_id, cmd.principal, domain.unlock_sheet)

    async def _on_sheet(
        self,
        sheet_id: str,
        principal: Principal,
        decide: Callable[[WorkbookState, str, str, Principal], Sequence[Event]],
    ) -> WorkbookWritten:
        ref = await self._sheet_ref(sheet_id)
        return await self._execute(ref, lambda s: decide(s, ref.aggregate_id, sheet_id, principal), principal)

    # ---- plumbing -----------------------------------------------------------------------

    async def _execute(
        self,
        ref: AggregateRef,
        decide: Callable[[WorkbookState], Sequence[Event]],
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> WorkbookWritten:
        context = AppendContext(actor=principal.actor, idempotency_key=idempotency_key)
        done = await execute(self.runtime.store, ref, WORKBOOKS, decide, context)
        position = done.result.last_seq if done.result is not None else 0
        return WorkbookWritten(workbook_id=ref.aggregate_id, position=position)

    async def _workbook_ref(self, workbook_id: str) -> AggregateRef:
        place = await self.queries.place_of_workbook(workbook_id) if _ID.match(workbook_id) else None
        if place is None:
            raise NotFoundError(f"workbook {workbook_id} not found", key="workbookId")
        return _ref(place.environment_id, place.space_id, workbook_id)

    async def _sheet_ref(self, sheet_id: str) -> AggregateRef:
        place = await self.queries.place_of_sheet(sheet_id) if _ID.match(sheet_id) else None
        if place is None:
            raise NotFoundError(f"sheet {sheet_id} not found", key="sheetId")
        return _ref(place.environment_id, place.space_id, place.workbook_id)

    async def known_space(self, space_id: str) -> SpaceFact | None:
        """The space as KnownSpaces has it; a miss waits for the space's events to be projected.

        A space created a moment ago (by the space service) may not be projected here yet: its
        own stream version says how far the directory must have read.
        """
        if not _ID.match(space_id):
            return None
        fact = await self.queries.space_fact(space_id)
        if fact is not None:
            return fact
        loaded = await self.runtime.store.load(
            AggregateRef(environment_id="", space_id=space_id, aggregate="space", aggregate_id=space_id)
        )
        if loaded.version == 0:
            return None
        await self.runtime.runner(self.known_spaces).wait_for(loaded.version)
        return await self.queries.space_fact(space_id)


def _ref(environment_id: str, space_id: str, workbook_id: str) -> AggregateRef:
    return AggregateRef(
        environment_id=environment_id, space_id=space_id, aggregate="workbook", aggregate_id=workbook_id
    )
