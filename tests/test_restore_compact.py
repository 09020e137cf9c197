"""A restore's compact re-create (`RecordsRestored`, issue 10): records deleted since the position
come back as ids (plus the unique values they hold again) and the records projection copies
each one's version from `record_history` in SQL.

Checked: the restored state equals the earlier one exactly (values, validity, messages, their
`updatedAt`, metadata, counts and errorsByField); the stream holds `RecordsRestored` and no
full-payload insert for it; unique values are held again; time travel before, at and after the
restore; undo and a second restore (several history versions of one record); a rebuild of the
records projection from zero equals the live one; deleting the space erases the restored rows
and the restore's events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
import httpx
import msgspec
import pytest
from nats.aio.client import Client

from record_service.application import restore
from record_service.domain import records as domain
from record_service.domain.validation import UniqueKey
from record_service.projections.records import RecordsProjection
from spaceport.contracts.record import Cell, RecordsRestored, RestoredClaim, StoredRecord
from spaceport.errors import ServiceUnavailableError
from spaceport.eventstore import EventStore
from spaceport.projection import ProjectionRunner
from spaceport.readmodel import quote_ident
from spaceport.settings import Settings
from spaceport.testing import corpus, readmodels, services
from spaceport.testing.platform import Platform

SETTINGS = Settings()
FIELDS = [
    {"key": "name", "type": "string"},
    {"key": "email", "type": "string", "constraints": [{"type": "unique"}, {"type": "required"}]},
]
WAIT = 60.0  # seconds for a job, the projection or the purger (polled, not asserted)


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


@pytest.fixture
async def api(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {platform.secret_key}"}
    async with httpx.AsyncClient(base_url=platform.api, headers=headers, timeout=120) as client:
        yield client


async def restored(api: httpx.AsyncClient, space: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST the restore and wait for its job (bounded): its outcome."""
    job = ok(await api.post(f"/spaces/{space}/restore", json=body))
    deadline = time.monotonic() + WAIT
    while job["status"] not in ("complete", "failed") and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        job = ok(await api.get(f"/jobs/{job['id']}"))
    assert job["status"] == "complete", job
    outcome: dict[str, Any] = job["outcome"]
    return outcome


async def records(api: httpx.AsyncClient, sheet: str, **params: Any) -> dict[str, Any]:
    """id -> the record as served (cells with their updatedAt), without commit/version ids."""
    found = ok(await api.get(f"/sheets/{sheet}/records", params=params))["records"]
    return {r["id"]: {k: v for k, v in r.items() if k not in ("commitId", "versionId")} for r in found}


async def events_of(nc: Client, space: str) -> list[Any]:
    store = EventStore(nc, corpus.registry(), stream=SETTINGS.event_stream, prefix=SETTINGS.event_prefix)
    raw = [m async for m in store.read_raw(f"{SETTINGS.event_prefix}.{space}.>")]
    return list(await store.stored_batch(raw))


async def filled(api: httpx.AsyncClient, name: str) -> dict[str, Any]:
    """Ada (a client's warning on her name), Bob, Cy and Dee (no email: invalid), then all deleted."""
    space = ok(await api.post("/spaces", json={"name": name}))["id"]
    sheet = {"name": "People", "slug": "people", "fields": FIELDS}
    workbook = ok(await api.post("/workbooks", json={"name": "W", "spaceId": space, "sheets": [sheet]}))
    sheet_id = workbook["sheets"][0]["id"]
    rows: list[dict[str, Any]] = [
        {"name": {"value": "Ada", "messages": [{"type": "warn", "message": "check"}]}, "email": {"value": "ada@x.io"}},
        {"name": {"value": "Bob"}, "email": {"value": "bob@x.io"}},
        {"name": {"value": "Cy"}, "email": {"value": "cy@x.io"}},
        {"name": {"value": "Dee"}},
    ]
    first = ok(await api.post(f"/sheets/{sheet_id}/records", json=rows))["records"]
    then = await records(api, sheet_id)
    counts = ok(await api.get(f"/sheets/{sheet_id}/counts"))["counts"]
    ok(await api.delete(f"/sheets/{sheet_id}/records", params={"filter": "all"}))
    assert await records(api, sheet_id) == {}
    return {
        "space": space,
        "sheet": sheet_id,
        "at_insert": first[0]["commitId"],
        "ids": [r["id"] for r in first],
        "then": then,
        "counts": counts,
    }


