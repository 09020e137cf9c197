"""A fake of the workbook service as `application.templates.WorkbookPort` sees it.

Workbooks live in a dict; a create with an idempotency key already seen answers the same
workbook (as the real service does). `refuse` names workbooks whose create fails with the given
error, so tests can drive the undo path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from spaceport import ids
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.workbook import CreateWorkbook, DeleteWorkbook, SheetView, WorkbookView, WorkbookWritten
from spaceport.errors import NotFoundError, SpaceportError


@dataclass
class FakeWorkbooks:
    live: dict[str, WorkbookView] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # (space, idempotency key) -> workbook id
    refuse: dict[str, SpaceportError] = field(default_factory=dict)  # workbook name -> the error its create raises
    creates: list[CreateWorkbook] = field(default_factory=list)
    waits: list[int] = field(default_factory=list)  # the positions `settled` was asked for
    position: int = 0

    async def workbooks(self, environment_id: str, space_id: str) -> list[WorkbookView]:
        return [w for w in self.live.values() if (w.environment_id, w.space_id) == (environment_id, space_id)]

    async def create(self, cmd: CreateWorkbook) -> WorkbookWritten:
        self.creates.append(cmd)
        if cmd.name in self.refuse:
            raise self.refuse[cmd.name]
        key = f"{cmd.space_id}:{cmd.idempotency_key}"
        if cmd.idempotency_key is not None and key in self.keys:
            return WorkbookWritten(workbook_id=self.keys[key], position=self.position)
        workbook_id = ids.new_id("workbook")
        self.keys[key] = workbook_id
        self.live[workbook_id] = self.view(workbook_id, cmd)
        return self._written(workbook_id)

    async def delete(self, cmd: DeleteWorkbook) -> WorkbookWritten:
        if self.live.pop(cmd.workbook_id, None) is None:
            raise NotFoundError(f"workbook {cmd.workbook_id} not found", key="workbookId")
        return self._written(cmd.workbook_id)

    async def settled(self, environment_id: str, space_id: str, position: int) -> None:
        self.waits.append(position)

    def view(self, workbook_id: str, cmd: CreateWorkbook) -> WorkbookView:
        at = datetime.now(UTC)
        sheets = [self._sheet(workbook_id, cmd, config, at) for config in cmd.sheets]
        return WorkbookView(
            id=workbook_id,
            name=cmd.name,
            space_id=cmd.space_id,
            environment_id=cmd.principal.environment_id,
            created_at=at,
            updated_at=at,
            sheets=sheets,
            labels=cmd.labels,
            actions=cmd.actions,
            settings=cmd.settings,
            metadata=cmd.metadata,
            treatments=cmd.treatments,
            namespace=cmd.namespace,
        )

    def _sheet(self, workbook_id: str, cmd: CreateWorkbook, config: SheetConfig, at: datetime) -> SheetView:
        return SheetView(
            id=ids.new_id("sheet"),
            workbook_id=workbook_id,
            space_id=cmd.space_id,
            environment_id=cmd.principal.environment_id,
            name=config.name,
            slug=config.slug or config.name.lower(),
            config=config,
            created_at=at,
            updated_at=at,
        )

    def _written(self, workbook_id: str) -> WorkbookWritten:
        self.position += 1
        return WorkbookWritten(workbook_id=workbook_id, position=self.position)
