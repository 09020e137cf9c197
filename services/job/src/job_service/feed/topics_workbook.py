"""Flatfile events of workbooks, sheets, records and commits.

Record and commit events carry the sheet's bare slug in `context.sheetSlug` (record hooks match
on it) and the workbook's and space's namespaces. `commit:created` is not emitted for a write
made with `X-Disable-Hooks` (`CommitCreated.disable_hooks`): a hook's own write must not
trigger the hook again.
"""

from __future__ import annotations

from typing import Any

import msgspec

from job_service.feed.emit import Handler, Out, changes, namespaced, space_namespaces
from job_service.feed.lean import LeanRecordsInserted, LeanRecordsUpdated
from job_service.feed.lookups import Lookups, SheetInfo, WorkbookInfo
from spaceport.contracts import record, snapshot
from spaceport.contracts import workbook as wb
from spaceport.contracts.feed import FlatfileContext
from spaceport.events import Event

Json = dict[str, Any]


def _track_changes(settings: dict[str, Any] | None) -> bool:
    return bool((settings or {}).get("trackChanges"))


def workbook_context(out: Out, lookups: Lookups, workbook_id: str, **values: Any) -> FlatfileContext:
    """A context inside a workbook: its environment and space, and both namespaces."""
    info = lookups.workbook(workbook_id)
    space_id = info.space_id if info else out.stored.envelope.space_id
    space = lookups.space(space_id)
    namespaces = space_namespaces(lookups, space)
    namespaces += namespaced("workbook", info.namespace if info else None)
    environment_id = info.environment_id if info else out.stored.envelope.environment_id
    return out.context(
        environment_id=environment_id,
        space_id=space_id,
        workbook_id=workbook_id,
        namespaces=namespaces or None,
        **values,
    )


def _sheet_created(out: Out, lookups: Lookups, workbook_id: str, sheet: wb.SheetSpec) -> None:
    lookups.put("sheet", sheet.sheet_id, SheetInfo(workbook_id=workbook_id, slug=sheet.slug, name=sheet.config.name))
    context = workbook_context(out, lookups, workbook_id, sheet_id=sheet.sheet_id, sheet_slug=sheet.slug)
    payload = {
        "sheetId": sheet.sheet_id,
        "workbookId": workbook_id,
        "name": sheet.config.name,
        "slug": sheet.slug,
        "fieldCount": len(sheet.config.fields),
    }
    out.emit("sheet:created", context, payload)


def _workbook_created(e: wb.WorkbookCreated, out: Out, lookups: Lookups) -> None:
    info = WorkbookInfo(
        space_id=e.space_id,
        environment_id=e.environment_id,
        name=e.name,
        namespace=e.namespace,
        track_changes=_track_changes(e.settings),
    )
    lookups.put("workbook", e.workbook_id, info)
    payload: Json = {"workbookId": e.workbook_id, "spaceId": e.space_id, "name": e.name, "sheetCount": len(e.sheets)}
    if e.namespace:
        payload["namespace"] = e.namespace
    out.emit("workbook:created", workbook_context(out, lookups, e.workbook_id), payload)
    for sheet in e.sheets:
        _sheet_created(out, lookups, e.workbook_id, sheet)


def _workbook_updated(e: wb.WorkbookUpdated, out: Out, lookups: Lookups) -> None:
    info = lookups.workbook(e.workbook_id)
    if info is not None:
        info = msgspec.structs.replace(
            info,
            name=e.name if e.name is not None else info.name,
            namespace=e.namespace if e.namespace is not None else info.namespace,
            track_changes=_track_changes(e.settings) if e.settings is not None else info.track_changes,
        )
        lookups.put("workbook", e.workbook_id, info)
    context = workbook_context(out, lookups, e.workbook_id)
    payload = {"workbookId": e.workbook_id, "spaceId": context.space_id, "changes": changes(e)}
    out.emit("workbook:updated", context, payload)


def _workbook_deleted(e: wb.WorkbookDeleted, out: Out, lookups: Lookups) -> None:
    context = workbook_context(out, lookups, e.workbook_id)
    out.emit("workbook:deleted", context, {"workbookId": e.workbook_id, "spaceId": context.space_id})


def _sheet_added(e: wb.SheetAdded, out: Out, lookups: Lookups) -> None:
    _sheet_created(out, lookups, e.workbook_id, e.sheet)


def _sheet_context(out: Out, lookups: Lookups, workbook_id: str, sheet_id: str, **values: Any) -> FlatfileContext:
    sheet = lookups.sheet(sheet_id)
    slug = sheet.slug if sheet else None
    return workbook_context(out, lookups, workbook_id, sheet_id=sheet_id, sheet_slug=slug, **values)