async def test_a_compact_restore_brings_back_the_exact_earlier_state(api: httpx.AsyncClient, nc: Client) -> None:
    s = await filled(api, "compact")
    space, sheet = s["space"], s["sheet"]
    outcome = await restored(api, space, {"versionId": s["at_insert"], "sheetId": sheet, "workbooks": False})
    [report] = outcome["restore"]["sheets"]
    assert report["deletedSince"] == 4 and len(report["commitIds"]) == 1, report

    assert await records(api, sheet) == s["then"]  # cells, their updatedAt, messages, validity, metadata
    counts = ok(await api.get(f"/sheets/{sheet}/counts"))["counts"]
    assert counts == s["counts"] and counts["error"] == 1, counts
    assert list(await records(api, sheet)) == s["ids"]  # row order as then

    # the restore wrote ids and claims, not records
    [commit_id] = report["commitIds"]
    mine = [e for e in await events_of(nc, space) if getattr(e.event, "commit_id", None) == commit_id]
    assert [e.envelope.type for e in mine] == ["RecordsRestored", "CommitCreated"], mine
    event = mine[0].event
    assert isinstance(event, RecordsRestored)
    assert event.record_ids == s["ids"] and event.position == report["position"]
    assert sorted(event.claims, key=lambda c: c.value) == [
        RestoredClaim(s["ids"][0], "email", "ada@x.io"),
        RestoredClaim(s["ids"][1], "email", "bob@x.io"),
        RestoredClaim(s["ids"][2], "email", "cy@x.io"),
    ]

    # the cell's history says the value came back by a restore, to which position
    history = ok(await api.get(f"/sheets/{sheet}/records/{s['ids'][1]}/history", params={"field": "name"}))
    assert [v["provenance"]["kind"] for v in history] == ["api", "restore"], history
    assert history[-1]["provenance"]["restoredTo"] == report["position"] and history[-1]["value"] == "Bob"

    # `commitId` reads of the restore's commit: the records as it wrote them (read from the read model)
    written = await records(api, sheet, commitId=commit_id)
    assert {i: r["values"] for i, r in written.items()} == {i: r["values"] for i, r in s["then"].items()}
    assert list(written) == s["ids"]
    commit_counts = ok(await api.get(f"/sheets/{sheet}/counts", params={"commitId": commit_id}))["counts"]
    assert (commit_counts["total"], commit_counts["error"]) == (4, 1), commit_counts

    # the unique values are held again: a newcomer with Ada's email is the duplicate
    late = ok(
        await api.post(f"/sheets/{sheet}/records", json=[{"name": {"value": "A2"}, "email": {"value": "ada@x.io"}}])
    )
    assert late["records"][0]["valid"] is False
    assert [m["source"] for m in late["records"][0]["values"]["email"]["messages"]] == ["unique-constraint"]
    ok(await api.delete(f"/sheets/{sheet}/records", params={"ids": late["records"][0]["id"]}))

    # re-created, no longer listed as deleted since the insert (their tombstones gone): only the newcomer is
    since = ok(await api.get(f"/sheets/{sheet}/records", params={"sinceCommitId": s["at_insert"]}))["records"]
    assert {r["id"] for r in since if r["values"]} == set(s["ids"])
    assert [r["id"] for r in since if not r["values"]] == [late["records"][0]["id"]], since

    # time travel: before the restore (all deleted), at the insert, at the restore
    assert await records(api, sheet, asOf=str(report["before"])) == {}
    assert await records(api, sheet, asOf=s["at_insert"]) == s["then"]
    at_restore = await records(api, sheet, asOf=commit_id)
    assert {i: r["values"] for i, r in at_restore.items()} == {i: r["values"] for i, r in s["then"].items()}

    # undo (a delete), then restore again: the version at the insert is found among several
    undo = await restored(api, space, {"sequence": report["before"], "sheetId": sheet, "workbooks": False})
    assert undo["restore"]["sheets"][0]["createdSince"] == 4
    assert await records(api, sheet) == {}
    await restored(api, space, {"versionId": s["at_insert"], "sheetId": sheet, "workbooks": False})
    assert await records(api, sheet) == s["then"]
    assert ok(await api.get(f"/sheets/{sheet}/counts"))["counts"] == s["counts"]


