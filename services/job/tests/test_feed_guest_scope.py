"""What a guest limited to some workbooks sees of the feed (`queries.visible`), on real NATS and
Postgres: its workbooks' events, their sheets', its own uploads' and its workbooks' files', and
the space's own events; never another workbook's, nor another guest's upload, nor their jobs.
The list, one event, acks, the stream's reads and publishing all hold to the same rule."""

from __future__ import annotations

import msgspec
import pytest

from spaceport.contracts import feed, file, job
from spaceport.contracts import space as sp
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.feed import (
    AckEvent,
    EventBatch,
    EventFilter,
    EventList,
    FlatfileEvent,
    GetEvent,
    ListEvents,
    PublishEvent,
    ReadEvents,
)
from spaceport.contracts.workbook import SheetSpec, WorkbookCreated
from spaceport.errors import NotFoundError
from spaceport.events import Event
from spaceport.messaging import RpcClient
from spaceport.ports import AggregateRef, AppendContext
from spaceport.runtime import ServiceRuntime

ENV, SPACE = "us_env_scope", "us_sp_scope"
MINE, OTHER = "us_wb_mine", "us_wb_other"  # the guests are granted MINE only
MINE_SHEET, OTHER_SHEET = "us_sh_mine", "us_sh_other"
ANN, BOB, KEY = "us_gst_ann", "us_gst_bob", "us_key_scope"
DECODER = msgspec.json.Decoder(list[FlatfileEvent])


def guest(actor: str, workbook_ids: list[str] | None = [MINE]) -> sp.Principal:  # noqa: B006 - never mutated
    return sp.Principal(
        environment_id=ENV, kind="guest", actor=actor, space_id=SPACE, role="editor", workbook_ids=workbook_ids
    )


def rpc(rt: ServiceRuntime) -> RpcClient:
    return RpcClient(rt.broker, rt.settings.command_prefix, timeout=30)


async def append(rt: ServiceRuntime, aggregate: str, aggregate_id: str, *events: Event, actor: str = KEY) -> None:
    ref = AggregateRef(environment_id=ENV, space_id=SPACE, aggregate=aggregate, aggregate_id=aggregate_id)
    result = await rt.store.append(ref, list(events), expected_version=None, context=AppendContext(actor=actor))
    assert await rt.runner("feed").wait_for(result.last_seq, timeout=15)


def workbook(workbook_id: str, sheet_id: str) -> WorkbookCreated:
    config = msgspec.convert({"name": "S", "slug": sheet_id, "fields": [{"key": "a", "type": "string"}]}, SheetConfig)
    sheet = SheetSpec(sheet_id=sheet_id, slug=sheet_id, config=config)
    return WorkbookCreated(workbook_id=workbook_id, space_id=SPACE, environment_id=ENV, name="W", sheets=[sheet])


def upload(file_id: str, by: str) -> file.FileCreated:
    """An export (an import would start the job service's own extraction job)."""
    key = f"{SPACE}/{file_id}/x.csv"
    return file.FileCreated(file_id=file_id, space_id=SPACE, environment_id=ENV, name=f"{file_id}.csv", object_key=key,
                            mode="export", created_by=by)  # fmt: skip


def a_job(job_id: str, **about: str) -> job.JobCreated:
    return job.JobCreated(job_id=job_id, environment_id=ENV, space_id=SPACE, job_type="file", operation="extract",
                          source=about.get("file_id", SPACE), **about)  # type: ignore[arg-type]  # fmt: skip


async def world(rt: ServiceRuntime) -> None:
    await append(rt, "space", SPACE, sp.SpaceCreated(space_id=SPACE, environment_id=ENV, name="S"))
    await append(rt, "workbook", MINE, workbook(MINE, MINE_SHEET))
    await append(rt, "workbook", OTHER, workbook(OTHER, OTHER_SHEET))
    await append(rt, "file", "us_fl_ann", upload("us_fl_ann", ANN), actor=ANN)  # ann's upload, not extracted
    await append(rt, "file", "us_fl_bob", upload("us_fl_bob", BOB), actor=BOB)  # bob's upload
    await append(rt, "file", "us_fl_mine", upload("us_fl_mine", KEY), file.FileUpdated(file_id="us_fl_mine",
                 workbook_id=MINE))  # fmt: skip
    # linked to OTHER, then to MINE: the last link counts (as the file service's row has it)
    await append(rt, "file", "us_fl_moved", upload("us_fl_moved", KEY),
                 file.FileUpdated(file_id="us_fl_moved", workbook_id=OTHER),
                 file.FileUpdated(file_id="us_fl_moved", workbook_id=MINE))  # fmt: skip
    await append(rt, "file", "us_fl_other", upload("us_fl_other", KEY), file.FileUpdated(file_id="us_fl_other",
                 workbook_id=OTHER), file.FileUpdated(file_id="us_fl_other", status="complete"))  # fmt: skip
    await append(rt, "job", "us_jb_ann", a_job("us_jb_ann", file_id="us_fl_ann"))
    await append(rt, "job", "us_jb_bob", a_job("us_jb_bob", file_id="us_fl_bob"))
    await append(rt, "job", "us_jb_mine", a_job("us_jb_mine", workbook_id=MINE, sheet_id=MINE_SHEET))
    await append(rt, "job", "us_jb_other", a_job("us_jb_other", workbook_id=OTHER))
    await append(rt, "job", "us_jb_other_sheet", a_job("us_jb_other_sheet", sheet_id=OTHER_SHEET))  # no workbook
    await append(rt, "job", "us_jb_mine_sheet", a_job("us_jb_mine_sheet", sheet_id=MINE_SHEET))
    await append(rt, "job", "us_jb_space", a_job("us_jb_space"))


