"""The workbook aggregate as given-when-then over plain lists of events (no servers)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import msgspec
import pytest

from spaceport.contracts.blueprint import (
    NumberField,
    ReferenceConfig,
    ReferenceField,
    SheetConfig,
    StringField,
)
from spaceport.contracts.space import Principal
from spaceport.contracts.workbook import (
    CreateWorkbook,
    SheetAdded,
    SheetConfigChanged,
    SheetDeleted,
    SheetLocked,
    SheetPatch,
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
from workbook_service.domain import workbook as wb
from workbook_service.domain.workbook import WorkbookState

pytestmark = pytest.mark.unit

ME = Principal(environment_id="us_env_a", kind="secret", actor="us_key_1")
STRANGER = Principal(environment_id="us_env_b", kind="secret", actor="us_key_2")
SPACE = SpaceFact(space_id="us_sp_1", environment_id="us_env_a")
WB = "us_wb_1"


def ids() -> wb.NewId:
    counter = itertools.count(1)
    return lambda: f"us_sh_{next(counter)}"


def given(events: Iterable[Event]) -> WorkbookState:
    state = wb.initial()
    for event in events:
        state = wb.evolve(state, event)
    return state


def companies() -> SheetConfig:
    return SheetConfig(name="Companies", fields=[StringField(key="name"), NumberField(key="size")])


def contacts(ref: str = "companies", key: str = "name") -> SheetConfig:
    link = ReferenceField(key="company", config=ReferenceConfig(ref=ref, key=key))
    return SheetConfig(name="Contacts", fields=[StringField(key="email"), link])


def create(*sheets: SheetConfig, space: SpaceFact | None = SPACE, name: str = "Import") -> Sequence[Event]:
    cmd = CreateWorkbook(principal=ME, space_id="us_sp_1", name=name, sheets=list(sheets))
    return wb.create(wb.initial(), WB, space, cmd, ids())


def created() -> list[Event]:
    return list(create(companies(), contacts()))


def test_create_derives_slugs_and_carries_space_and_environment() -> None:
    [event] = create(companies(), contacts())
    assert isinstance(event, WorkbookCreated)
    assert (event.workbook_id, event.space_id, event.environment_id) == (WB, "us_sp_1", "us_env_a")
    assert [s.slug for s in event.sheets] == ["companies", "contacts"]
    assert [s.config.slug for s in event.sheets] == ["companies", "contacts"]
    assert [s.sheet_id for s in event.sheets] == ["us_sh_1", "us_sh_2"]


def test_create_refuses_unknown_archived_or_foreign_space() -> None:
    with pytest.raises(NotFoundError):
        create(companies(), space=None)
    with pytest.raises(NotFoundError):
        create(companies(), space=SpaceFact(space_id="us_sp_1", environment_id="us_env_b"))
    with pytest.raises(NotFoundError):
        create(companies(), space=msgspec.structs.replace(SPACE, deleted=True))
    with pytest.raises(ConflictError):
        create(companies(), space=msgspec.structs.replace(SPACE, archived=True))


def test_create_refuses_missing_or_long_name_and_bad_references() -> None:
    with pytest.raises(ValidationFailedError):
        create(companies(), name=" ")
    with pytest.raises(ValidationFailedError):
        create(companies(), name="x" * 256)
    with pytest.raises(ValidationFailedError, match="not in this workbook"):
        create(companies(), contacts(ref="firms"))
    with pytest.raises(ValidationFailedError, match="does not have"):
        create(companies(), contacts(key="title"))


def test_sheets_may_reference_each_other_in_any_order_and_themselves() -> None:
    assert create(contacts(), companies())
    selfish = SheetConfig(
        name="People",
        fields=[StringField(key="id"), ReferenceField(key="boss", config=ReferenceConfig(ref="people", key="id"))],
    )
    assert create(selfish)


def test_create_twice_conflicts() -> None:
    with pytest.raises(ConflictError):
        wb.create(given(created()), WB, SPACE, CreateWorkbook(principal=ME, space_id="us_sp_1", name="x"), ids())


def test_update_changes_attributes_adds_and_alters_sheets_by_slug() -> None:
    state = given(created())
    patches = [
        SheetPatch(slug="companies", fields=[StringField(key="name")]),  # drops `size`: allowed, data kept
        SheetPatch(name="Deals", fields=[StringField(key="title")]),
    ]
    cmd = UpdateWorkbook(principal=ME, workbook_id=WB, name="Renamed", sheets=patches)
    events = wb.update(state, cmd, ids())
    assert [type(e) for e in events] == [WorkbookUpdated, SheetConfigChanged, SheetAdded]
    after = given([*created(), *events])
    assert [s.slug for s in after.sheets] == ["companies", "contacts", "deals"]
    assert [f.key for f in after.by_slug("companies").config.fields] == ["name"]  # type: ignore[union-attr]


def test_update_with_nothing_new_emits_nothing() -> None:
    state = given(created())
    same = SheetPatch(slug="companies", fields=companies().fields)
    assert wb.update(state, UpdateWorkbook(principal=ME, workbook_id=WB, sheets=[same]), ids()) == []


def test_update_refuses_changes_that_break_a_reference() -> None:
    state = given(created())
    broken = SheetPatch(slug="companies", fields=[StringField(key="title")])
    with pytest.raises(ValidationFailedError, match="does not have"):
        wb.update(state, UpdateWorkbook(principal=ME, workbook_id=WB, sheets=[broken]), ids())
    with pytest.raises(ValidationFailedError, match="needs a name and fields"):
        wb.update(state, UpdateWorkbook(principal=ME, workbook_id=WB, sheets=[SheetPatch(slug="nope")]), ids())


def test_another_environment_sees_no_workbook() -> None:
    with pytest.raises(NotFoundError):
        wb.update(given(created()), UpdateWorkbook(principal=STRANGER, workbook_id=WB, name="x"), ids())


def test_sheet_rename_and_slug_change_are_config_changes() -> None:
    state = given(created())
    [event] = wb.update_sheet(state, WB, UpdateSheet(principal=ME, sheet_id="us_sh_2", name="People", slug="people"))
    assert isinstance(event, SheetConfigChanged)
    assert (event.slug, event.config.name, event.config.slug) == ("people", "People", "people")
    assert given([*created(), event]).sheet("us_sh_2").slug == "people"


def test_renaming_a_referenced_sheets_slug_is_refused() -> None:
    state = given(created())
    with pytest.raises(ValidationFailedError, match="not in this workbook"):
        wb.update_sheet(state, WB, UpdateSheet(principal=ME, sheet_id="us_sh_1", slug="firms"))


def test_delete_sheet_refuses_a_referenced_sheet_and_accepts_the_other() -> None:
    state = given(created())
    with pytest.raises(ValidationFailedError, match="reference"):
        wb.delete_sheet(state, WB, "us_sh_1", ME)
    assert wb.delete_sheet(state, WB, "us_sh_2", ME) == [SheetDeleted(workbook_id=WB, sheet_id="us_sh_2")]
    with pytest.raises(NotFoundError):
        wb.delete_sheet(state, WB, "us_sh_9", ME)


def test_lock_and_unlock_are_idempotent() -> None:
    state = given(created())
    [locked] = wb.lock_sheet(state, WB, "us_sh_1", ME)
    assert locked == SheetLocked(workbook_id=WB, sheet_id="us_sh_1", locked_by="us_key_1")
    state = wb.evolve(state, locked)
    assert wb.lock_sheet(state, WB, "us_sh_1", ME) == []
    [unlocked] = wb.unlock_sheet(state, WB, "us_sh_1", ME)
    assert isinstance(unlocked, SheetUnlocked)
    assert wb.unlock_sheet(wb.evolve(state, unlocked), WB, "us_sh_1", ME) == []


def test_deleted_workbook_refuses_everything() -> None:
    state = given([*created(), WorkbookDeleted(workbook_id=WB)])
    with pytest.raises(NotFoundError):
        wb.delete(state, WB, ME)
    with pytest.raises(NotFoundError):
        wb.lock_sheet(state, WB, "us_sh_1", ME)


def test_a_sheet_update_by_id_with_a_whole_config_may_rename_the_slug() -> None:
    state = given(created())
    whole = SheetConfig(name="People", slug="people", fields=contacts().fields)
    [event] = wb.update(
        state, UpdateWorkbook(principal=ME, workbook_id=WB, sheets=[SheetPatch(id="us_sh_2", config=whole)]), ids()
    )
    assert isinstance(event, SheetConfigChanged)
    assert (event.sheet_id, event.slug, event.config.name) == ("us_sh_2", "people", "People")
    with pytest.raises(NotFoundError):
        wb.update(state, UpdateWorkbook(principal=ME, workbook_id=WB, sheets=[SheetPatch(id="us_sh_9")]), ids())
