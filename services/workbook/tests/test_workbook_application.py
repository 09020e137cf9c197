"""The workbook commands on the in-memory event store and folded places: no servers, milliseconds.

Each test drives `WorkbookCommands` as the RPC entrypoint would and checks the events that landed
in the store and the reply (or the refusal a client gets today).
"""

from __future__ import annotations

import pytest

from spaceport.contracts.blueprint import SheetConfig, StringField
from spaceport.contracts.space import Principal, SpaceArchived, SpaceDeleted
from spaceport.contracts.workbook import (
    CreateWorkbook,
    DeleteSheet,
    DeleteWorkbook,
    LockSheet,
    SheetAdded,
    SheetConfigChanged,
    SheetDeleted,
    SheetLocked,
    SheetPatch,
    SheetUnlocked,
    UnlockSheet,
    UpdateSheet,
    UpdateWorkbook,
    WorkbookCreated,
    WorkbookDeleted,
    WorkbookUpdated,
)
from spaceport.errors import ConflictError, NotFoundError, ServiceUnavailableError
from spaceport.events import Event
from spaceport.memstore import InMemoryEventStore
from workbook_service.application.commands import WorkbookCommands
from workbook_service.testing import REGISTRY, FoldedPlaces, given_space, workbook_events

pytestmark = pytest.mark.unit

ENV = "us_env_a"
SPACE = "us_sp_1"
ME = Principal(environment_id=ENV, kind="secret", actor="us_key_1")
STRANGER = Principal(environment_id="us_env_b", kind="secret", actor="us_key_2")
CONTACTS = SheetConfig(name="Contacts", fields=[StringField(key="email")])


def commands(store: InMemoryEventStore, *, lagging: bool = False) -> WorkbookCommands:
    places = FoldedPlaces(store, lagging=lagging)
    return WorkbookCommands(store, places, places.catch_up)


async def with_workbook(store: InMemoryEventStore) -> tuple[WorkbookCommands, str, str]:
    """A space, and a workbook with one sheet in it: (commands, workbook id, sheet id)."""
    await given_space(store, ENV, SPACE)
    app = commands(store)
    written = await app.create_workbook(CreateWorkbook(principal=ME, space_id=SPACE, name="Book", sheets=[CONTACTS]))
    created = (await workbook_events(store))[0]
    assert isinstance(created, WorkbookCreated)
    return app, written.workbook_id, created.sheets[0].sheet_id


# ---- create ------------------------------------------------------------------------------


async def test_create_appends_the_workbook_with_its_sheets_and_answers_where_it_landed() -> None:
    store = InMemoryEventStore(REGISTRY)
    await given_space(store, ENV, SPACE)
    written = await commands(store).create_workbook(
        CreateWorkbook(principal=ME, space_id=SPACE, name="Book", sheets=[CONTACTS])
    )
    [created] = await workbook_events(store)
    assert isinstance(created, WorkbookCreated)
    assert (created.workbook_id, created.space_id, created.environment_id) == (written.workbook_id, SPACE, ENV)
    assert [s.slug for s in created.sheets] == ["contacts"]
    assert written.position == await store.last_seq()


async def test_create_with_the_same_key_answers_the_same_workbook_and_appends_once() -> None:
    store = InMemoryEventStore(REGISTRY)
    await given_space(store, ENV, SPACE)
    cmd = CreateWorkbook(principal=ME, space_id=SPACE, name="Book", idempotency_key="k1")
    first = await commands(store).create_workbook(cmd)
    again = await commands(store).create_workbook(cmd)
    assert again == first
    assert len(await workbook_events(store)) == 1