def seen(principal: sp.Principal) -> EventFilter:
    """The filter the gateway sends for `principal` (`routes.events._filter`)."""
    limited = principal.kind == "guest"
    return EventFilter(
        environment_id=ENV,
        space_id=SPACE,
        include_acknowledged=True,
        workbook_ids=principal.workbook_ids if limited else None,
        actor=principal.actor if limited else None,
    )


async def listed(rt: ServiceRuntime, principal: sp.Principal) -> list[FlatfileEvent]:
    page = await rpc(rt).request("job", ListEvents(filter=seen(principal), page_size=100), EventList)
    return DECODER.decode(await rt.claims.unpack(page.events))


def about(events: list[FlatfileEvent]) -> set[str]:
    """What each event is about: its file, job, sheet or workbook (the most specific), else its topic."""
    found = set()
    for e in events:
        c = e.context
        found.add(c.job_id or c.file_id or (c.sheet_id and e.topic) or c.workbook_id or e.topic)
    return found


async def test_a_limited_guest_sees_only_what_it_may_read(rt: ServiceRuntime) -> None:
    await world(rt)
    everything = about(await listed(rt, sp.Principal(environment_id=ENV, kind="secret", actor=KEY)))
    files = {"us_fl_ann", "us_fl_bob", "us_fl_mine", "us_fl_moved", "us_fl_other"}
    jobs = {"us_jb_ann", "us_jb_bob", "us_jb_mine", "us_jb_other", "us_jb_other_sheet", "us_jb_mine_sheet"}
    assert {"space:created", MINE, OTHER, "sheet:created", "us_jb_space"} | files | jobs <= everything
    assert about(await listed(rt, guest(ANN, None))) == everything  # a guest of the whole space: all of it

    space_level = {"space:created", MINE, "sheet:created", "us_jb_space", "us_jb_mine", "us_jb_mine_sheet"}
    ann = await listed(rt, guest(ANN))
    assert about(ann) == space_level | {"us_fl_ann", "us_jb_ann", "us_fl_mine", "us_fl_moved"}
    assert {e.context.workbook_id for e in ann} == {None, MINE}
    assert {e.context.sheet_id for e in ann} == {None, MINE_SHEET}
    bob = await listed(rt, guest(BOB))
    assert about(bob) == space_level | {"us_fl_bob", "us_jb_bob", "us_fl_mine", "us_fl_moved"}
    # a guest of OTHER only (e.g. bob once his upload's workbook is his): OTHER's file, not MINE's
    other = about(await listed(rt, guest(BOB, [OTHER])))
    assert {"us_fl_other", "us_jb_other", "us_jb_other_sheet", "us_fl_bob"} <= other
    assert not {MINE, "us_fl_mine", "us_fl_moved", "us_jb_mine", "us_fl_ann"} & other

    # the stream reads the same events
    batch = await rpc(rt).request("job", ReadEvents(filter=seen(guest(ANN)), after_position=0, wait=0), EventBatch)
    assert [e.id for e in DECODER.decode(await rt.claims.unpack(batch.events))] == [e.id for e in ann]


async def test_one_event_and_acks_are_not_found_when_hidden(rt: ServiceRuntime) -> None:
    await world(rt)
    client = rpc(rt)
    everything = await listed(rt, sp.Principal(environment_id=ENV, kind="secret", actor=KEY))
    [bobs] = [e for e in everything if e.topic == "file:created" and e.context.file_id == "us_fl_bob"]
    [mine] = [e for e in everything if e.topic == "workbook:created" and e.context.workbook_id == MINE]

    def get(principal: sp.Principal, event_id: str) -> GetEvent:
        return GetEvent(environment_id=ENV, event_id=event_id, space_id=SPACE, workbook_ids=principal.workbook_ids,
                        actor=principal.actor)  # fmt: skip

    with pytest.raises(NotFoundError):
        await client.request("job", get(guest(ANN), bobs.id), FlatfileEvent)
    assert (await client.request("job", get(guest(BOB), bobs.id), FlatfileEvent)).id == bobs.id
    assert (await client.request("job", get(guest(ANN), mine.id), FlatfileEvent)).id == mine.id
    with pytest.raises(NotFoundError):
        await client.request("job", AckEvent(principal=guest(ANN), event_id=bobs.id), feed.Acked)
    acked = await client.request("job", AckEvent(principal=guest(BOB), event_id=bobs.id), feed.Acked)
    assert acked.event.acknowledged_by == BOB


async def test_a_limited_guest_publishes_only_about_what_it_sees(rt: ServiceRuntime) -> None:
    await world(rt)
    client = rpc(rt)

    def post(principal: sp.Principal, **context: str) -> PublishEvent:
        return PublishEvent(principal=principal, topic="file:created", domain="file", context=context)

    for context, key in (
        ({"fileId": "us_fl_bob"}, "context.fileId"),  # another guest's upload would look like ann's own
        ({"workbookId": OTHER}, "context.workbookId"),
        ({"sheetId": OTHER_SHEET}, "context.sheetId"),
        ({"workbookId": MINE, "fileId": "us_fl_other"}, "context.fileId"),
    ):
        with pytest.raises(NotFoundError) as refused:
            await client.request("job", post(guest(ANN), **context), FlatfileEvent)
        assert refused.value.key == key, context
    posted = await client.request("job", post(guest(ANN), fileId="us_fl_ann", workbookId=MINE), FlatfileEvent)
    assert posted.context.file_id == "us_fl_ann"
    # the guest of the whole space and secret keys publish about anything, as before
    await client.request("job", post(guest(ANN, None), fileId="us_fl_bob"), FlatfileEvent)
    await client.request("job", post(sp.Principal(environment_id=ENV, kind="secret", actor=KEY), fileId="us_fl_bob"),
                         FlatfileEvent)  # fmt: skip
