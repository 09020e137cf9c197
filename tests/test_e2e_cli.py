"""The `spaceport` operator CLI against the running platform: export of a space (CSV and JSON,
equal to what the API answers), `events tail` of one space, `cleanup` of archived spaces (in an
environment of its own), and a rebuild of one service's projections from the CLI (into a
database of its own, from the platform's stream) that equals the live read model."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from spaceport import cli
from spaceport.cli import events
from spaceport.cli.projections import service_runtime
from spaceport.ports import RawMessage
from spaceport.settings import Settings
from spaceport.testing import readmodels
from spaceport.testing.infra import InfraUrls
from spaceport.testing.platform import Platform

FIELDS = [
    {"key": "name", "type": "string"},
    {"key": "email", "type": "string", "constraints": [{"type": "unique"}]},
    {"key": "age", "type": "number"},
]
RECORDS = 300


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=120) as client:
        yield client


@pytest.fixture
def env(platform: Platform, infra: InfraUrls, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's environment: the platform's API and key, the session's NATS."""
    monkeypatch.setenv("SPACEPORT_API_URL", platform.api)
    monkeypatch.setenv("SPACEPORT_API_KEY", platform.secret_key)
    monkeypatch.setenv("NATS_URL", infra.nats_url)


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


@pytest.fixture
def space(api: httpx.Client) -> dict[str, str]:
    """A space with a workbook of two sheets: People (RECORDS records, one with an error) and an empty one."""
    space_id = ok(api.post("/spaces", json={"name": "cli export"}))["id"]
    sheets = [
        {"name": "People", "slug": "people", "fields": FIELDS},
        {"name": "Empty", "slug": "empty", "fields": FIELDS},
    ]
    workbook = ok(api.post("/workbooks", json={"name": "Book", "spaceId": space_id, "sheets": sheets}))
    people = workbook["sheets"][0]["id"]
    rows = [{"name": f"n{i}", "email": f"p{i}@x.io", "age": i} for i in range(RECORDS - 1)]
    rows.append({"name": "dup", "email": "p1@x.io", "age": "old"})  # a unique and a number error
    ok(api.post(f"/sheets/{people}/records", json=rows))
    return {"space": space_id, "workbook": workbook["id"], "people": people, "empty": workbook["sheets"][1]["id"]}


