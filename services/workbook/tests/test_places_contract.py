"""One contract for `Places`, passed by the fake (`FoldedPlaces`) and by `CatalogQueries` on Postgres.

The events come from the real commands on the in-memory store; the Postgres variant folds them
through the real projections (KnownSpaces, WorkbookCatalog) into scratch schemas first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from spaceport import readmodel
from spaceport.contracts.blueprint import SheetConfig, StringField
from spaceport.contracts.space import Principal, SpaceArchived, SpaceDeleted, SpaceUnarchived
from spaceport.contracts.workbook import (
    CreateWorkbook,
    DeleteSheet,
    DeleteWorkbook,
    SheetAdded,
    SheetPatch,
    UpdateWorkbook,
    WorkbookCreated,
)
from spaceport.known_spaces import KnownSpaces, SpaceFact
from spaceport.memstore import InMemoryEventStore
from spaceport.testing import scratch
from spaceport.testing.infra import InfraUrls
from workbook_service.application.commands import WorkbookCommands
from workbook_service.application.ports import Place, Places
from workbook_service.projections.catalog import WorkbookCatalog
from workbook_service.projections.queries import CatalogQueries
from workbook_service.testing import REGISTRY, FoldedPlaces, given_space, workbook_events

ENV = "us_env_a"
ME = Principal(environment_id=ENV, kind="secret", actor="us_key_1")
Project = Callable[[InMemoryEventStore], Awaitable[Places]]


@pytest.fixture(params=[pytest.param("folded", marks=pytest.mark.unit), "postgres"])
async def project(request: pytest.FixtureRequest, unique_name: str) -> AsyncIterator[Project]:
    """Turns a store's events into the `Places` under test."""
    if request.param == "folded":

        async def folded(store: InMemoryEventStore) -> Places:
            return FoldedPlaces(store)

        yield folded
        return
    infra: InfraUrls = request.getfixturevalue("infra")
    known, catalog = f"{unique_name}_known", f"{unique_name}_catalog"
    pool = await readmodel.create_pool(infra.database_url, known)

    async def postgres(store: InMemoryEventStore) -> Places:
        async with pool.acquire() as conn:
            await scratch.project(conn, store, KnownSpaces(known, store.prefix), known)
            await scratch.project(conn, store, WorkbookCatalog(store.prefix, name=catalog), catalog)
        return CatalogQueries(lambda: pool, schema=catalog)

    try:
        yield postgres
    finally:
        async with pool.acquire() as conn:
            await conn.execute(f"DROP SCHEMA IF EXISTS {known} CASCADE; DROP SCHEMA IF EXISTS {catalog} CASCADE")
        await pool.close()


def commands(store: InMemoryEventStore) -> WorkbookCommands:
    places = FoldedPlaces(store)
    return WorkbookCommands(store, places, places.catch_up)


async def created_workbook(store: InMemoryEventStore, space_id: str, *sheets: str) -> WorkbookCreated:
    configs = [SheetConfig(name=name, fields=[StringField(key="a")]) for name in sheets]
    written = await commands(store).create_workbook(
        CreateWorkbook(principal=ME, space_id=space_id, name="Book", sheets=configs)
    )
    created = [e for e in await workbook_events(store) if isinstance(e, WorkbookCreated)]
    return next(e for e in created if e.workbook_id == written.workbook_id)


async def test_a_workbook_is_placed_in_its_space_until_it_is_deleted(project: Project) -> None:
    store = InMemoryEventStore(REGISTRY)
    await given_space(store, ENV, "us_sp_1")
    kept, deleted = await created_workbook(store, "us_sp_1"), await created_workbook(store, "us_sp_1")
    await commands(store).delete_workbook(DeleteWorkbook(principal=ME, workbook_id=deleted.workbook_id))
    places = await project(store)
    here = Place(environment_id=ENV, space_id="us_sp_1", workbook_id=kept.workbook_id)
    assert await places.place_of_workbook(kept.workbook_id) == here
    assert await places.place_of_workbook(deleted.workbook_id) is None
    assert await places.place_of_workbook("us_wb_unknown") is None


async def test_a_sheet_is_placed_in_its_workbook_while_both_are_live(project: Project) -> None:
    store = InMemoryEventStore(REGISTRY)
    await given_space(store, ENV, "us_sp_1")
    book = await created_workbook(store, "us_sp_1", "One", "Two")
    gone = await created_workbook(store, "us_sp_1", "Three")
    app = commands(store)
    await app.delete_sheet(DeleteSheet(principal=ME, sheet_id=book.sheets[1].sheet_id))
    added = SheetPatch(name="Four", fields=[StringField(key="a")])
    await app.update_workbook(UpdateWorkbook(principal=ME, workbook_id=book.workbook_id, sheets=[added]))
    await app.delete_workbook(DeleteWorkbook(principal=ME, workbook_id=gone.workbook_id))
    four = (await workbook_events(store))[-2]
    assert isinstance(four, SheetAdded)
    places = await project(store)
    here = Place(environment_id=ENV, space_id="us_sp_1", workbook_id=book.workbook_id)
    assert await places.place_of_sheet(book.sheets[0].sheet_id) == here
    assert await places.place_of_sheet(four.sheet.sheet_id) == here
    assert await places.place_of_sheet(book.sheets[1].sheet_id) is None  # deleted sheet
    assert await places.place_of_sheet(gone.sheets[0].sheet_id) is None  # deleted workbook
    assert await places.place_of_sheet("us_sh_unknown") is None


async def test_a_space_fact_follows_the_space_lifecycle(project: Project) -> None:
    store = InMemoryEventStore(REGISTRY)
    await given_space(store, ENV, "us_sp_live")
    await given_space(
        store, ENV, "us_sp_back", SpaceArchived(space_id="us_sp_back"), SpaceUnarchived(space_id="us_sp_back")
    )
    await given_space(store, ENV, "us_sp_archived", SpaceArchived(space_id="us_sp_archived"))
    await given_space(store, "us_env_b", "us_sp_deleted", SpaceDeleted(space_id="us_sp_deleted"))
    places = await project(store)
    assert await places.space_fact("us_sp_live") == SpaceFact(space_id="us_sp_live", environment_id=ENV)
    assert await places.space_fact("us_sp_back") == SpaceFact(space_id="us_sp_back", environment_id=ENV)
    assert await places.space_fact("us_sp_archived") == SpaceFact(
        space_id="us_sp_archived", environment_id=ENV, archived=True
    )
    assert await places.space_fact("us_sp_deleted") == SpaceFact(
        space_id="us_sp_deleted", environment_id="us_env_b", deleted=True
    )
    assert await places.space_fact("us_sp_unknown") is None
