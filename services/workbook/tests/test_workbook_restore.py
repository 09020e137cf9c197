"""`RestoreWorkbooks` on the in-memory event store: the events a restore appends, that the folded
state then equals the earlier one (revival and re-added sheets included), and that a preview
appends nothing."""

from __future__ import annotations

import pytest

from spaceport.contracts.blueprint import SheetConfig, StringField
from spaceport.contracts.space import Principal
from spaceport.contracts.workbook import (
    CreateWorkbook,
    DeleteSheet,
    DeleteWorkbook,
    RestoreWorkbooks,
    SheetAdded,
    SheetPatch,
    UpdateSheet,
    UpdateWorkbook,
    WorkbookCreated,
    WorkbookView,
)
from spaceport.errors import ForbiddenError, NotFoundError
from spaceport.memstore import InMemoryEventStore
from spaceport.ports import AggregateRef
from workbook_service.application.commands import WorkbookCommands
from workbook_service.application.restore import WorkbookRestores
from workbook_service.domain.as_of import fold
from workbook_service.testing import REGISTRY, FoldedPlaces, given_space, workbook_events

pytestmark = pytest.mark.unit

ENV, SPACE = "us_env_a", "us_sp_1"
ME = Principal(environment_id=ENV, kind="secret", actor="us_key_1")
A = SheetConfig(name="A", slug="a", fields=[StringField(key="x")])
B = SheetConfig(name="B", slug="b", fields=[StringField(key="y")])


async def _ready(_: int) -> bool:
    return True


def setup() -> tuple[InMemoryEventStore, WorkbookCommands, WorkbookRestores]:
    store = InMemoryEventStore(REGISTRY)
    places = FoldedPlaces(store)
    commands = WorkbookCommands(store, places, places.catch_up)
    return store, commands, WorkbookRestores(store, commands, _ready)


async def view(store: InMemoryEventStore, workbook_id: str, up_to: int | None = None) -> WorkbookView | None:
    ref = AggregateRef(environment_id=ENV, space_id=SPACE, aggregate="workbook", aggregate_id=workbook_id)
    events = (await store.load(ref)).events
    return fold(e for e in events if up_to is None or e.seq <= up_to)


def bare(workbook: WorkbookView | None) -> object:
    """A view without its timestamps."""
    assert workbook is not None
    sheets = [(s.id, s.name, s.slug, s.config) for s in workbook.sheets or []]
    return (workbook.id, workbook.name, workbook.labels, sheets)


async def test_a_restore_brings_every_workbook_back_and_its_undo_returns_the_later_state() -> None:
    store, commands, restores = setup()
    await given_space(store, ENV, SPACE)
    main = (
        await commands.create_workbook(CreateWorkbook(principal=ME, space_id=SPACE, name="M", sheets=[A, B]))
    ).workbook_id
    old = (
        await commands.create_workbook(CreateWorkbook(principal=ME, space_id=SPACE, name="O", sheets=[B]))
    ).workbook_id
    at = await store.last_seq()
    sheet_a, sheet_b = (e.sheets for e in await workbook_events(store) if isinstance(e, WorkbookCreated)).__next__()
    await commands.update_workbook(
        UpdateWorkbook(
            principal=ME, workbook_id=main, name="M2", sheets=[SheetPatch(name="C", fields=[StringField(key="z")])]
        )
    )
    await commands.update_sheet(UpdateSheet(principal=ME, sheet_id=sheet_a.sheet_id, name="A2"))
    await commands.delete_sheet(DeleteSheet(principal=ME, sheet_id=sheet_b.sheet_id))
    new = (
        await commands.create_workbook(CreateWorkbook(principal=ME, space_id=SPACE, name="N", sheets=[A]))
    ).workbook_id
    await commands.delete_workbook(DeleteWorkbook(principal=ME, workbook_id=old))
    later = {w: await view(store, w) for w in (main, new)}

    preview = await restores.restore(RestoreWorkbooks(principal=ME, space_id=SPACE, as_of=str(at)))
    assert {w.workbook_id: w.change for w in preview.workbooks} == {main: "updated", old: "revived", new: "deleted"}
    assert await store.last_seq() == preview.before  # a preview appends nothing

    done = await restores.restore(RestoreWorkbooks(principal=ME, space_id=SPACE, as_of=str(at), preview=False))
    assert done.position > done.before
    for workbook in (main, old):
        assert bare(await view(store, workbook)) == bare(await view(store, workbook, at))
    assert await view(store, new) is None
    events = [s.event async for s in store.read(f"{store.prefix}.>", from_seq=done.before + 1)]
    assert any(isinstance(e, SheetAdded) and e.sheet.sheet_id == sheet_b.sheet_id for e in events)  # same id
    assert any(isinstance(e, WorkbookCreated) and e.workbook_id == old for e in events)  # revived

    await restores.restore(RestoreWorkbooks(principal=ME, space_id=SPACE, as_of=str(done.before), preview=False))
    for workbook, was in later.items():
        assert bare(await view(store, workbook)) == bare(was)
    assert await view(store, old) is None
    last = (await workbook_events(store))[-1]
    assert isinstance(last, WorkbookCreated) and last.workbook_id == new  # the undo revived it


async def test_a_restore_is_refused_to_a_publishable_key_and_for_a_sheet_of_another_space() -> None:
    store, commands, restores = setup()
    await given_space(store, ENV, SPACE)
    await given_space(store, ENV, "us_sp_2")
    other = await commands.create_workbook(CreateWorkbook(principal=ME, space_id="us_sp_2", name="X", sheets=[A]))
    foreign = next(e for e in await workbook_events(store) if isinstance(e, WorkbookCreated)).sheets[0].sheet_id
    assert other.workbook_id
    with pytest.raises(NotFoundError):
        await restores.restore(RestoreWorkbooks(principal=ME, space_id=SPACE, as_of="1", sheet_id=foreign))
    publishable = Principal(environment_id=ENV, kind="publishable", actor="us_key_p")
    with pytest.raises(ForbiddenError):
        await restores.restore(RestoreWorkbooks(principal=publishable, space_id=SPACE, as_of="1"))
