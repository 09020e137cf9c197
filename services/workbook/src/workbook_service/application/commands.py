"""Workbook commands: find where the aggregate lives, then load -> decide -> append."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import partial

from spaceport import ids, known_spaces
from spaceport.aggregate import Folder, execute
from spaceport.contracts.space import Principal
from spaceport.contracts.workbook import (
    CreateWorkbook,
    DeleteSheet,
    DeleteWorkbook,
    LockSheet,
    UnlockSheet,
    UpdateSheet,
    UpdateWorkbook,
    WorkbookWritten,
)
from spaceport.errors import NotFoundError
from spaceport.events import Event
from spaceport.known_spaces import SpaceFact
from spaceport.ports import AggregateRef, AppendContext, EventStorePort
from workbook_service.application.ports import Places, WaitFor
from workbook_service.domain import workbook as domain
from workbook_service.domain.workbook import WorkbookState

WORKBOOKS = Folder(domain.initial, domain.evolve)
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")  # ids become subject tokens: no dots or wildcards
SheetDecide = Callable[[WorkbookState, str, str, Principal], Sequence[Event]]


def new_sheet_id() -> str:
    return ids.new_id("sheet")


class WorkbookCommands:
    """Writes of workbooks and their sheets; each answers where its last event landed.

    `places` finds an existing aggregate's scope; `spaces_caught_up` waits for the directory of
    spaces behind `places.space_fact` to reach a position.
    """

    def __init__(self, store: EventStorePort, places: Places, spaces_caught_up: WaitFor) -> None:
        self.store = store
        self.places = places
        self.spaces_caught_up = spaces_caught_up

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

    async def _on_sheet(self, sheet_id: str, principal: Principal, decide: SheetDecide) -> WorkbookWritten:
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
        done = await execute(self.store, ref, WORKBOOKS, decide, context)
        return WorkbookWritten(workbook_id=ref.aggregate_id, position=done.position)

    async def _workbook_ref(self, workbook_id: str) -> AggregateRef:
        place = await self.places.place_of_workbook(workbook_id) if _ID.match(workbook_id) else None
        if place is None:
            raise NotFoundError(f"workbook {workbook_id} not found", key="workbookId")
        return _ref(place.environment_id, place.space_id, workbook_id)

    async def _sheet_ref(self, sheet_id: str) -> AggregateRef:
        place = await self.places.place_of_sheet(sheet_id) if _ID.match(sheet_id) else None
        if place is None:
            raise NotFoundError(f"sheet {sheet_id} not found", key="sheetId")
        return _ref(place.environment_id, place.space_id, place.workbook_id)

    async def known_space(self, space_id: str) -> SpaceFact | None:
        """The space as the directory has it; a miss waits for the space's events to be projected.

        A space created a moment ago (by the space service) may not be projected here yet: its
        own stream version says how far the directory must have read.
        """
        if not _ID.match(space_id):
            return None
        fact = await self.places.space_fact(space_id)
        if fact is not None:
            return fact
        loaded = await self.store.load(known_spaces.space_ref(space_id))
        if loaded.version == 0:
            return None
        await self.spaces_caught_up(loaded.version)
        return await self.places.space_fact(space_id)


def _ref(environment_id: str, space_id: str, workbook_id: str) -> AggregateRef:
    return AggregateRef(
        environment_id=environment_id, space_id=space_id, aggregate="workbook", aggregate_id=workbook_id
    )
