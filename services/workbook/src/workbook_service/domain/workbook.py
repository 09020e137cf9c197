"""Workbook aggregate: pure state, evolve and decide. A workbook's sheets live inside it.

Config-change policy: a change that removes a field or changes its type is accepted. Nothing
is destroyed: records keep their values for keys the sheet no longer has (hidden, not shown)
and they reappear if a field with that key comes back; a changed type only changes how values
are validated. The event log keeps every earlier blueprint.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import msgspec

from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.space import Principal
from spaceport.contracts.workbook import (
    CreateWorkbook,
    SheetAdded,
    SheetConfigChanged,
    SheetDeleted,
    SheetLocked,
    SheetPatch,
    SheetSpec,
    SheetUnlocked,
    UpdateSheet,
    UpdateWorkbook,
    WorkbookCreated,
    WorkbookDeleted,
    WorkbookUpdated,
)
from spaceport.errors import ConflictError, NotFoundError, ValidationFailedError
from spaceport.events import Event
from spaceport.known_spaces import SpaceFact
from workbook_service.domain.blueprint import (
    check_attributes,
    check_name,
    check_sheet,
    check_size,
    check_workbook,
    with_slug,
)

NewId = Callable[[], str]


class SheetState(msgspec.Struct, frozen=True, kw_only=True):
    sheet_id: str
    slug: str
    config: SheetConfig
    locked_by: str | None = None


class WorkbookState(msgspec.Struct, frozen=True, kw_only=True):
    exists: bool = False
    deleted: bool = False
    space_id: str = ""
    environment_id: str = ""
    sheets: tuple[SheetState, ...] = ()

    def sheet(self, sheet_id: str) -> SheetState:
        for sheet in self.sheets:
            if sheet.sheet_id == sheet_id:
                return sheet
        raise NotFoundError(f"sheet {sheet_id} not found", key="sheetId")

    def by_slug(self, slug: str) -> SheetState | None:
        return next((s for s in self.sheets if s.slug == slug), None)


def initial() -> WorkbookState:
    return WorkbookState()


def evolve(state: WorkbookState, event: Event) -> WorkbookState:
    match event:
        case WorkbookCreated() as e:
            sheets = tuple(SheetState(sheet_id=s.sheet_id, slug=s.slug, config=s.config) for s in e.sheets)
            return WorkbookState(exists=True, space_id=e.space_id, environment_id=e.environment_id, sheets=sheets)
        case SheetAdded(sheet=s):
            added = SheetState(sheet_id=s.sheet_id, slug=s.slug, config=s.config)
            return msgspec.structs.replace(state, sheets=(*state.sheets, added))
        case SheetConfigChanged() | SheetLocked() | SheetUnlocked() as e:
            return _with_sheet(state, e.sheet_id, partial(_evolve_sheet, event=e))
        case SheetDeleted() as e:
            return msgspec.structs.replace(state, sheets=tuple(s for s in state.sheets if s.sheet_id != e.sheet_id))
        case WorkbookDeleted():
            return msgspec.structs.replace(state, deleted=True)
    return state


def _evolve_sheet(sheet: SheetState, event: SheetConfigChanged | SheetLocked | SheetUnlocked) -> SheetState:
    match event:
        case SheetConfigChanged():
            slug = event.slug or event.config.slug or sheet.slug
            return msgspec.structs.replace(sheet, slug=slug, config=event.config)
        case SheetLocked():
            return msgspec.structs.replace(sheet, locked_by=event.locked_by)
    return msgspec.structs.replace(sheet, locked_by=None)


def _with_sheet(state: WorkbookState, sheet_id: str, change: Callable[[SheetState], SheetState]) -> WorkbookState:
    sheets = tuple(change(s) if s.sheet_id == sheet_id else s for s in state.sheets)
    return msgspec.structs.replace(state, sheets=sheets)


# ---- decide ------------------------------------------------------------------------------


def require_space(space: SpaceFact | None, principal: Principal, space_id: str) -> SpaceFact:
    """The space must be known, live and in the caller's environment (else 404, not 403)."""
    if space is None or space.deleted or space.environment_id != principal.environment_id:
        raise NotFoundError(f"space {space_id} not found", key="spaceId")
    if space.archived:
        raise ConflictError(f"space {space_id} is archived; unarchive it to add workbooks", key="spaceId")
    return space


