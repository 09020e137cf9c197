"""Erasure: after a space is deleted no path yields its data.

A space gets a workbook with records, an uploaded file and a document, each carrying a unique
marker; a second space gets the same. An import (a `workbook:map` job) into the first space's
sheet teaches a hand-made mapping, which a plan in the second space then starts from (mappings
are remembered per environment and destination slug). The first is deleted. Then: the API
answers 404 for it and everything in it; no table of any service's schema holds its markers or
the ids of its workbook, sheet, records, file or document (what may stay is a tombstone of the
space's ids, and its `space:deleted` Flatfile event); S3 holds nothing under its prefix; its events in
SPACEPORT_EVENTS, read with the services' own decoder, are erased (except `SpaceDeleted`) and
their raw bytes do not contain a marker; the mapper keeps neither the first space's map job nor
what its import taught, so a new plan no longer starts from it. The second space is untouched
throughout.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from nats.aio.client import Client

from spaceport import s3
from spaceport.crypto import CLEAR_TYPES
from spaceport.eventstore import EventStore
from spaceport.settings import Settings
from spaceport.testing import corpus
from spaceport.testing.infra import InfraUrls
from spaceport.testing.platform import BUCKET, Platform

SETTINGS = Settings()
CONTACTS: dict[str, Any] = {
    "name": "Contacts",
    "slug": "contacts",
    "fields": [{"key": "name", "type": "string"}, {"key": "email", "type": "string"}],
}
WAIT = 60.0  # seconds for projections and purgers to catch up (polled, not asserted)


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


@pytest.fixture
async def api(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {platform.secret_key}"}
    async with httpx.AsyncClient(base_url=platform.api, headers=headers, timeout=60) as client:
        yield client


async def fill(api: httpx.AsyncClient, label: str) -> dict[str, Any]:
    """A space with a workbook and records, a file and a document, each with a unique marker."""
    marker = f"erasure-{label}-{uuid.uuid4().hex}"
    environment = ok(await api.get("/environments/current"))["id"]
    space = ok(await api.post("/spaces", json={"name": f"{marker} space"}))["id"]
    workbook = ok(await api.post("/workbooks", json={"name": f"{marker} wb", "spaceId": space, "sheets": [CONTACTS]}))
    sheet = workbook["sheets"][0]["id"]
    rows = [{"name": {"value": f"{marker} {n}"}, "email": {"value": f"{n}@{label}.io"}} for n in range(20)]
    records = [r["id"] for r in ok(await api.post(f"/sheets/{sheet}/records", json=rows))["records"]]
    content = f"name,email\n{marker},x@y.io\n".encode()
    form = {"spaceId": space, "environmentId": environment}
    file = ok(await api.post("/files", data=form, files={"file": (f"{label}.csv", content, "text/csv")}))["id"]
    document = ok(await api.post(f"/spaces/{space}/documents", json={"title": f"{marker} doc", "body": marker}))["id"]
    return {
        "marker": marker,
        "space": space,
        "workbook": workbook["id"],
        "sheet": sheet,
        "records": records,
        "file": file,
        "document": document,
    }


def objects(infra: InfraUrls, space: str) -> list[str]:
    settings = Settings(
        s3_endpoint=infra.s3_endpoint, s3_access_key=infra.s3_access_key, s3_secret_key=infra.s3_secret_key
    )
    listed = s3.make_client(settings).list_objects(BUCKET, prefix=f"{space}/", recursive=True)
    return [str(o.object_name) for o in listed]


async def tables(conn: asyncpg.Connection[Any] | Any) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        " AND table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE '%\\_rebuild'"
    )
    return [(r["table_schema"], r["table_name"]) for r in rows]


async def holding(conn: Any, needle: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table whose text contains `needle`, by `schema.table`."""
    found: dict[str, list[dict[str, Any]]] = {}
    for schema, table in await tables(conn):
        try:
            rows = await conn.fetch(f'SELECT * FROM "{schema}"."{table}" t WHERE strpos(t::text, $1) > 0', needle)
        except asyncpg.UndefinedTableError:
            continue  # a rebuild swapped it away meanwhile
        if rows:
            found[f"{schema}.{table}"] = [dict(r) for r in rows]
    return found