def _sheet_changed(e: wb.SheetConfigChanged | wb.SheetLocked | wb.SheetUnlocked, out: Out, lookups: Lookups) -> None:
    sheet = lookups.sheet(e.sheet_id)
    if isinstance(e, wb.SheetConfigChanged) and sheet is not None:
        slug = e.slug or sheet.slug
        lookups.put("sheet", e.sheet_id, msgspec.structs.replace(sheet, slug=slug, name=e.config.name))
        details: Json = {"name": e.config.name, "slug": slug, "fieldCount": len(e.config.fields)}
    elif isinstance(e, wb.SheetLocked):
        details = {"locked": True, "lockedBy": e.locked_by}
    else:
        details = {"locked": False}
    context = _sheet_context(out, lookups, e.workbook_id, e.sheet_id)
    payload = {
        "sheetId": e.sheet_id,
        "workbookId": e.workbook_id,
        "changes": [{"type": "config_updated", "details": details}],
    }
    out.emit("sheet:updated", context, payload)


def _sheet_deleted(e: wb.SheetDeleted, out: Out, lookups: Lookups) -> None:
    sheet = lookups.sheet(e.sheet_id)
    context = _sheet_context(out, lookups, e.workbook_id, e.sheet_id)
    payload = {
        "sheetId": e.sheet_id,
        "workbookId": e.workbook_id,
        "name": sheet.name if sheet else None,
        "slug": sheet.slug if sheet else None,
    }
    out.emit("sheet:deleted", context, payload)


# ---- records and commits ------------------------------------------------------------------------

RECORD_TOPICS: dict[type[Event], str] = {
    LeanRecordsInserted: "records:created",
    LeanRecordsUpdated: "records:updated",
    record.RecordsInserted: "records:created",
    record.RecordsUpdated: "records:updated",
    record.RecordsDeleted: "records:deleted",
    record.RecordsRestored: "records:created",  # a restore's compact re-create: ids only
}


def _records(
    e: LeanRecordsInserted
    | LeanRecordsUpdated
    | record.RecordsInserted
    | record.RecordsUpdated
    | record.RecordsDeleted
    | record.RecordsRestored,
    out: Out,
    lookups: Lookups,
) -> None:
    if isinstance(e, record.RecordsDeleted | record.RecordsRestored):
        record_ids = list(e.record_ids)
    else:
        record_ids = [r.id for r in e.records]
    context = _sheet_context(out, lookups, e.workbook_id, e.sheet_id, commit_id=e.commit_id)
    payload = {"sheetId": e.sheet_id, "recordIds": record_ids, "recordCount": len(record_ids)}
    out.emit(RECORD_TOPICS[type(e)], context, payload)


def _commit_created(e: record.CommitCreated, out: Out, lookups: Lookups) -> None:
    if e.disable_hooks:
        return
    workbook = lookups.workbook(e.workbook_id)
    context = _sheet_context(out, lookups, e.workbook_id, e.sheet_id, commit_id=e.commit_id, version_id=e.commit_id)
    payload = {
        "sheetId": e.sheet_id,
        "workbookId": e.workbook_id,
        "versionId": e.commit_id,
        "commitId": e.commit_id,
        "sheetSlug": context.sheet_slug,
        "trackChanges": workbook.track_changes if workbook else False,
    }
    data_url = f"v1/sheets/{e.sheet_id}/records?commitId={e.commit_id}"
    out.emit("commit:created", context, payload, data_url=data_url)


def _commit_completed(e: record.CommitCompleted, out: Out, lookups: Lookups) -> None:
    context = _sheet_context(out, lookups, e.workbook_id, e.sheet_id, commit_id=e.commit_id, version_id=e.commit_id)
    payload = {"sheetId": e.sheet_id, "workbookId": e.workbook_id, "versionId": e.commit_id, "commitId": e.commit_id}
    out.emit("commit:completed", context, payload)


def _snapshot_created(e: snapshot.SnapshotCreated, out: Out, lookups: Lookups) -> None:
    """Reference §5.3: `{snapshotId, sheetId, workbookId, spaceId}`; a deletion has no topic."""
    context = _sheet_context(out, lookups, e.workbook_id, e.sheet_id, snapshot_id=e.snapshot_id)
    payload = {"snapshotId": e.snapshot_id, "sheetId": e.sheet_id, "workbookId": e.workbook_id, "spaceId": e.space_id}
    if e.label is not None:
        payload["label"] = e.label
    out.emit("snapshot:created", context, payload)


HANDLERS: dict[type[Event], Handler] = {
    wb.WorkbookCreated: _workbook_created,
    wb.WorkbookUpdated: _workbook_updated,
    wb.WorkbookDeleted: _workbook_deleted,
    wb.SheetAdded: _sheet_added,
    wb.SheetConfigChanged: _sheet_changed,
    wb.SheetLocked: _sheet_changed,
    wb.SheetUnlocked: _sheet_changed,
    wb.SheetDeleted: _sheet_deleted,
    **dict.fromkeys(RECORD_TOPICS, _records),
    record.CommitCreated: _commit_created,
    record.CommitCompleted: _commit_completed,
    snapshot.SnapshotCreated: _snapshot_created,
}