async def test_a_create_whose_ack_was_lost_is_answered_from_the_stored_events_on_retry() -> None:
    store = InMemoryEventStore(REGISTRY)
    await given_space(store, ENV, SPACE)
    cmd = CreateWorkbook(principal=ME, space_id=SPACE, name="Book", idempotency_key="k1")
    store.lose_next_acks(1)
    with pytest.raises(ServiceUnavailableError):
        await commands(store).create_workbook(cmd)
    retried = await commands(store).create_workbook(cmd)
    [created] = await workbook_events(store)
    assert isinstance(created, WorkbookCreated)
    assert (retried.workbook_id, retried.position) == (created.workbook_id, await store.last_seq())


async def test_create_in_an_archived_space_is_refused_with_a_conflict() -> None:
    store = InMemoryEventStore(REGISTRY)
    await given_space(store, ENV, SPACE, SpaceArchived(space_id=SPACE))
    with pytest.raises(ConflictError) as refused:
        await commands(store).create_workbook(CreateWorkbook(principal=ME, space_id=SPACE, name="Book"))
    assert refused.value.key == "spaceId"
    assert await workbook_events(store) == []


@pytest.mark.parametrize(
    ("principal", "space_id", "later"),
    [
        (ME, "us_sp_unknown", ()),
        (ME, "us_sp.bad", ()),
        (ME, SPACE, (SpaceDeleted(space_id=SPACE),)),
        (STRANGER, SPACE, ()),
    ],
    ids=["unknown", "not-an-id", "deleted", "other-environment"],
)
async def test_create_outside_a_live_space_of_the_caller_is_not_found(
    principal: Principal, space_id: str, later: tuple[Event, ...]
) -> None:
    store = InMemoryEventStore(REGISTRY)
    await given_space(store, ENV, SPACE, *later)
    with pytest.raises(NotFoundError) as refused:
        await commands(store).create_workbook(CreateWorkbook(principal=principal, space_id=space_id, name="Book"))
    assert refused.value.key == "spaceId"
    assert await workbook_events(store) == []


async def test_create_in_a_space_the_directory_has_not_seen_yet_waits_for_it() -> None:
    store = InMemoryEventStore(REGISTRY)
    version = await given_space(store, ENV, SPACE)
    places = FoldedPlaces(store, lagging=True)
    app = WorkbookCommands(store, places, places.catch_up)
    written = await app.create_workbook(CreateWorkbook(principal=ME, space_id=SPACE, name="Book"))
    assert places.applied == version
    assert [e.workbook_id for e in await workbook_events(store) if isinstance(e, WorkbookCreated)] == [
        written.workbook_id
    ]


# ---- update and delete -------------------------------------------------------------------


async def test_update_renames_and_adds_a_sheet_in_one_append() -> None:
    store = InMemoryEventStore(REGISTRY)
    app, workbook_id, _ = await with_workbook(store)
    patch = SheetPatch(name="Companies", fields=[StringField(key="name")])
    written = await app.update_workbook(
        UpdateWorkbook(principal=ME, workbook_id=workbook_id, name="B2", sheets=[patch])
    )
    renamed, added = (await workbook_events(store))[1:]
    assert renamed == WorkbookUpdated(workbook_id=workbook_id, name="B2")
    assert isinstance(added, SheetAdded) and added.sheet.slug == "companies"
    assert written.position == await store.last_seq()


async def test_deleting_a_workbook_makes_it_and_its_sheets_not_found() -> None:
    store = InMemoryEventStore(REGISTRY)
    app, workbook_id, sheet_id = await with_workbook(store)
    await app.delete_workbook(DeleteWorkbook(principal=ME, workbook_id=workbook_id))
    assert (await workbook_events(store))[-1] == WorkbookDeleted(workbook_id=workbook_id)
    with pytest.raises(NotFoundError, match="workbook"):
        await app.update_workbook(UpdateWorkbook(principal=ME, workbook_id=workbook_id, name="again"))
    with pytest.raises(NotFoundError, match="sheet"):
        await app.lock_sheet(LockSheet(principal=ME, sheet_id=sheet_id))