def tombstone(table: str, row: dict[str, Any]) -> bool:
    """What may keep a deleted space's id: its ids-only row, its `space:deleted` event."""
    name = table.rsplit(".", 1)[1]
    if name == "known_space":
        return bool(row["deleted"]) and row["name"] == ""
    if name == "space" and "deleted_at" in row:
        return row["deleted_at"] is not None and row["name"] == "" and row["metadata"] in ("{}", {})
    if name == "event" and "topic" in row:
        return str(row["topic"]) == "space:deleted"
    return False


async def until(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while not (found := await check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)
    return found


async def planned(api: httpx.AsyncClient, space: str, into: tuple[str, str], source_key: str) -> dict[str, Any]:
    """A `workbook:map` job from a new source sheet (one field, `source_key`) into sheet `into`
    (workbook, sheet): its id and the plan's edges by source key, once planned."""
    sheet = {"name": "Upload", "slug": "upload", "fields": [{"key": source_key, "type": "string"}]}
    source = ok(await api.post("/workbooks", json={"name": "Upload", "spaceId": space, "sheets": [sheet]}))
    source_sheet = source["sheets"][0]["id"]
    ok(await api.post(f"/sheets/{source_sheet}/records", json=[{source_key: {"value": "t@x.io"}}]))
    body = {
        "type": "workbook",
        "operation": "map",
        "source": source["id"],
        "destination": into[0],
        "config": {"sourceSheetId": source_sheet, "destinationSheetId": into[1]},
    }
    job = ok(await api.post("/jobs", json=body))["id"]

    async def plan() -> dict[str, Any] | None:
        found: dict[str, Any] = ok(await api.get(f"/jobs/{job}/plan"))["plan"]
        keys = ("fieldMapping", "unmappedSourceFields", "unmappedDestinationFields")
        return found if any(found.get(k) for k in keys) else None

    edges = {e["sourceField"]["key"]: e for e in (await until(plan, "a plan"))["fieldMapping"]}
    return {"job": job, "edges": edges}


def from_memory(edges: dict[str, Any], source_key: str) -> tuple[str, str] | None:
    edge = edges.get(source_key)
    return None if edge is None else (edge["destinationField"]["key"], edge["metadata"]["source"])


async def teach(api: httpx.AsyncClient, space: dict[str, Any]) -> str:
    """A hand-made mapping of a made-up column into the space's `email`, run: what it teaches."""
    taught = f"z{uuid.uuid4().hex}"  # no plan maps it to `email` by its name
    found = await planned(api, space["space"], (space["workbook"], space["sheet"]), taught)
    edge = {"sourceField": {"key": taught}, "destinationField": {"key": "email"}}
    ok(await api.put(f"/jobs/{found['job']}/plan", json={"fieldMapping": [edge]}))
    ok(await api.post(f"/jobs/{found['job']}/execute"))

    async def done() -> dict[str, Any] | None:
        job: dict[str, Any] = ok(await api.get(f"/jobs/{found['job']}"))
        return job if job["status"] in ("complete", "failed") else None

    assert (await until(done, "the map job"))["status"] == "complete"
    return taught


async def leftovers(pool: asyncpg.Pool, gone: dict[str, Any]) -> list[str]:
    """What the read models still hold of the deleted space (empty once erased)."""
    left: list[str] = []
    async with pool.acquire() as conn:
        ids = [gone["marker"], gone["workbook"], gone["sheet"], gone["file"], gone["document"], *gone["records"]]
        for needle in ids:
            left += [f"{table} holds {needle}" for table in await holding(conn, needle)]
        for table, rows in (await holding(conn, gone["space"])).items():
            left += [f"{table}: {row}" for row in rows if not tombstone(table, row)]
    return left


async def eventually_erased(pool: asyncpg.Pool, gone: dict[str, Any]) -> list[str]:
    deadline = time.monotonic() + WAIT
    while True:
        left = await leftovers(pool, gone)
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.5)


async def stream_of(nc: Client, space: str) -> tuple[list[bytes], list[Any]]:
    """The space's raw messages and what the services' decoder makes of them."""
    store = EventStore(nc, corpus.registry(), stream=SETTINGS.event_stream, prefix=SETTINGS.event_prefix)
    raw = [m async for m in store.read_raw(f"{SETTINGS.event_prefix}.{space}.>")]
    return [m.data for m in raw], await store.stored_batch(raw)


async def relayed_topics(nc: Client, space: str) -> list[str]:
    info = await nc.jetstream().stream_info(SETTINGS.feed_stream, subjects_filter=f"{SETTINGS.feed_prefix}.*.{space}.>")
    return sorted(subject.rsplit(".", 1)[1] for subject in (info.state.subjects or {}))


