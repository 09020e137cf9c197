"""A limited guest's own upload's source workbook in the feed (`queries.own`), on real NATS and
Postgres: the extractor writes the workbook as the platform and links the file to it only at the
end (`file:updated` by `EXTRACTOR_ACTOR`). The list shows the workbook's events once the link is
there; the stream, read from before the upload, sends them then, just before the link, in their
order, once each (also across resumes with an event id, and read one event at a time); another
guest gets none of them, nor does a workbook linked by anyone else, nor a deleted upload's.
"""

from __future__ import annotations

import msgspec

from spaceport.contracts import file, job
from spaceport.contracts import space as sp
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.feed import EventBatch, EventFilter, EventList, FlatfileEvent, ListEvents, ReadEvents
from spaceport.contracts.workbook import SheetSpec, WorkbookCreated
from spaceport.events import Event
from spaceport.messaging import RpcClient
from spaceport.ports import AggregateRef, AppendContext
from spaceport.runtime import ServiceRuntime

ENV, SPACE, KEY = "us_env_own", "us_sp_own", "us_key_own"
ANN, BOB = "us_gst_ann", "us_gst_bob"  # both granted MINE only
MINE, SOURCE, PATCHED = "us_wb_mine", "us_wb_source", "us_wb_patched"
ANNS, BOBS = "us_fl_anns", "us_fl_bobs"
DECODER = msgspec.json.Decoder(list[FlatfileEvent])


def rpc(rt: ServiceRuntime) -> RpcClient:
    return RpcClient(rt.broker, rt.settings.command_prefix, timeout=30)


async def append(rt: ServiceRuntime, aggregate: str, aggregate_id: str, *events: Event, actor: str = KEY) -> None:
    ref = AggregateRef(environment_id=ENV, space_id=SPACE, aggregate=aggregate, aggregate_id=aggregate_id)
    result = await rt.store.append(ref, list(events), expected_version=None, context=AppendContext(actor=actor))
    assert await rt.runner("feed").wait_for(result.last_seq, timeout=15)


def workbook(workbook_id: str) -> WorkbookCreated:
    sheet_id = workbook_id.replace("us_wb_", "us_sh_")
    config = msgspec.convert({"name": "S", "slug": sheet_id, "fields": [{"key": "a", "type": "string"}]}, SheetConfig)
    sheet = SheetSpec(sheet_id=sheet_id, slug=sheet_id, config=config)
    return WorkbookCreated(workbook_id=workbook_id, space_id=SPACE, environment_id=ENV, name="W", sheets=[sheet])


def upload(file_id: str, by: str) -> file.FileCreated:
    """An export (an import would start the job service's own extraction job)."""
    return file.FileCreated(file_id=file_id, space_id=SPACE, environment_id=ENV, name=f"{file_id}.csv",
                            object_key=f"{SPACE}/{file_id}/x.csv", mode="export", created_by=by)  # fmt: skip


def seen(actor: str) -> EventFilter:
    """The filter the gateway sends for a guest granted MINE (`routes.events._filter`)."""
    return EventFilter(environment_id=ENV, space_id=SPACE, include_acknowledged=True, workbook_ids=[MINE], actor=actor)


async def listed(rt: ServiceRuntime, actor: str) -> list[FlatfileEvent]:
    page = await rpc(rt).request("job", ListEvents(filter=seen(actor), page_size=100), EventList)
    return DECODER.decode(await rt.claims.unpack(page.events))


async def read(rt: ServiceRuntime, query: ReadEvents) -> tuple[list[FlatfileEvent], EventBatch]:
    batch = await rpc(rt).request("job", query, EventBatch)
    return DECODER.decode(await rt.claims.unpack(batch.events)), batch


class Stream:
    """A guest's stream as the gateway reads it: from "now", then after each batch's cursor."""

    def __init__(self, rt: ServiceRuntime, actor: str) -> None:
        self.rt, self.actor = rt, actor
        self.received: list[FlatfileEvent] = []
        self.batch: EventBatch | None = None

    async def open(self) -> None:
        _, self.batch = await read(self.rt, ReadEvents(filter=seen(self.actor), wait=0))

    async def more(self) -> list[FlatfileEvent]:
        assert self.batch is not None
        query = ReadEvents(filter=seen(self.actor), after_position=self.batch.position, after_slot=self.batch.slot,
                           wait=0)  # fmt: skip
        found, self.batch = await read(self.rt, query)
        self.received += found
        return found


async def drained(rt: ServiceRuntime, actor: str, after: str, limit: int) -> list[FlatfileEvent]:
    """Everything after event `after` (Last-Event-ID), read `limit` events at a time."""
    found, batch = await read(rt, ReadEvents(filter=seen(actor), after=after, limit=limit, wait=0))
    events = list(found)
    while found:
        query = ReadEvents(filter=seen(actor), after_position=batch.position, after_slot=batch.slot, limit=limit,
                           wait=0)  # fmt: skip
        found, batch = await read(rt, query)
        events += found
    return events