async def test_a_rebuild_of_the_records_projection_equals_live(
    api: httpx.AsyncClient, nc: Client, pool: asyncpg.Pool
) -> None:
    s = await filled(api, "compact-rebuild")
    await restored(api, s["space"], {"versionId": s["at_insert"], "sheetId": s["sheet"], "workbooks": False})
    [served] = [p for p in services.projections() if isinstance(p.projection, RecordsProjection)]
    runner = ProjectionRunner(EventStore(nc, served.registry), pool, served.projection)
    async with pool.acquire() as db:
        shadow = ""
        try:
            for _ in range(3):  # again if the live model moved on while compared
                shadow = await runner.rebuild(swap=False)
                checkpoint = f"SELECT position FROM {{}}.projection_checkpoint WHERE name = '{runner.projection.name}'"
                rebuilt_to = int(await db.fetchval(checkpoint.format(quote_ident(shadow))) or 0)
                assert await runner.wait_for(rebuilt_to, timeout=30)
                async with db.transaction(isolation="repeatable_read"):
                    live = await readmodels.snapshot(db, runner.schema)
                    live_at = int(await db.fetchval(checkpoint.format(quote_ident(runner.schema))) or 0)
                if live_at == rebuilt_to:
                    break
                await db.execute(f"DROP SCHEMA IF EXISTS {quote_ident(shadow)} CASCADE")
            rebuilt = await readmodels.snapshot(db, shadow)
        finally:
            if shadow:
                await db.execute(f"DROP SCHEMA IF EXISTS {quote_ident(shadow)} CASCADE")
    assert s["ids"][0] in repr(live["record"])  # the restored rows are there
    assert not readmodels.differences(live, rebuilt)
    assert rebuilt == live


async def test_deleting_the_space_erases_the_restored_records(
    api: httpx.AsyncClient, nc: Client, pool: asyncpg.Pool
) -> None:
    s = await filled(api, "compact-erasure")
    await restored(api, s["space"], {"versionId": s["at_insert"], "sheetId": s["sheet"], "workbooks": False})
    assert len(await records(api, s["sheet"])) == 4
    ok(await api.delete(f"/spaces/{s['space']}"))
    [served] = [p for p in services.projections() if isinstance(p.projection, RecordsProjection)]
    schema = quote_ident(ProjectionRunner(EventStore(nc, served.registry), pool, served.projection).schema)
    tables = ("record", "record_history", "unique_claim", "record_tombstone", "record_commit")
    deadline = time.monotonic() + WAIT
    while True:
        async with pool.acquire() as conn:
            left = {}
            for table in tables:
                query = f"SELECT count(*) FROM {schema}.{table} WHERE sheet_id = $1"
                left[table] = await conn.fetchval(query, s["sheet"])
        if not any(left.values()) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert not any(left.values()), left
    decoded = await events_of(nc, s["space"])
    assert sum(e.erased for e in decoded) == len(decoded) - 1  # all but SpaceDeleted: the restore's too
    assert not [e for e in decoded if e.envelope.type == "RecordsRestored"]


class _Conn:
    """No connection: `restore.difference` is replaced in these tests."""


def _sheet(version: int, uniques: tuple[UniqueKey, ...] = ()) -> Any:
    return SimpleNamespace(id="us_sh_t", version=version, schema=SimpleNamespace(uniques=uniques))


