"""Restore of one workbook to how it was at an earlier position: pure.

`plan(then, now, state, …)` compares the workbook then and now (both `as_of.fold`s of its own
events) and decides the ordinary events that bring it back — `WorkbookDeleted` (created since),
a second `WorkbookCreated` with the same ids (deleted since: the aggregate is revived; `evolve`
starts it afresh), or `WorkbookUpdated` with the attributes that differ and, per sheet,
`SheetDeleted` (added since), `SheetConfigChanged` (config changed since) and `SheetAdded` with
its id (removed since), in that order so slugs are freed before they are taken again. What the
events cannot express is left as it is and said in the report (`reason`); a workbook whose earlier
state no longer passes today's rules is skipped with the rule's message. Locks are not restored.
"""

from __future__ import annotations

import msgspec

from spaceport.contracts.workbook import (
    SheetAdded,
    SheetConfigChanged,
    SheetConfigRestore,
    SheetDeleted,
    SheetSpec,
    SheetView,
    WorkbookCreated,
    WorkbookDeleted,
    WorkbookRestore,
    WorkbookUpdated,
    WorkbookView,
)
from spaceport.errors import ValidationFailedError
from spaceport.events import Event
from workbook_service.domain.blueprint import check_attributes, check_sheet, check_size, check_workbook
from workbook_service.domain.workbook import WorkbookState, evolve

ATTRIBUTES = ("name", "labels", "namespace", "metadata", "settings", "actions")


class Planned(msgspec.Struct, frozen=True, kw_only=True):
    """A workbook's part of a restore (None: nothing to do) and the events that carry it out."""

    report: WorkbookRestore | None
    events: list[Event]


NOTHING = Planned(report=None, events=[])


def plan(
    then: WorkbookView | None, now: WorkbookView | None, state: WorkbookState, sheet_id: str | None = None
) -> Planned:
    """`then`/`now`: the workbook at the position and at the end of `state`'s events (None:
    absent or deleted); `sheet_id`: only that live sheet's config."""
    if sheet_id is not None:
        return _one_sheet(then, now, state, sheet_id) if now is not None else NOTHING
    if then is None and now is None:
        return NOTHING
    if then is None:
        assert now is not None
        report = WorkbookRestore(workbook_id=now.id, name=now.name, change="deleted")
        return Planned(report=report, events=[WorkbookDeleted(workbook_id=now.id)])
    if now is None:
        return _revived(then, state)
    return _checked(then, state, _updated(then, now))


def _revived(then: WorkbookView, state: WorkbookState) -> Planned:
    if not state.deleted:  # a fold says deleted but the aggregate disagrees: nothing safe to do
        return _skipped(then, "the workbook's events do not show it deleted")
    specs = [SheetSpec(sheet_id=s.id, slug=s.slug, config=s.config) for s in then.sheets or []]
    event = WorkbookCreated(
        workbook_id=then.id,
        space_id=then.space_id,
        environment_id=then.environment_id,
        name=then.name,
        sheets=specs,
        labels=then.labels,
        namespace=then.namespace,
        metadata=then.metadata,
        settings=then.settings,
        actions=then.actions,
        treatments=then.treatments,
    )
    sheets = [SheetConfigRestore(sheet_id=s.id, name=s.name, change="added") for s in then.sheets or []]
    report = WorkbookRestore(workbook_id=then.id, name=then.name, change="revived", sheets=sheets)
    try:
        check_attributes(then.labels, metadata=then.metadata, settings=then.settings, actions=then.actions)
        for index, spec in enumerate(specs):
            check_sheet(spec.config, f"sheets[{index}]")
        check_workbook([s.config for s in specs])
        check_size(event)
    except ValidationFailedError as refused:
        return _skipped(then, f"it cannot be revived: {refused.message}")
    return Planned(report=report, events=[event])


def _updated(then: WorkbookView, now: WorkbookView) -> Planned:
    changes = {a: getattr(then, a) for a in ATTRIBUTES if getattr(then, a) != getattr(now, a)}
    reason = None
    if "namespace" in changes and changes["namespace"] is None:
        del changes["namespace"]  # an update cannot clear it
        reason = f"its namespace cannot be cleared by an update: left as {now.namespace!r}"
    events: list[Event] = [WorkbookUpdated(workbook_id=now.id, **changes)] if changes else []
    sheet_reports, sheet_events = _sheets(then, now)
    if not events and not sheet_events:
        return NOTHING if reason is None else _skipped(now, reason)
    report = WorkbookRestore(
        workbook_id=now.id, name=then.name, change="updated", parts=list(changes), sheets=sheet_reports, reason=reason
    )
    return Planned(report=report, events=events + sheet_events)