def require_live(state: WorkbookState, workbook_id: str, principal: Principal) -> None:
    if not state.exists or state.deleted or state.environment_id != principal.environment_id:
        raise NotFoundError(f"workbook {workbook_id} not found", key="workbookId")


def create(
    state: WorkbookState, workbook_id: str, space: SpaceFact | None, cmd: CreateWorkbook, new_id: NewId
) -> list[Event]:
    if state.exists:
        raise ConflictError(f"workbook {workbook_id} already exists")
    require_space(space, cmd.principal, cmd.space_id)
    check_name(cmd.name, "a workbook", "name")
    check_attributes(cmd.labels, metadata=cmd.metadata, settings=cmd.settings, actions=cmd.actions)
    configs = [with_slug(c) for c in cmd.sheets]
    for index, config in enumerate(configs):
        check_sheet(config, f"sheets[{index}]")
    check_workbook(configs)
    specs = [SheetSpec(sheet_id=new_id(), slug=c.slug or "", config=c) for c in configs]
    event = WorkbookCreated(
        workbook_id=workbook_id,
        space_id=cmd.space_id,
        environment_id=cmd.principal.environment_id,
        name=cmd.name,
        sheets=specs,
        labels=cmd.labels,
        namespace=cmd.namespace,
        metadata=cmd.metadata,
        settings=cmd.settings,
        actions=cmd.actions,
        treatments=cmd.treatments,
    )
    check_size(event)
    return [event]


def update(state: WorkbookState, cmd: UpdateWorkbook, new_id: NewId) -> list[Event]:
    """Workbook attributes, then sheets: a patch whose slug names a sheet changes it, else adds one."""
    require_live(state, cmd.workbook_id, cmd.principal)
    events: list[Event] = []
    if cmd.name is not None:
        check_name(cmd.name, "a workbook", "name")
    check_attributes(cmd.labels, metadata=cmd.metadata, settings=cmd.settings, actions=cmd.actions)
    changed = WorkbookUpdated(
        workbook_id=cmd.workbook_id,
        name=cmd.name,
        labels=cmd.labels,
        namespace=cmd.namespace,
        metadata=cmd.metadata,
        settings=cmd.settings,
        actions=cmd.actions,
    )
    if changed != WorkbookUpdated(workbook_id=cmd.workbook_id):
        events.append(changed)
    events += _sheet_patches(state, cmd.workbook_id, cmd.sheets or [], new_id)
    for event in events:
        check_size(event)
    return events


def _sheet_patches(state: WorkbookState, workbook_id: str, patches: list[SheetPatch], new_id: NewId) -> list[Event]:
    slugs = [p.slug for p in patches if p.slug]
    if len(slugs) != len(set(slugs)):
        raise ValidationFailedError("two sheet updates name the same slug", key="sheets")
    events: list[Event] = []
    after = state
    for index, patch in enumerate(patches):
        event = _sheet_patch(after, workbook_id, patch, f"sheets[{index}]", new_id)
        if event is not None:
            events.append(event)
            after = evolve(after, event)
    if events:
        check_workbook([s.config for s in after.sheets])
    return events


def _sheet_patch(state: WorkbookState, workbook_id: str, given: SheetPatch, path: str, new_id: NewId) -> Event | None:
    patch = _flattened(given)
    if patch.id is not None:
        existing: SheetState | None = state.sheet(patch.id)
    else:
        existing = state.by_slug(patch.slug) if patch.slug else None
    if existing is None:
        return SheetAdded(workbook_id=workbook_id, sheet=_new_sheet(patch, path, new_id))
    config = _merged(existing.config, patch, rename=patch.id is not None)
    check_sheet(config, path)
    if config == existing.config:
        return None
    slug = config.slug if config.slug != existing.slug else None
    return SheetConfigChanged(workbook_id=workbook_id, sheet_id=existing.sheet_id, config=config, slug=slug)