def names(events: list[FlatfileEvent]) -> list[str]:
    return [f"{e.topic} {e.context.workbook_id or e.context.file_id or e.context.job_id or ''}".strip() for e in events]


def extraction_job(file_id: str) -> job.JobCreated:
    return job.JobCreated(job_id=f"us_jb_{file_id}", environment_id=ENV, space_id=SPACE, job_type="file",
                          operation="extract", source=file_id, file_id=file_id)  # fmt: skip


async def world(rt: ServiceRuntime) -> None:
    await append(rt, "space", SPACE, sp.SpaceCreated(space_id=SPACE, environment_id=ENV, name="S"))
    await append(rt, "workbook", MINE, workbook(MINE))


async def test_the_stream_sends_an_own_uploads_workbook_once_linked_in_order(rt: ServiceRuntime) -> None:
    await world(rt)
    ann, bob = Stream(rt, ANN), Stream(rt, BOB)
    await ann.open()
    await bob.open()
    await append(rt, "file", ANNS, upload(ANNS, ANN), actor=ANN)
    await append(rt, "job", f"us_jb_{ANNS}", extraction_job(ANNS))
    await append(rt, "workbook", SOURCE, workbook(SOURCE), actor=file.EXTRACTOR_ACTOR)  # the extractor's
    await append(rt, "job", "us_jb_mine", job.JobCreated(job_id="us_jb_mine", environment_id=ENV, space_id=SPACE,
                 job_type="workbook", operation="submit", source=MINE, workbook_id=MINE))  # fmt: skip
    assert names(await ann.more()) == [f"file:created {ANNS}", f"job:created {ANNS}", f"job:created {MINE}"]
    assert SOURCE not in {e.context.workbook_id for e in await listed(rt, ANN)}  # not linked yet: not hers

    await append(rt, "file", ANNS, file.FileUpdated(file_id=ANNS, workbook_id=SOURCE, status="complete"),
                 actor=file.EXTRACTOR_ACTOR)  # fmt: skip
    late = await ann.more()
    assert names(late) == [f"workbook:created {SOURCE}", f"sheet:created {SOURCE}", f"file:updated {ANNS}"]
    # the list shows the same events (in feed order); the stream sent each once
    everything = await listed(rt, ANN)
    start = next(i for i, e in enumerate(everything) if e.topic == "file:created" and e.context.file_id == ANNS)
    assert {e.id for e in ann.received} == {e.id for e in everything[start:]}
    assert len(ann.received) == len({e.id for e in ann.received})
    assert {e.context.workbook_id for e in everything} >= {SOURCE}

    # resumed after any event it received (Last-Event-ID), the stream goes on in the same order
    for index, event in enumerate(ann.received):
        for limit in (1, 100):
            assert names(await drained(rt, ANN, event.id, limit)) == names(ann.received[index + 1 :]), (index, limit)

    # bob: nothing of ann's upload, nor its workbook
    await bob.more()
    assert not {SOURCE, ANNS} & {e.context.workbook_id or e.context.file_id for e in bob.received}
    assert not {SOURCE, ANNS} & {e.context.workbook_id or e.context.file_id for e in await listed(rt, BOB)}


async def test_only_the_extractors_link_of_a_live_own_upload_counts(rt: ServiceRuntime) -> None:
    await world(rt)
    ann = Stream(rt, ANN)
    await ann.open()
    # bob's upload, extracted: his, not ann's; a workbook ann's file is linked to by a PATCH: nobody's
    await append(rt, "file", BOBS, upload(BOBS, BOB), actor=BOB)
    await append(rt, "workbook", SOURCE, workbook(SOURCE), actor=file.EXTRACTOR_ACTOR)
    await append(rt, "file", BOBS, file.FileUpdated(file_id=BOBS, workbook_id=SOURCE), actor=file.EXTRACTOR_ACTOR)
    await append(rt, "file", ANNS, upload(ANNS, ANN), actor=ANN)
    await append(rt, "workbook", PATCHED, workbook(PATCHED))
    await append(rt, "file", ANNS, file.FileUpdated(file_id=ANNS, workbook_id=PATCHED), actor=ANN)
    received = await ann.more()
    assert {e.context.workbook_id for e in received} == {None}, names(received)
    assert {e.context.workbook_id for e in await listed(rt, ANN)} == {None, MINE}
    assert SOURCE in {e.context.workbook_id for e in await listed(rt, BOB)}

    # once bob deletes his upload, its workbook is no longer his (as `ListUploadedWorkbooks` has it)
    await append(rt, "file", BOBS, file.FileDeleted(file_id=BOBS), actor=BOB)
    assert SOURCE not in {e.context.workbook_id for e in await listed(rt, BOB)}
