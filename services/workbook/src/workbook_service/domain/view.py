"""View aggregate (a saved filter, search and sort of one sheet): pure state, evolve and decide.

The decide functions are given the sheet as the workbook aggregate has it now (`SheetFacts`), so
a config that names a field checks it against the sheet's current field keys. A view outlives
nothing: once its sheet (or workbook) is deleted it is neither read nor written again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import msgspec

from spaceport.contracts.space import Principal
from spaceport.contracts.view import CreateView, UpdateView, ViewConfig, ViewCreated, ViewDeleted, ViewUpdated
from spaceport.errors import ConflictError, NotFoundError, ValidationFailedError
from spaceport.events import Event
from spaceport.ids import PREFIXES

MAX_NAME = 255
MAX_TEXT = 10_000  # q and searchValue
MAX_IDS = 100  # Flatfile's limit for `ids`
MAX_PAGE_SIZE = 50_000  # the record service's (Flatfile's maximum)
FIELD_KEYS = ("sort_field", "filter_field", "search_field")
ID_KINDS = {
    "version_id": "commit",
    "commit_id": "commit",
    "since_version_id": "commit",
    "since_commit_id": "commit",
    "for_": "event",
}
_SHOWN_KEYS = 20


class SheetFacts(msgspec.Struct, frozen=True, kw_only=True):
    """The sheet a view belongs to, as its workbook aggregate has it."""

    sheet_id: str
    workbook_id: str
    space_id: str
    environment_id: str
    field_keys: frozenset[str]


class ViewState(msgspec.Struct, frozen=True, kw_only=True):
    exists: bool = False
    deleted: bool = False
    sheet_id: str = ""
    environment_id: str = ""
    name: str = ""
    config: ViewConfig = ViewConfig()


def initial() -> ViewState:
    return ViewState()


def evolve(state: ViewState, event: Event) -> ViewState:
    match event:
        case ViewCreated() as e:
            return ViewState(
                exists=True, sheet_id=e.sheet_id, environment_id=e.environment_id, name=e.name, config=e.config
            )
        case ViewUpdated() as e:
            name = state.name if e.name is None else e.name
            config = state.config if e.config is None else e.config
            return msgspec.structs.replace(state, name=name, config=config)
        case ViewDeleted():
            return msgspec.structs.replace(state, deleted=True)
    return state


# ---- rules -------------------------------------------------------------------------------


def check_name(name: str) -> None:
    if not name.strip():
        raise ValidationFailedError("name is required: a view needs a non-blank name", key="name")
    if len(name) > MAX_NAME:
        raise ValidationFailedError(f"name is longer than {MAX_NAME} characters", key="name")


def check_config(config: ViewConfig, field_keys: frozenset[str]) -> None:
    """Every field the config names is a key of the sheet; ids look like ids; numbers and texts bounded."""
    for attribute in FIELD_KEYS:
        named = getattr(config, attribute)
        if named is not None and named not in field_keys:
            raise ValidationFailedError(
                f"config.{_camel(attribute)} names {named!r}, which is not a field of the sheet"
                f" (its fields: {_listed(field_keys)})",
                key=f"config.{_camel(attribute)}",
            )
    for attribute, kind in ID_KINDS.items():
        _check_id(getattr(config, attribute), kind, "for" if attribute == "for_" else _camel(attribute))
    _check_ids(config.ids)
    _check_numbers(config)
    for attribute in ("q", "search_value"):
        text = getattr(config, attribute)
        if text is not None and len(text) > MAX_TEXT:
            raise ValidationFailedError(
                f"config.{_camel(attribute)} is longer than {MAX_TEXT} characters", key=f"config.{_camel(attribute)}"
            )


def _check_numbers(config: ViewConfig) -> None:
    if config.page_size is not None and not 1 <= config.page_size <= MAX_PAGE_SIZE:
        raise ValidationFailedError(f"config.pageSize must be between 1 and {MAX_PAGE_SIZE}", key="config.pageSize")
    if config.page_number is not None and not 1 <= config.page_number <= 2**31 - 1:
        raise ValidationFailedError("config.pageNumber must be 1 or more", key="config.pageNumber")


def _check_ids(record_ids: list[str] | None) -> None:
    if record_ids is None:
        return
    if len(record_ids) > MAX_IDS:
        raise ValidationFailedError(f"config.ids holds more than {MAX_IDS} record ids", key="config.ids")
    for index, record_id in enumerate(record_ids):
        _check_id(record_id, "record", f"ids[{index}]")


def _check_id(value: str | None, kind: str, wire: str) -> None:
    if value is not None and not _id_pattern(kind).match(value):
        raise ValidationFailedError(f"config.{wire} {value[:80]!r} is not a {kind} id", key=f"config.{wire}")


def _id_pattern(kind: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(PREFIXES[kind])}_[A-Za-z0-9]{{1,200}}$")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _listed(keys: Iterable[str]) -> str:
    ordered = sorted(keys)
    shown = ", ".join(ordered[:_SHOWN_KEYS]) or "none"
    return shown + (f" and {len(ordered) - _SHOWN_KEYS} more" if len(ordered) > _SHOWN_KEYS else "")


# ---- decide ------------------------------------------------------------------------------


def require_sheet(sheet: SheetFacts | None, sheet_id: str, principal: Principal) -> SheetFacts:
    """The sheet is live and in the caller's environment (else 404 `sheetId`, never 403)."""
    if sheet is None or sheet.environment_id != principal.environment_id:
        raise NotFoundError(f"sheet {sheet_id} not found", key="sheetId")
    return sheet


def require_live(state: ViewState, view_id: str, principal: Principal) -> None:
    if not state.exists or state.deleted or state.environment_id != principal.environment_id:
        raise NotFoundError(f"view {view_id} not found", key="viewId")


def create(state: ViewState, view_id: str, sheet: SheetFacts | None, cmd: CreateView) -> list[Event]:
    if state.exists:
        raise ConflictError(f"view {view_id} already exists", key="viewId")
    facts = require_sheet(sheet, cmd.sheet_id, cmd.principal)
    check_name(cmd.name)
    check_config(cmd.config, facts.field_keys)
    return [
        ViewCreated(
            view_id=view_id,
            sheet_id=facts.sheet_id,
            workbook_id=facts.workbook_id,
            space_id=facts.space_id,
            environment_id=facts.environment_id,
            name=cmd.name,
            config=cmd.config,
            created_by=cmd.principal.actor,
        )
    ]


def update(state: ViewState, sheet: SheetFacts | None, cmd: UpdateView) -> list[Event]:
    """A rename and/or a whole new config; nothing when neither changes anything."""
    require_live(state, cmd.view_id, cmd.principal)
    if sheet is None:  # the sheet went away: so did its views
        raise NotFoundError(f"view {cmd.view_id} not found", key="viewId")
    if cmd.name is not None:
        check_name(cmd.name)
    if cmd.config is not None:
        check_config(cmd.config, sheet.field_keys)
    name = cmd.name if cmd.name is not None and cmd.name != state.name else None
    config = cmd.config if cmd.config is not None and cmd.config != state.config else None
    if name is None and config is None:
        return []
    return [ViewUpdated(view_id=cmd.view_id, name=name, config=config)]


def delete(state: ViewState, view_id: str, principal: Principal) -> list[Event]:
    require_live(state, view_id, principal)
    return [ViewDeleted(view_id=view_id)]