_PATCHABLE = tuple(f for f in SheetPatch.__struct_fields__ if f not in {"id", "config"})


def _flattened(patch: SheetPatch) -> SheetPatch:
    """A `SheetUpdate`-style patch (`config` inside) as plain top-level keys."""
    if patch.config is None:
        return patch
    base = {f: getattr(patch.config, f) for f in _PATCHABLE}
    top = {f: v for f in _PATCHABLE if (v := getattr(patch, f)) is not None}
    return SheetPatch(id=patch.id, **{**base, **top})


def _new_sheet(patch: SheetPatch, path: str, new_id: NewId) -> SheetSpec:
    if patch.name is None or patch.fields is None:
        raise ValidationFailedError(
            f"sheet {patch.slug or patch.name!r} is not in the workbook; a new sheet needs a name and fields",
            key=f"{path}.fields" if patch.name else f"{path}.name",
        )
    given = {f: v for f in _PATCHABLE if (v := getattr(patch, f)) is not None}
    config = with_slug(SheetConfig(**given))
    check_sheet(config, path)
    return SheetSpec(sheet_id=new_id(), slug=config.slug or "", config=config)


def _merged(config: SheetConfig, patch: SheetPatch, *, rename: bool) -> SheetConfig:
    """`slug` identifies the sheet unless it was matched by id; then it renames it."""
    keep = set() if rename else {"slug"}
    changes = {f: v for f in _PATCHABLE if f not in keep and (v := getattr(patch, f)) is not None}
    return msgspec.structs.replace(config, **changes)


def update_sheet(state: WorkbookState, workbook_id: str, cmd: UpdateSheet) -> list[Event]:
    """PATCH /sheets/{id}: name, slug and metadata, recorded as a config change."""
    require_live(state, workbook_id, cmd.principal)
    sheet = state.sheet(cmd.sheet_id)
    changes = {"name": cmd.name, "slug": cmd.slug, "metadata": cmd.metadata}
    config = msgspec.structs.replace(sheet.config, **{k: v for k, v in changes.items() if v is not None})
    if config == sheet.config:
        return []
    check_sheet(config, "sheet")
    event = SheetConfigChanged(workbook_id=workbook_id, sheet_id=sheet.sheet_id, config=config, slug=config.slug)
    check_workbook([s.config for s in evolve(state, event).sheets])
    return [event]


def delete_sheet(state: WorkbookState, workbook_id: str, sheet_id: str, principal: Principal) -> list[Event]:
    require_live(state, workbook_id, principal)
    state.sheet(sheet_id)
    event = SheetDeleted(workbook_id=workbook_id, sheet_id=sheet_id)
    remaining = evolve(state, event)
    try:
        check_workbook([s.config for s in remaining.sheets])
    except ValidationFailedError as error:
        message = f"the sheet cannot be deleted while other sheets reference it: {error.message}"
        raise ValidationFailedError(message, key="sheetId") from None
    return [event]


def lock_sheet(state: WorkbookState, workbook_id: str, sheet_id: str, principal: Principal) -> list[Event]:
    require_live(state, workbook_id, principal)
    if state.sheet(sheet_id).locked_by is not None:
        return []
    return [SheetLocked(workbook_id=workbook_id, sheet_id=sheet_id, locked_by=principal.actor)]


def unlock_sheet(state: WorkbookState, workbook_id: str, sheet_id: str, principal: Principal) -> list[Event]:
    require_live(state, workbook_id, principal)
    if state.sheet(sheet_id).locked_by is None:
        return []
    return [SheetUnlocked(workbook_id=workbook_id, sheet_id=sheet_id)]


def delete(state: WorkbookState, workbook_id: str, principal: Principal) -> list[Event]:
    require_live(state, workbook_id, principal)
    return [WorkbookDeleted(workbook_id=workbook_id)]
