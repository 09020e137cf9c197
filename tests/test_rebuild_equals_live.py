"""Rebuild from zero equals live, for every projection of every service of the running platform.

Workbooks, sheets and records are written through the gateway (unique values, error cells,
updates that heal them, deletes, a sheet renamed, locked, deleted, a workbook deleted, spaces
archived and deleted). Then each projection is replayed from sequence 0 into a shadow schema
and every table of it is compared with the live schema the platform's projector wrote.

The stream is the whole session's, so whatever earlier end-to-end tests wrote is compared too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from nats.aio.client import Client

from record_service.projections.records import RecordsProjection
from spaceport.eventstore import EventStore
from spaceport.known_spaces import KnownSpaces
from spaceport.projection import ProjectionRunner
from spaceport.readmodel import Conn, quote_ident
from spaceport.testing import readmodels, services
from spaceport.testing.platform import Platform
from workbook_service.projections.catalog import WorkbookCatalog

COMPANIES: dict[str, Any] = {
    "name": "Companies",
    "slug": "companies",
    "fields": [{"key": "name", "type": "string", "constraints": [{"type": "unique"}]}],
}
CONTACTS: dict[str, Any] = {
    "name": "Contacts",
    "slug": "contacts",
    "constraints": [{"type": "unique", "name": "person", "fields": ["name", "born"]}],
    "fields": [
        {"key": "name", "type": "string", "constraints": [{"type": "required"}]},
        {"key": "email", "type": "string", "constraints": [{"type": "unique"}]},
        {"key": "age", "type": "number"},
        {"key": "born", "type": "date"},
        {"key": "company", "type": "reference", "config": {"ref": "companies", "key": "name"}},
    ],
}
ATTEMPTS = 3  # rebuilds, if the live read model moved on while one was compared


def _ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def _rows(*rows: dict[str, Any]) -> list[dict[str, Any]]:
    return [{key: {"value": value} for key, value in row.items()} for row in rows]


@pytest.fixture(scope="module")
def written(platform: Platform) -> Iterator[dict[str, list[str]]]:
    """What the scenario wrote, by kind: the ids each live read model must hold."""
    headers = {"Authorization": f"Bearer {platform.secret_key}"}
    with httpx.Client(base_url=platform.api, headers=headers, timeout=60) as api:
        yield _scenario(api)


def _scenario(api: httpx.Client) -> dict[str, list[str]]:
    spaces = [_ok(api.post("/spaces", json={"name": f"rebuild {n}"}))["id"] for n in range(3)]
    workbook = _ok(
        api.post("/workbooks", json={"name": "Rebuild", "spaceId": spaces[0], "sheets": [COMPANIES, CONTACTS]})
    )
    companies, contacts = (s["id"] for s in workbook["sheets"])
    patch = {"name": "Rebuilt", "sheets": [{"name": "Deals", "fields": [{"key": "title", "type": "string"}]}]}
    deals = _ok(api.patch(f"/workbooks/{workbook['id']}", json=patch))["sheets"][2]["id"]
    _ok(api.patch(f"/sheets/{contacts}", json={"name": "People", "metadata": {"rowHeaders": [1]}}))
    _ok(api.post(f"/sheets/{companies}/lock"))
    _ok(api.post(f"/sheets/{companies}/unlock"))
    _ok(api.post(f"/sheets/{companies}/records", json=_rows({"name": "Acme"}, {"name": "acme"})))
    people = _ok(
        api.post(
            f"/sheets/{contacts}/records",
            json=_rows(
                {"name": "Ada", "email": "ada@x.io", "age": 36, "company": "Acme"},
                {"name": "Bob", "email": "ADA@x.io", "age": "abc", "company": "Nope"},  # duplicate, error cells
                {"name": "Cy", "email": "ada@x.io", "born": "2000-01-02"},
                {"name": "Cy", "born": "2000-01-02"},  # the composite (name, born) repeated
                {"email": "nobody@x.io"},  # a required field missing
            ),
        )
    )["records"]
    ada, bob, cy, cy2, nobody = (r["id"] for r in people)
    fix = [{"id": bob, "values": {"age": {"value": 41}}}, {"id": nobody, "values": {"name": {"value": "Dee"}}}]
    _ok(api.put(f"/sheets/{contacts}/records", json=fix))
    snapshot = _ok(api.post("/snapshots", json={"sheetId": contacts, "label": "fixed"}))["id"]
    _ok(api.delete(f"/sheets/{contacts}/records", params={"ids": ada}))  # the email holder: Bob heals
    _ok(api.put(f"/sheets/{contacts}/records", json=[{"id": cy, "values": {"born": {"value": "2001-01-02"}}}]))
    _ok(api.put(f"/sheets/{contacts}/find-replace", json={"fieldKey": "name", "find": "Dee", "replace": "Di"}))
    _ok(api.delete(f"/snapshots/{_ok(api.post('/snapshots', json={'sheetId': contacts}))['id']}"))
    _ok(api.post(f"/snapshots/{snapshot}/restore", json={}))  # one commit: Ada re-created, Cy and Di reverted
    _ok(api.post("/snapshots", json={"sheetId": deals}))  # goes with its sheet
    _ok(api.delete(f"/sheets/{deals}"))
    _ok(api.post(f"/sheets/{contacts}/lock"))  # left locked
    other = _ok(api.post("/workbooks", json={"name": "Gone", "spaceId": spaces[1], "sheets": [COMPANIES]}))
    _ok(api.post(f"/sheets/{other['sheets'][0]['id']}/records", json=_rows({"name": "Left behind"})))
    _ok(api.delete(f"/workbooks/{other['id']}"))
    _ok(api.post(f"/spaces/{spaces[1]}/archive"))
    _ok(api.post(f"/spaces/{spaces[1]}/unarchive"))
    _ok(api.post(f"/spaces/{spaces[2]}/archive"))
    _ok(api.delete(f"/spaces/{spaces[2]}"))
    return {
        "spaces": spaces,
        "kept_spaces": spaces[:2],  # the deleted one is erased: only directories keep its ids
        "workbooks": [workbook["id"], other["id"]],
        "sheets": [companies, contacts, deals],
        "records": [bob, cy, cy2, nobody],
    }


def _must_hold(projection: object) -> tuple[str, ...]:
    """Which kinds of the scenario's ids a projection's live tables must contain."""
    if isinstance(projection, KnownSpaces):
        return ("spaces",)
    if isinstance(projection, WorkbookCatalog):
        return ("workbooks", "sheets")
    if isinstance(projection, RecordsProjection):
        return ("sheets", "records")
    if type(projection).__name__ == "SpaceDirectory":
        return ("spaces",)  # its tombstone row keeps a deleted space's ids
    return ("kept_spaces",)


@pytest.fixture
async def db(pool: asyncpg.Pool) -> AsyncIterator[Conn]:
    async with pool.acquire() as conn:
        yield conn


@pytest.mark.parametrize("served", services.projections(), ids=lambda s: s.id)
async def test_a_rebuild_from_zero_equals_the_live_read_model(
    served: services.ServiceProjection,
    written: dict[str, list[str]],
    nc: Client,
    pool: asyncpg.Pool,
    db: Conn,
) -> None:
    # The platform's stream and subject prefix are the defaults; decode as the service does.
    runner = ProjectionRunner(EventStore(nc, served.registry), pool, served.projection)
    live_schema = quote_ident(runner.schema)
    shadow = ""
    try:
        for _ in range(ATTEMPTS):
            shadow = await runner.rebuild(swap=False)
            rebuilt_to = await _checkpoint(db, shadow, runner.projection.name)
            assert await runner.wait_for(rebuilt_to, timeout=30), f"the live {runner.schema} stays behind"
            async with db.transaction(isolation="repeatable_read"):  # one moment of the live schema
                live = await readmodels.snapshot(db, runner.schema)
                live_at = await _checkpoint(db, runner.schema, runner.projection.name)
            if live_at == rebuilt_to:
                break
        rebuilt = await readmodels.snapshot(db, shadow)
    finally:
        if shadow:
            await db.execute(f"DROP SCHEMA IF EXISTS {quote_ident(shadow)} CASCADE")
    everything = repr(live)
    for kind in _must_hold(served.projection):
        missing = [i for i in written[kind] if i not in everything]
        assert not missing, f"live {live_schema} lacks the {kind} {missing}"
    assert live["projection_failure"] == []
    assert not readmodels.differences(live, rebuilt)
    assert rebuilt == live


async def _checkpoint(db: Conn, schema: str, name: str) -> int:
    value = await db.fetchval(f"SELECT position FROM {quote_ident(schema)}.projection_checkpoint WHERE name = $1", name)
    return int(value or 0)
