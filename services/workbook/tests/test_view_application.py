"""The view commands and queries on the in-memory event store and folded fakes: no servers."""

from __future__ import annotations

import pytest

from spaceport.contracts.blueprint import SheetConfig, StringField
from spaceport.contracts.space import Principal
from spaceport.contracts.view import (
    CreateView,
    DeleteView,
    GetView,
    ListViews,
    UpdateView,
    ViewConfig,
    ViewCreated,
    ViewDeleted,
    ViewUpdated,
)
from spaceport.contracts.workbook import CreateWorkbook, DeleteSheet, DeleteWorkbook, WorkbookCreated
from spaceport.errors import NotFoundError, ValidationFailedError
from spaceport.memstore import InMemoryEventStore
from workbook_service.application.commands import WorkbookCommands
from workbook_service.application.views import ViewCommands, ViewQueries
from workbook_service.testing import given_space, workbook_events
from workbook_service.testing_views import REGISTRY, FoldedViews, view_events

pytestmark = pytest.mark.unit

ENV = "us_env_a"
SPACE = "us_sp_1"
ME = Principal(environment_id=ENV, kind="secret", actor="us_key_1")
STRANGER = Principal(environment_id="us_env_b", kind="secret", actor="us_key_2")
PEOPLE = SheetConfig(name="People", fields=[StringField(key="email"), StringField(key="name")])


class World:
    def __init__(self, store: InMemoryEventStore) -> None:
        self.store = store
        self.places = FoldedViews(store)
        self.workbooks = WorkbookCommands(store, self.places, self.places.catch_up)
        self.views = ViewCommands(store, self.places)
        self.queries = ViewQueries(self.places, self.places.catch_up)


async def world_with_sheet() -> tuple[World, WorkbookCreated]:
    store = InMemoryEventStore(REGISTRY)
    await given_space(store, ENV, SPACE)
    world = World(store)
    sheets = [PEOPLE, SheetConfig(name="Other", fields=[])]
    await world.workbooks.create_workbook(CreateWorkbook(principal=ME, space_id=SPACE, name="Book", sheets=sheets))
    created = (await workbook_events(store))[0]
    assert isinstance(created, WorkbookCreated)
    return world, created


def create(sheet_id: str, name: str = "Mine", config: ViewConfig | None = None, key: str | None = None) -> CreateView:
    return CreateView(principal=ME, sheet_id=sheet_id, name=name, config=config or ViewConfig(), idempotency_key=key)


async def test_create_appends_the_view_in_its_sheets_space_and_answers_where_it_landed() -> None:
    world, book = await world_with_sheet()
    sheet = book.sheets[0].sheet_id
    written = await world.views.create_view(create(sheet, config=ViewConfig(sort_field="email")))
    [event] = await view_events(world.store)
    assert isinstance(event, ViewCreated)
    assert (event.view_id, event.sheet_id, event.workbook_id, event.space_id) == (
        written.view_id,
        sheet,
        book.workbook_id,
        SPACE,
    )
    assert event.created_by == ME.actor
    assert written.view_id.startswith("us_vi_")
    assert written.position == await world.store.last_seq()


async def test_the_same_idempotency_key_answers_the_same_view_and_appends_once() -> None:
    world, book = await world_with_sheet()
    cmd = create(book.sheets[0].sheet_id, key="k1")
    first = await world.views.create_view(cmd)
    again = await world.views.create_view(cmd)
    assert first == again
    assert len(await view_events(world.store)) == 1


@pytest.mark.parametrize("sheet_id", ["us_sh_unknown", "a.b", "*"])
async def test_an_unknown_sheet_is_not_found_and_nothing_is_appended(sheet_id: str) -> None:
    world, _ = await world_with_sheet()
    with pytest.raises(NotFoundError) as gone:
        await world.views.create_view(create(sheet_id))
    assert gone.value.key == "sheetId"
    assert await view_events(world.store) == []


async def test_a_deleted_sheet_or_workbook_takes_no_views() -> None:
    world, book = await world_with_sheet()
    await world.workbooks.delete_sheet(DeleteSheet(principal=ME, sheet_id=book.sheets[1].sheet_id))
    with pytest.raises(NotFoundError):
        await world.views.create_view(create(book.sheets[1].sheet_id))
    await world.workbooks.delete_workbook(DeleteWorkbook(principal=ME, workbook_id=book.workbook_id))
    with pytest.raises(NotFoundError):
        await world.views.create_view(create(book.sheets[0].sheet_id))
    assert await view_events(world.store) == []