async def eventually_relayed_only_deletion(nc: Client, space: str) -> list[str]:
    deadline = time.monotonic() + WAIT
    while True:
        topics = await relayed_topics(nc, space)
        if topics == ["space_deleted"] or time.monotonic() > deadline:
            return topics
        await asyncio.sleep(0.5)


async def test_a_deleted_space_leaves_no_data_on_any_path(
    api: httpx.AsyncClient, infra: InfraUrls, pool: asyncpg.Pool, nc: Client
) -> None:
    gone, kept = await fill(api, "gone"), await fill(api, "kept")
    assert objects(infra, gone["space"]), "the upload is in S3 before the deletion"
    raw, decoded = await stream_of(nc, gone["space"])
    assert raw and all(gone["marker"].encode() not in body for body in raw), "payloads are sealed at rest"
    assert any(gone["marker"] in bytes(e.envelope.data).decode() for e in decoded), "and open with the key"

    # an import into the deleted-to-be space teaches a mapping, which the other space's plans use
    taught = await teach(api, gone)
    kept_into = (kept["workbook"], kept["sheet"])
    assert from_memory((await planned(api, kept["space"], kept_into, taught))["edges"], taught) == (
        "email",
        "remembered",
    )
    async with pool.acquire() as conn:
        assert "file_map.remembered_mapping" in await holding(conn, taught)
        assert "file_map.map_job" in await holding(conn, gone["workbook"])

    ok(await api.delete(f"/spaces/{gone['space']}"))

    # the API
    for path in (
        f"/spaces/{gone['space']}",
        f"/workbooks/{gone['workbook']}",
        f"/sheets/{gone['sheet']}/records",
        f"/files/{gone['file']}",
        f"/spaces/{gone['space']}/documents/{gone['document']}",
    ):
        assert (await api.get(path)).status_code == 404, path
    listed = ok(await api.get("/spaces", params={"pageSize": 1000}))
    assert gone["space"] not in [s["id"] for s in listed]

    # every read model of every service
    left = await eventually_erased(pool, gone)
    assert not left, "\n".join(left)
    async with pool.acquire() as conn:  # the kept space's probes hold the name; the mapper does not
        assert not [t for t in await holding(conn, taught) if t.startswith("file_map.")]
    # no plan starts from what the deleted space's import taught
    assert from_memory((await planned(api, kept["space"], kept_into, taught))["edges"], taught) is None

    # S3
    deadline = time.monotonic() + WAIT
    while True:
        left_objects = objects(infra, gone["space"])
        if not left_objects or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert left_objects == []

    # the raw stream, read with the services' own decoder
    raw, decoded = await stream_of(nc, gone["space"])
    assert raw, "history is never deleted: the events are still there"
    assert all(gone["marker"].encode() not in body for body in raw)
    assert {e.envelope.type for e in decoded if not e.erased} <= CLEAR_TYPES
    assert sum(e.erased for e in decoded) == len(decoded) - 1  # all but SpaceDeleted
    assert all(e.event is None and bytes(e.envelope.data) == b"null" for e in decoded if e.erased)

    # the relayed Flatfile events (SPACEPORT_FLATFILE_EVENTS): only `space:deleted` is left
    assert await eventually_relayed_only_deletion(nc, gone["space"]) == ["space_deleted"]

    # a write into the deleted space is refused
    refused = await api.post(f"/sheets/{gone['sheet']}/records", json=[{"name": {"value": "x"}}])
    assert refused.status_code == 404

    # the other space is untouched
    records = ok(await api.get(f"/sheets/{kept['sheet']}/records"))["records"]
    assert sorted(r["values"]["name"]["value"] for r in records) == sorted(f"{kept['marker']} {n}" for n in range(20))
    assert ok(await api.get(f"/files/{kept['file']}"))["id"] == kept["file"]
    assert ok(await api.get(f"/spaces/{kept['space']}/documents/{kept['document']}"))["body"] == kept["marker"]
    assert objects(infra, kept["space"])
    assert "space_created" in await relayed_topics(nc, kept["space"])
    _, kept_events = await stream_of(nc, kept["space"])
    assert kept_events and not any(e.erased for e in kept_events)
    async with pool.acquire() as conn:
        assert await holding(conn, kept["marker"]), "the kept space's rows are still there"