async def test_another_environment_cannot_touch_the_workbook() -> None:
    store = InMemoryEventStore(REGISTRY)
    app, workbook_id, _ = await with_workbook(store)
    with pytest.raises(NotFoundError) as refused:
        await app.delete_workbook(DeleteWorkbook(principal=STRANGER, workbook_id=workbook_id))
    assert refused.value.key == "workbookId"
    assert len(await workbook_events(store)) == 1


# ---- sheets ------------------------------------------------------------------------------


async def test_update_sheet_records_the_whole_new_config() -> None:
    store = InMemoryEventStore(REGISTRY)
    app, workbook_id, sheet_id = await with_workbook(store)
    written = await app.update_sheet(UpdateSheet(principal=ME, sheet_id=sheet_id, name="People", slug="people"))
    changed = (await workbook_events(store))[-1]
    assert isinstance(changed, SheetConfigChanged)
    assert (changed.sheet_id, changed.slug, changed.config.name) == (sheet_id, "people", "People")
    assert written.workbook_id == workbook_id


async def test_lock_and_unlock_are_idempotent() -> None:
    store = InMemoryEventStore(REGISTRY)
    app, workbook_id, sheet_id = await with_workbook(store)
    locked = await app.lock_sheet(LockSheet(principal=ME, sheet_id=sheet_id))
    again = await app.lock_sheet(LockSheet(principal=ME, sheet_id=sheet_id))
    await app.unlock_sheet(UnlockSheet(principal=ME, sheet_id=sheet_id))
    unlocked_again = await app.unlock_sheet(UnlockSheet(principal=ME, sheet_id=sheet_id))
    assert (await workbook_events(store))[1:] == [
        SheetLocked(workbook_id=workbook_id, sheet_id=sheet_id, locked_by=ME.actor),
        SheetUnlocked(workbook_id=workbook_id, sheet_id=sheet_id),
    ]
    assert locked.position > 0
    assert again.position == unlocked_again.position == 0  # nothing appended


async def test_a_deleted_sheet_is_not_found() -> None:
    store = InMemoryEventStore(REGISTRY)
    app, workbook_id, sheet_id = await with_workbook(store)
    await app.delete_sheet(DeleteSheet(principal=ME, sheet_id=sheet_id))
    assert (await workbook_events(store))[-1] == SheetDeleted(workbook_id=workbook_id, sheet_id=sheet_id)
    with pytest.raises(NotFoundError) as refused:
        await app.lock_sheet(LockSheet(principal=ME, sheet_id=sheet_id))
    assert refused.value.key == "sheetId"


# ---- conflicts ---------------------------------------------------------------------------


async def test_a_command_that_lost_the_race_is_decided_again_on_the_new_state() -> None:
    store = InMemoryEventStore(REGISTRY)
    app, workbook_id, sheet_id = await with_workbook(store)
    store.before_next_append(
        lambda: app.update_workbook(UpdateWorkbook(principal=ME, workbook_id=workbook_id, name="B2"))
    )
    locked = await app.lock_sheet(LockSheet(principal=ME, sheet_id=sheet_id))
    assert (await workbook_events(store))[1:] == [
        WorkbookUpdated(workbook_id=workbook_id, name="B2"),
        SheetLocked(workbook_id=workbook_id, sheet_id=sheet_id, locked_by=ME.actor),
    ]
    assert locked.position == await store.last_seq()


async def test_a_retry_after_a_conflict_refuses_what_the_winner_made_impossible() -> None:
    store = InMemoryEventStore(REGISTRY)
    app, _, sheet_id = await with_workbook(store)
    store.before_next_append(lambda: app.delete_sheet(DeleteSheet(principal=ME, sheet_id=sheet_id)))
    with pytest.raises(NotFoundError) as refused:
        await app.lock_sheet(LockSheet(principal=ME, sheet_id=sheet_id))
    assert refused.value.key == "sheetId"
    assert not any(isinstance(e, SheetLocked) for e in await workbook_events(store))
