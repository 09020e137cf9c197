"""One contract for the view ports, passed by the fake (`FoldedViews`) and by `ViewCatalogQueries`
on Postgres (fed by the real catalog projection, views included, in scratch schemas).

The events come from the real commands on the in-memory store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import pytest

from spaceport import readmodel
from spaceport.contracts.blueprint import SheetConfig, StringField
from spaceport.contracts.space import Principal
from spaceport.contracts.view import CreateView, DeleteView, UpdateView, ViewConfig, ViewView
from spaceport.contracts.workbook import CreateWorkbook, DeleteSheet, DeleteWorkbook, WorkbookCreated
from spaceport.known_spaces import KnownSpaces
from spaceport.memstore import InMemoryEventStore
from spaceport.testing import scratch
from spaceport.testing.infra import InfraUrls
from workbook_service.application.commands import WorkbookCommands
from workbook_service.application.views import ViewCommands, ViewPlace
from workbook_service.projections.catalog import WorkbookCatalog
from workbook_service.projections.view_queries import ViewCatalogQueries
from workbook_service.testing import given_space, workbook_events
from workbook_service.testing_views import REGISTRY, FoldedViews

ENV = "us_env_a"
SPACE = "us_sp_1"
ME = Principal(environment_id=ENV, kind="secret", actor="us_key_1")


class Views(Protocol):
    async def place_of_view(self, view_id: str) -> ViewPlace | None: ...

    async def view(self, view_id: str) -> ViewView | None: ...

    async def views(self, sheet_id: str, page_size: int, page_number: int) -> tuple[list[ViewView], int]: ...


Project = Callable[[InMemoryEventStore], Awaitable[Views]]


@pytest.fixture(params=[pytest.param("folded", marks=pytest.mark.unit), "postgres"])
async def project(request: pytest.FixtureRequest, unique_name: str) -> AsyncIterator[Project]:
    """Turns a store's events into the view reads under test."""
    if request.param == "folded":

        async def folded(store: InMemoryEventStore) -> Views:
            return FoldedViews(store)

        yield folded
        return
    infra: InfraUrls = request.getfixturevalue("infra")
    known, catalog = f"{unique_name}_known", f"{unique_name}_catalog"
    pool = await readmodel.create_pool(infra.database_url, known)

    async def postgres(store: InMemoryEventStore) -> Views:
        async with pool.acquire() as conn:
            await scratch.project(conn, store, KnownSpaces(known, store.prefix), known)
            await scratch.project(conn, store, WorkbookCatalog(store.prefix, name=catalog), catalog)
        return ViewCatalogQueries(lambda: pool, schema=catalog)

    try:
        yield postgres
    finally:
        async with pool.acquire() as conn:
            await conn.execute(f"DROP SCHEMA IF EXISTS {known} CASCADE; DROP SCHEMA IF EXISTS {catalog} CASCADE")
        await pool.close()


async def scenario(store: InMemoryEventStore) -> tuple[WorkbookCreated, dict[str, str]]:
    """Views on three sheets: kept, renamed and reconfigured, deleted, on a deleted sheet and workbook."""
    await given_space(store, ENV, SPACE)
    places = FoldedViews(store)
    books = WorkbookCommands(store, places, places.catch_up)
    views = ViewCommands(store, places)
    people = SheetConfig(name="People", fields=[StringField(key="email")])
    sheets = [people, SheetConfig(name="Gone", fields=[StringField(key="email")])]
    await books.create_workbook(CreateWorkbook(principal=ME, space_id=SPACE, name="Book", sheets=sheets))
    await books.create_workbook(CreateWorkbook(principal=ME, space_id=SPACE, name="Doomed", sheets=[people]))
    book, doomed = (e for e in await workbook_events(store) if isinstance(e, WorkbookCreated))
    live, gone, dropped = (s.sheet_id for s in (*book.sheets, *doomed.sheets))

    async def make(sheet_id: str, name: str) -> str:
        cmd = CreateView(principal=ME, sheet_id=sheet_id, name=name, config=ViewConfig(filter="error"))
        return (await views.create_view(cmd)).view_id

    made = {name: await make(live, name) for name in ("first", "changed", "deleted")}
    made["on_gone_sheet"] = await make(gone, "g")
    made["on_gone_workbook"] = await make(dropped, "w")
    config = ViewConfig(sort_field="email", sort_direction="desc")
    await views.update_view(UpdateView(principal=ME, view_id=made["changed"], name="Changed", config=config))
    await views.delete_view(DeleteView(principal=ME, view_id=made["deleted"]))
    await books.delete_sheet(DeleteSheet(principal=ME, sheet_id=gone))
    await books.delete_workbook(DeleteWorkbook(principal=ME, workbook_id=doomed.workbook_id))
    return book, made


async def test_live_views_of_live_sheets_are_read_with_their_latest_name_and_config(project: Project) -> None:
    store = InMemoryEventStore(REGISTRY)
    book, made = await scenario(store)
    reads = await project(store)
    changed = await reads.view(made["changed"])
    assert changed is not None
    assert (changed.name, changed.config) == ("Changed", ViewConfig(sort_field="email", sort_direction="desc"))
    assert (changed.workbook_id, changed.space_id, changed.environment_id) == (book.workbook_id, SPACE, ENV)
    assert changed.updated_at > changed.created_at
    for gone in ("deleted", "on_gone_sheet", "on_gone_workbook"):
        assert await reads.view(made[gone]) is None, gone
    assert await reads.view("us_vi_unknown") is None


async def test_a_sheets_list_holds_its_live_views_oldest_first(project: Project) -> None:
    store = InMemoryEventStore(REGISTRY)
    book, made = await scenario(store)
    reads = await project(store)
    live, gone = book.sheets[0].sheet_id, book.sheets[1].sheet_id
    found, total = await reads.views(live, 10, 1)
    assert ([v.id for v in found], total) == ([made["first"], made["changed"]], 2)
    second, _ = await reads.views(live, 1, 2)
    assert [v.id for v in second] == [made["changed"]]
    assert await reads.views(gone, 10, 1) == ([], 0)


async def test_a_live_view_is_placed_even_while_its_sheet_is_gone(project: Project) -> None:
    """Commands find the view, then refuse it from the workbook's events (a deleted sheet)."""
    store = InMemoryEventStore(REGISTRY)
    book, made = await scenario(store)
    reads = await project(store)
    place = await reads.place_of_view(made["on_gone_sheet"])
    expected = ViewPlace(
        environment_id=ENV, space_id=SPACE, workbook_id=book.workbook_id, sheet_id=book.sheets[1].sheet_id
    )
    assert place == expected
    assert await reads.place_of_view(made["deleted"]) is None
    assert await reads.place_of_view("us_vi_unknown") is None
