"""A workbook as it was at an earlier stream position: its events up to there folded into the
views the catalog serves (`projections.catalog` builds the same views in SQL, event by event).

Pure: `fold(events)` takes one workbook's stored events in order (already cut at the position)
and gives the WorkbookView then — with its live sheets in order — or None when it did not exist
yet or was deleted by then. A `WorkbookCreated` after a `WorkbookDeleted` (a restore revives the
workbook) starts it afresh. Sheets are ordered as the catalog orders them: by an ordinal given
at a sheet's first appearance (its index in `WorkbookCreated`, else one past the highest so far)
and kept when a removed sheet is re-added.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec

from spaceport.contracts.workbook import (
    SheetAdded,
    SheetConfigChanged,
    SheetDeleted,
    SheetLocked,
    SheetSpec,
    SheetUnlocked,
    SheetView,
    WorkbookCreated,
    WorkbookDeleted,
    WorkbookUpdated,
    WorkbookView,
)
from spaceport.events import StoredEvent

replace = msgspec.structs.replace


def _sheet(spec: SheetSpec, workbook: WorkbookView, at: datetime) -> SheetView:
    return SheetView(
        id=spec.sheet_id,
        workbook_id=workbook.id,
        space_id=workbook.space_id,
        environment_id=workbook.environment_id,
        name=spec.config.name,
        slug=spec.slug,
        config=spec.config,
        metadata=spec.config.metadata,
        namespace=workbook.namespace,
        created_at=at,
        updated_at=at,
    )


def _changed(sheet: SheetView, event: object, at: datetime) -> SheetView:
    match event:
        case SheetConfigChanged() as e:
            slug = e.slug or e.config.slug or sheet.slug
            return replace(
                sheet, config=e.config, name=e.config.name, slug=slug, metadata=e.config.metadata, updated_at=at
            )
        case SheetLocked() as e:
            return replace(sheet, locked_by=e.locked_by, locked_at=at, updated_at=at)
        case SheetUnlocked():
            return replace(sheet, locked_by=None, locked_at=None, updated_at=at)
    return sheet


def fold(events: Iterable[StoredEvent]) -> WorkbookView | None:
    """The workbook after `events` (one workbook's, in order), None if absent or deleted then."""
    workbook: WorkbookView | None = None
    sheets: list[SheetView] = []
    ordinals: dict[str, int] = {}  # every sheet ever seen -> its place (as the catalog's `ordinal`)
    for stored in events:
        at, event = stored.envelope.occurred_at, stored.event
        match event:
            case WorkbookCreated() as created:
                workbook = WorkbookView(
                    id=created.workbook_id,
                    name=created.name,
                    space_id=created.space_id,
                    environment_id=created.environment_id,
                    created_at=at,
                    updated_at=at,
                    labels=created.labels,
                    actions=created.actions,
                    settings=created.settings,
                    metadata=created.metadata,
                    treatments=created.treatments,
                    namespace=created.namespace,
                )
                sheets = [_sheet(spec, workbook, at) for spec in created.sheets]
                ordinals.update({spec.sheet_id: index for index, spec in enumerate(created.sheets)})
                continue
            case WorkbookDeleted():
                workbook, sheets = None, []
                continue
        if workbook is None:
            continue
        match event:
            case WorkbookUpdated() as u:
                workbook = replace(
                    workbook,
                    name=u.name if u.name is not None else workbook.name,
                    namespace=u.namespace if u.namespace is not None else workbook.namespace,
                    labels=u.labels if u.labels is not None else workbook.labels,
                    metadata=u.metadata if u.metadata is not None else workbook.metadata,
                    settings=u.settings if u.settings is not None else workbook.settings,
                    actions=u.actions if u.actions is not None else workbook.actions,
                    updated_at=at,
                )
            case SheetAdded() as added:
                sheets.append(_sheet(added.sheet, workbook, at))
                if added.sheet.sheet_id not in ordinals:
                    ordinals[added.sheet.sheet_id] = max(ordinals.values(), default=-1) + 1
                workbook = replace(workbook, updated_at=at)
            case SheetDeleted() as gone:
                sheets = [s for s in sheets if s.id != gone.sheet_id]
                workbook = replace(workbook, updated_at=at)
            case SheetConfigChanged() | SheetLocked() | SheetUnlocked() as change:
                sheets = [_changed(s, change, at) if s.id == change.sheet_id else s for s in sheets]
                if isinstance(change, SheetConfigChanged):
                    workbook = replace(workbook, updated_at=at)
    if workbook is None:
        return None
    namespace = workbook.namespace
    ordered = sorted(sheets, key=lambda s: ordinals.get(s.id, 0))  # stable: ties keep their order
    return replace(workbook, sheets=[replace(s, namespace=namespace) for s in ordered])