def _sheets(then: WorkbookView, now: WorkbookView) -> tuple[list[SheetConfigRestore], list[Event]]:
    before = {s.id: s for s in then.sheets or []}
    after = {s.id: s for s in now.sheets or []}
    reports: list[SheetConfigRestore] = []
    removals: list[Event] = []
    changes: list[Event] = []
    additions: list[Event] = []
    for sheet in now.sheets or []:
        if sheet.id not in before:
            reports.append(SheetConfigRestore(sheet_id=sheet.id, name=sheet.name, change="removed"))
            removals.append(SheetDeleted(workbook_id=now.id, sheet_id=sheet.id))
    for sheet in then.sheets or []:
        current = after.get(sheet.id)
        if current is None:
            reports.append(SheetConfigRestore(sheet_id=sheet.id, name=sheet.name, change="added"))
            spec = SheetSpec(sheet_id=sheet.id, slug=sheet.slug, config=sheet.config)
            additions.append(SheetAdded(workbook_id=now.id, sheet=spec))
        elif parts := differences(sheet, current):
            reports.append(SheetConfigRestore(sheet_id=sheet.id, name=sheet.name, change="changed", parts=parts))
            changes.append(_config_event(now.id, sheet))
    return reports, removals + changes + additions


def _one_sheet(then: WorkbookView | None, now: WorkbookView, state: WorkbookState, sheet_id: str) -> Planned:
    current = next((s for s in now.sheets or [] if s.id == sheet_id), None)
    if current is None:
        return NOTHING
    earlier = next((s for s in (then.sheets or []) if s.id == sheet_id), None) if then is not None else None
    if earlier is None:
        skipped = SheetConfigRestore(
            sheet_id=sheet_id, name=current.name, change="skipped", reason="the sheet did not exist then"
        )
        report = WorkbookRestore(workbook_id=now.id, name=now.name, change="skipped", sheets=[skipped])
        return Planned(report=msgspec.structs.replace(report, reason="the sheet did not exist then"), events=[])
    parts = differences(earlier, current)
    if not parts:
        return NOTHING
    sheet = SheetConfigRestore(sheet_id=sheet_id, name=earlier.name, change="changed", parts=parts)
    report = WorkbookRestore(workbook_id=now.id, name=now.name, change="updated", sheets=[sheet])
    return _checked(now, state, Planned(report=report, events=[_config_event(now.id, earlier)]))


def _checked(view: WorkbookView, state: WorkbookState, planned: Planned) -> Planned:
    """The sheets after the events must pass today's rules (else the workbook is skipped)."""
    if not planned.events:
        return planned
    after = state
    try:
        for event in planned.events:
            check_size(event)
            if isinstance(event, SheetAdded | SheetConfigChanged):
                config = event.sheet.config if isinstance(event, SheetAdded) else event.config
                check_sheet(config, "sheet")
            after = evolve(after, event)
        check_workbook([s.config for s in after.sheets])
    except ValidationFailedError as refused:
        return _skipped(view, f"its earlier state does not pass today's rules: {refused.message}")
    return planned


def differences(then: SheetView, now: SheetView) -> list[str]:
    """The parts of a sheet's config (and its slug) that differ between then and now."""
    parts = [f for f in then.config.__struct_fields__ if getattr(then.config, f) != getattr(now.config, f)]
    if then.slug != now.slug and "slug" not in parts:
        parts.append("slug")
    return parts


def _config_event(workbook_id: str, then: SheetView) -> SheetConfigChanged:
    return SheetConfigChanged(workbook_id=workbook_id, sheet_id=then.id, config=then.config, slug=then.slug)


def _skipped(view: WorkbookView, reason: str) -> Planned:
    return Planned(
        report=WorkbookRestore(workbook_id=view.id, name=view.name, change="skipped", reason=reason), events=[]
    )