async def test_another_environment_does_not_find_the_sheet() -> None:
    world, book = await world_with_sheet()
    cmd = CreateView(principal=STRANGER, sheet_id=book.sheets[0].sheet_id, name="n", config=ViewConfig())
    with pytest.raises(NotFoundError):
        await world.views.create_view(cmd)
    assert await view_events(world.store) == []


async def test_a_config_naming_a_field_of_another_sheet_is_refused() -> None:
    world, book = await world_with_sheet()
    with pytest.raises(ValidationFailedError) as refused:
        await world.views.create_view(create(book.sheets[1].sheet_id, config=ViewConfig(filter_field="email")))
    assert refused.value.key == "config.filterField"
    assert await view_events(world.store) == []


async def test_update_and_delete_find_the_view_by_its_id() -> None:
    world, book = await world_with_sheet()
    view_id = (await world.views.create_view(create(book.sheets[0].sheet_id))).view_id
    renamed = await world.views.update_view(UpdateView(principal=ME, view_id=view_id, name="Renamed"))
    assert renamed.position > 0
    unchanged = await world.views.update_view(UpdateView(principal=ME, view_id=view_id, name="Renamed"))
    assert unchanged.position == 0
    await world.views.delete_view(DeleteView(principal=ME, view_id=view_id))
    assert [type(e) for e in await view_events(world.store)] == [ViewCreated, ViewUpdated, ViewDeleted]
    with pytest.raises(NotFoundError) as gone:
        await world.views.delete_view(DeleteView(principal=ME, view_id=view_id))
    assert gone.value.key == "viewId"


async def test_a_view_of_a_deleted_sheet_is_not_found_for_writes() -> None:
    world, book = await world_with_sheet()
    view_id = (await world.views.create_view(create(book.sheets[1].sheet_id))).view_id
    await world.workbooks.delete_sheet(DeleteSheet(principal=ME, sheet_id=book.sheets[1].sheet_id))
    with pytest.raises(NotFoundError):
        await world.views.update_view(UpdateView(principal=ME, view_id=view_id, name="x"))
    with pytest.raises(NotFoundError):
        await world.queries.get_view(GetView(view_id=view_id))
    assert len(await view_events(world.store)) == 1


async def test_another_environment_cannot_change_or_delete_the_view() -> None:
    world, book = await world_with_sheet()
    view_id = (await world.views.create_view(create(book.sheets[0].sheet_id))).view_id
    with pytest.raises(NotFoundError):
        await world.views.update_view(UpdateView(principal=STRANGER, view_id=view_id, name="x"))
    with pytest.raises(NotFoundError):
        await world.views.delete_view(DeleteView(principal=STRANGER, view_id=view_id))
    assert len(await view_events(world.store)) == 1


async def test_lists_are_paged_oldest_first() -> None:
    world, book = await world_with_sheet()
    sheet = book.sheets[0].sheet_id
    made = [(await world.views.create_view(create(sheet, name=f"v{n}"))).view_id for n in range(3)]
    page = await world.queries.list_views(ListViews(sheet_id=sheet, page_size=2, page_number=2))
    assert [v.id for v in page.data] == made[2:]
    assert (page.pagination.total_count, page.pagination.page_count, page.pagination.current_page) == (3, 2, 2)
    empty = await world.queries.list_views(ListViews(sheet_id=book.sheets[1].sheet_id))
    assert (empty.data, empty.pagination.page_count) == ([], 1)


@pytest.mark.parametrize(("size", "number", "key"), [(0, 1, "pageSize"), (1001, 1, "pageSize"), (10, 0, "pageNumber")])
async def test_bad_pages_are_refused(size: int, number: int, key: str) -> None:
    world, book = await world_with_sheet()
    with pytest.raises(ValidationFailedError) as refused:
        await world.queries.list_views(ListViews(sheet_id=book.sheets[0].sheet_id, page_size=size, page_number=number))
    assert refused.value.key == key