def test_export_writes_every_sheet_as_the_api_answers_it(
    env: None, api: httpx.Client, space: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    as_json, as_csv = tmp_path / "json", tmp_path / "csv"
    assert cli.run(["export", space["space"], "--out", str(as_json), "--format", "json"]) == 0
    assert cli.run(["export", space["space"], "--out", str(as_csv)]) == 0
    assert "exported 1 workbooks, 2 sheets" in capsys.readouterr().out

    records = ok(api.get(f"/sheets/{space['people']}/records", params={"pageSize": 10_000}))["records"]
    assert len(records) == RECORDS
    assert json.loads((as_json / "Book" / "People.json").read_text()) == records
    assert json.loads((as_json / "Book" / "Empty.json").read_text()) == []

    download = api.get(f"/sheets/{space['people']}/download")
    assert download.status_code == 200
    written = (as_csv / "Book" / "People.csv").read_bytes()
    assert written == download.content
    rows = list(csv.reader(io.StringIO(written.decode())))
    assert len(rows) == RECORDS + 1 and rows[-1][:2] == ["dup", "p1@x.io"]

    manifest = json.loads((as_csv / "manifest.json").read_text())
    assert manifest["spaceId"] == space["space"] and manifest["format"] == "csv"
    [book] = manifest["workbooks"]
    assert book["id"] == space["workbook"]
    assert [(s["id"], s["file"], s["records"]) for s in book["sheets"]] == [
        (space["people"], "Book/People.csv", RECORDS),
        (space["empty"], "Book/Empty.csv", 0),
    ]


def test_export_of_an_unknown_space(env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(["export", "us_sp_nosuch00", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: not found (404") and err.count("\n") == 1


def test_events_tail_shows_that_space_only(
    env: None, api: httpx.Client, space: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    other = ok(api.post("/spaces", json={"name": "cli other"}))["id"]
    capsys.readouterr()
    assert cli.run(["events", "tail", "--space", space["space"], "--last", "10000", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines, "no events for the space"
    assert {line["envelope"]["spaceId"] for line in lines} == {space["space"]}
    assert all(line["subject"].startswith(f"evt.{space['space']}.") for line in lines)
    assert [line["seq"] for line in lines] == sorted(line["seq"] for line in lines)
    types = [line["envelope"]["type"] for line in lines]
    assert types[:3] == ["SpaceCreated", "WorkbookCreated", "RecordsInserted"], types
    assert other not in json.dumps(lines)

    assert cli.run(["events", "tail", "--space", space["space"], "--type", "records_inserted", "--json"]) == 0
    inserted = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [i["seq"] for i in inserted] == [
        line["seq"] for line in lines if line["envelope"]["type"] == "RecordsInserted"
    ]
    chosen = types[-1]
    assert cli.run(["events", "tail", "--space", space["space"], "--last", "10000", "--type", chosen, "--json"]) == 0
    filtered = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [f["seq"] for f in filtered] == [line["seq"] for line in lines if line["envelope"]["type"] == chosen]

    since = lines[len(lines) // 2]["seq"]
    assert cli.run(["events", "tail", "--space", space["space"], "--since", str(since), "--json"]) == 0
    assert [json.loads(x)["seq"] for x in capsys.readouterr().out.splitlines()] == [
        line["seq"] for line in lines if line["seq"] >= since
    ]
    assert cli.run(["events", "tail", "--space", space["space"], "--last", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].split()[0] == str(lines[-1]["seq"])


def test_cleanup_lists_then_deletes_archived_spaces(
    env: None, platform: Platform, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with platform.client(timeout=60) as dev:  # an environment of its own: other tests' archived spaces stay
        created = ok(dev.post("/environments", json={"name": "cli cleanup", "isProd": False}))
    environment, key = created["id"], created["secretKey"]
    monkeypatch.setenv("SPACEPORT_API_KEY", key)
    with platform.client(timeout=60) as anyone:
        headers = {"Authorization": f"Bearer {key}"}
        archived = ok(anyone.post("/spaces", json={"name": "old", "environmentId": environment}, headers=headers))["id"]
        kept = ok(anyone.post("/spaces", json={"name": "live", "environmentId": environment}, headers=headers))["id"]
        ok(anyone.post(f"/spaces/{archived}/archive", headers=headers))

        assert cli.run(["cleanup", "--archived-older-than", "1", "--environment", environment, "--dry-run"]) == 0
        assert "no space archived more than 1 days ago" in capsys.readouterr().out
        args = ["cleanup", "--archived-older-than", "0", "--environment", environment]
        assert cli.run([*args, "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert archived in out and kept not in out and "1 spaces would be deleted" in out
        assert anyone.get(f"/spaces/{archived}", headers=headers).status_code == 200

        assert cli.run([*args, "--yes"]) == 0
        assert f"deleted {archived}" in capsys.readouterr().out
        assert anyone.get(f"/spaces/{archived}", headers=headers).status_code == 404
        assert anyone.get(f"/spaces/{kept}", headers=headers).status_code == 200
        assert cli.run([*args, "--yes"]) == 0
        assert "no space archived" in capsys.readouterr().out


def test_history_and_restore_from_the_cli(
    env: None, api: httpx.Client, space: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.run(["history", space["space"], "--json"]) == 0
    versions = json.loads(capsys.readouterr().out)
    assert versions and all(v["spaceId"] == space["space"] for v in versions)
    assert [v["sequence"] for v in versions] == sorted((v["sequence"] for v in versions), reverse=True)
    assert cli.run(["history", space["space"], "--limit", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == versions[:1]
    assert cli.run(["history", space["space"], "--sheet", space["people"], "--json"]) == 0
    on_sheet = json.loads(capsys.readouterr().out)
    assert on_sheet and all(v.get("sheetId") in (space["people"], None) for v in on_sheet)
    assert cli.run(["history", space["space"]]) == 0
    assert str(versions[0]["id"]) in capsys.readouterr().out
    assert cli.run(["history", "us_sp_nosuch00"]) == 1
    assert "not found" in capsys.readouterr().err
    code = cli.run(["restore", space["space"], "--at", "2000-01-01T00:00:00Z", "--sheet", space["people"], "--preview"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    row = next(line for line in captured.out.splitlines() if space["people"] in line)
    assert str(RECORDS) in row.split("│")[4]  # every record was created since then

    at = ["restore", space["space"], "--sheet", space["people"]]
    assert cli.run([*at, "--at", "2000-01-01T00:00:00Z"]) == 0  # executes, waits for the job
    out = capsys.readouterr().out
    assert "Restored" in out and "undo:" in out
    assert ok(api.get(f"/sheets/{space['people']}/records"))["records"] == []
    undo = json.loads(out.split("undo: ", 1)[1].split(" (", 1)[0])
    assert cli.run([*at, "--sequence", str(undo[space["people"]])]) == 0  # undone
    capsys.readouterr()
    assert len(ok(api.get(f"/sheets/{space['people']}/records"))["records"]) == RECORDS


def test_rebuild_from_the_cli_equals_live(
    env: None, infra: InfraUrls, space: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """`spaceport rebuild workbook` into a fresh database (the platform's read model is not touched;
    --force since the platform's workbook service answers), compared table by table with live."""
    name = f"cli_rebuild_{uuid.uuid4().hex[:8]}"
    fresh = asyncio.run(_create_database(infra.database_url, name))
    monkeypatch.setenv("DATABASE_URL", fresh)
    try:
        projections = [p.name for p in service_runtime("workbook", Settings.from_env("workbook")).projections]
        differ: list[str] = []
        for _ in range(3):  # the live read model may move on while one attempt is compared
            assert cli.run(["rebuild", "workbook", "--force"]) == 0
            out = capsys.readouterr().out
            assert all(f"workbook:{p}: live, at position" in out for p in projections), out
            differ = asyncio.run(_differences(infra.database_url, fresh, projections))
            if not differ:
                break
        assert not differ
        # again: now the (fresh database's) live schema is not empty, so each shadow is compared first
        assert cli.run(["rebuild", "workbook", "--force"]) == 0
        out = capsys.readouterr().out
        assert all(f"{p}: verified: the rebuild equals the live schema" in out for p in projections), out
        # a live row that no event explains: the rebuild stops before the swap and names the table
        catalog = next(p for p in projections if p.endswith("_catalog"))
        tampered = asyncio.run(_tamper(fresh, catalog))
        assert cli.run(["rebuild", "workbook", "--force", "--projection", catalog]) == 1
        err = capsys.readouterr().err
        assert "differs from the live schema" in err and "workbook:" in err and "--accept-differences" in err, err
        assert asyncio.run(_name_of(fresh, catalog, tampered)) == "tampered"  # live untouched
        assert cli.run(["rebuild", "workbook", "--force", "--projection", catalog, "--accept-differences"]) == 0
        capsys.readouterr()
        assert asyncio.run(_name_of(fresh, catalog, tampered)) != "tampered"  # the rebuild is live
        assert cli.run(["rebuild", "workbook"]) == 1  # without --force: refused while the service runs
        assert "the workbook service is running" in capsys.readouterr().err
        assert cli.run(["rebuild", "workbook", "--projection", "nosuch", "--force"]) == 1
        assert "has no projection 'nosuch'" in capsys.readouterr().err
    finally:
        asyncio.run(_drop_database(infra.database_url, name))


async def _create_database(url: str, name: str) -> str:
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return url.rsplit("/", 1)[0] + "/" + name


async def _drop_database(url: str, name: str) -> None:
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _tamper(url: str, schema: str) -> str:
    """Renames one workbook behind the projection's back; returns its id."""
    conn = await asyncpg.connect(url)
    try:
        found = await conn.fetchval(f'SELECT id FROM "{schema}".workbook ORDER BY id LIMIT 1')
        await conn.execute(f'UPDATE "{schema}".workbook SET name = $1 WHERE id = $2', "tampered", found)
        return str(found)
    finally:
        await conn.close()


async def _name_of(url: str, schema: str, workbook_id: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return str(await conn.fetchval(f'SELECT name FROM "{schema}".workbook WHERE id = $1', workbook_id))
    finally:
        await conn.close()


async def _differences(live_url: str, rebuilt_url: str, schemas: list[str]) -> list[str]:
    live, rebuilt = await asyncpg.connect(live_url), await asyncpg.connect(rebuilt_url)
    try:
        found: list[str] = []
        for schema in schemas:
            async with live.transaction(isolation="repeatable_read"):
                was = await readmodels.snapshot(live, schema)
            now = await readmodels.snapshot(rebuilt, schema)
            assert was, f"live schema {schema} is empty"
            found += [f"{schema}: {d}" for d in readmodels.differences(was, now)]
            if not found and was != now:
                found.append(f"{schema}: rows differ")
        return found
    finally:
        await live.close()
        await rebuilt.close()


async def test_events_tail_follow_prints_new_events(env: None, api: httpx.Client, space: dict[str, str]) -> None:
    """--follow from now (an ISO time past the stream's end) prints the events appended afterwards."""
    got: list[str] = []
    seen = asyncio.Event()

    def emit(message: RawMessage) -> None:
        got.append(message.subject)
        if message.subject.endswith(".records_inserted"):
            seen.set()

    since = datetime.now(UTC).isoformat()
    options = events.Tail(space=space["space"], since=since, follow=True)
    task = asyncio.create_task(events.tail(Settings.from_env("cli"), options, emit))
    try:
        await asyncio.sleep(0.5)  # let it reach the end of the stream (not an assertion)
        assert got == []
        late = [{"name": "late", "email": "late@x.io"}]
        ok(await asyncio.to_thread(api.post, f"/sheets/{space['people']}/records", json=late))
        await asyncio.wait_for(seen.wait(), timeout=30)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert all(s.startswith(f"evt.{space['space']}.") for s in got)
    assert [s.rsplit(".", 1)[-1] for s in got][:1] == ["records_inserted"]