async def test_the_job_takes_the_previews_difference_only_while_the_sheet_is_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The POST previews, then its job executes: the job (and the POST's check after a GET
    preview) takes the preview's difference when no records event moved the sheet since (the
    same difference), and computes it again otherwise."""
    computed: list[int] = []

    async def difference(conn: Any, sheet: Any, position: int) -> restore.Difference:
        computed.append(sheet.version)
        return restore.Difference(created=[f"c{sheet.version}"], updated=[], deleted=["d1", "d2"])

    monkeypatch.setattr(restore, "difference", difference)
    handlers = restore.RestoreHandlers(cast(Any, None))
    conn = cast(Any, _Conn())
    previewed = await handlers._difference(conn, _sheet(7), 5, preview=True)
    # the POST's own check right after a GET preview: the kept one, still there for the job
    assert await handlers._difference(conn, _sheet(7), 5, preview=True) == previewed and computed == [7]
    executed = await handlers._difference(conn, _sheet(7), 5, preview=False)
    assert executed == previewed and computed == [7]
    # taken once: a second execution (a retried job) computes it
    assert await handlers._difference(conn, _sheet(7), 5, preview=False) == previewed and computed == [7, 7]
    # a write between the preview and the job: computed again at the sheet's new version
    await handlers._difference(conn, _sheet(7), 5, preview=True)
    moved = await handlers._difference(conn, _sheet(9), 5, preview=False)
    assert moved.created == ["c9"] and computed == [7, 7, 7, 9]
    # another position is another difference
    await handlers._difference(conn, _sheet(9), 5, preview=True)
    await handlers._difference(conn, _sheet(9), 6, preview=False)
    assert computed == [7, 7, 7, 9, 9, 9]
    # a preview after a write: computed again
    await handlers._difference(conn, _sheet(9), 7, preview=True)
    again = await handlers._difference(conn, _sheet(10), 7, preview=True)
    assert again.created == ["c10"] and computed == [7, 7, 7, 9, 9, 9, 9, 10]
    # empty lists survive being kept
    monkeypatch.setattr(restore, "difference", lambda *a: _empty())
    await handlers._difference(conn, _sheet(9), 8, preview=True)
    assert await handlers._difference(conn, _sheet(9), 8, preview=False) == restore.Difference(
        created=[], updated=[], deleted=[]
    )


async def _empty() -> restore.Difference:
    return restore.Difference(created=[], updated=[], deleted=[])


class _Held:
    """`claims_held` over a fixed {key name: {value: holder}}."""

    def __init__(self, held: dict[str, dict[str, str]]) -> None:
        self.held = held

    async def claims_held(self, sheet_id: str, name: str, values: Any) -> dict[str, str]:
        return {v: h for v, h in self.held.get(name, {}).items() if v in values}


async def test_a_compact_re_create_claims_what_checked_would_give_it() -> None:
    """The re-created records' claims (decided without a Python object per cell) are the ones the
    ordinary insert path (`checked`) gives them, in record order then key order; a chunk in which a
    record would be flagged (its value held by another record, or wanted twice) is None: it takes
    the full path, which flags it."""
    email = UniqueKey(name="email", fields=("email",))
    pair = UniqueKey(name="constraint:np", fields=("name", "plz"), case_sensitive=True)
    sheet = _sheet(1, (email, pair))
    handlers = restore.RestoreHandlers(cast(Any, None))

    def rows(*values: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"id": f"r{i}", "u": msgspec.json.encode(v).decode()} for i, v in enumerate(values)]

    wanted = rows(
        {"email": "Ada@X.io", "name": "Ada", "plz": 1},
        {"email": None, "name": "Bob", "plz": None},  # no email: claims none under it
        {"email": "", "name": "", "plz": ""},  # empty: claims nothing
    )
    claims = await handlers._claims(sheet, cast(Any, _Held({"email": {"ada@x.io": "r0"}})), wanted)
    assert claims == [
        RestoredClaim("r0", "email", "ada@x.io"),
        RestoredClaim("r0", "constraint:np", "Ada\x1f1"),
        RestoredClaim("r1", "constraint:np", "Bob\x1f"),
    ]
    stand_ins = [StoredRecord(id=r["id"], values=msgspec.json.decode(r["u"], type=dict[str, Any])) for r in wanted]
    expected = domain.apply_uniques((email, pair), [_cells(s) for s in stand_ins], lambda name: {})
    assert [RestoredClaim(d.id, n, v) for d in expected for n, v in d.claims.items()] == claims

    held_elsewhere = _Held({"email": {"ada@x.io": "someone"}})
    assert await handlers._claims(sheet, cast(Any, held_elsewhere), wanted) is None
    twice = rows({"email": "a@x.io"}, {"email": "A@x.io"})
    assert await handlers._claims(sheet, cast(Any, _Held({})), twice) is None
    assert await handlers._claims(_sheet(1), cast(Any, _Held({})), twice) == []  # no unique keys


def _cells(record: StoredRecord) -> StoredRecord:
    return msgspec.structs.replace(record, values={k: Cell(value=v) for k, v in record.values.items()})


class _Settling:
    """A context whose records projection applies the restore's last commit after `after` waits
    (None: never)."""

    def __init__(self, after: int | None) -> None:
        self.after, self.waits = after, 0

    async def settled(self, sheet_id: str, min_position: int = 0, timeout: float = 60.0) -> bool:
        self.waits += 1
        return self.after is not None and self.waits > self.after


@pytest.mark.parametrize("after", [0, 2, None], ids=["projected", "after-two-waits", "never"])
async def test_a_restore_is_complete_only_once_its_records_are_readable(
    monkeypatch: pytest.MonkeyPatch, after: int | None
) -> None:
    """The job waits (reporting progress) until the projection applied its last commit; past
    SETTLE_LIMIT it fails, saying the commits landed, instead of completing unreadable."""
    monkeypatch.setattr(restore, "SETTLE_LIMIT", 0.05)
    monkeypatch.setattr(restore, "PROGRESS_EVERY", 0.0)
    ctx = _Settling(after)
    reported: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        reported.append((done, total))
        await asyncio.sleep(0.03)  # the waits add up past the limit when the projection never applies it

    handlers = restore.RestoreHandlers(cast(Any, ctx))
    reports = restore._Reports(progress)
    if after is None:
        with pytest.raises(ServiceUnavailableError, match="its 3 commits were written"):
            await handlers._readable("us_sh_t", 3, reports, 10, 10)
        assert ctx.waits >= 2 and reported
    else:
        await handlers._readable("us_sh_t", 3, reports, 10, 10)
        await reports.flush()
        assert ctx.waits == after + 1
        assert reported == [(10, 10)] * after  # one report per wait it had to make
