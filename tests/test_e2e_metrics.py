"""Space metrics end to end: an import scripted through the API, counted as it goes, then the metrics
(`GET /v1/spaces/{id}/metrics`, `GET /v1/metrics`, and the `spaceport metrics` CLI) must equal the
counts exactly. The environment is a fresh one, so its totals are this module's spaces alone."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import httpx
import pytest

from spaceport import cli
from spaceport.testing.infra import InfraUrls
from spaceport.testing.platform import Platform

T = TypeVar("T")
DEADLINE = 30.0
SHEET = {
    "name": "Contacts",
    "slug": "contacts",
    "fields": [
        {"key": "name", "type": "string", "constraints": [{"type": "required"}]},
        {"key": "email", "type": "string"},
    ],
}
SUBMIT: dict[str, Any] = {"operation": "submitActionFg", "label": "Submit", "mode": "foreground", "primary": True}
CSV = b"name,email\nAda,ada@x.io\nGrace,grace@x.io\nLin,lin@x.io\n"


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def eventually(probe: Callable[[], T | None], what: str) -> T:
    deadline = time.monotonic() + DEADLINE
    while True:
        found = probe()
        if found is not None:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class Done:
    """What the script did to the main space, counted as it went."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    valid: dict[str, bool] = field(default_factory=dict)  # record id -> valid, in the contacts sheet
    extracted: int = 0  # records the extraction put in its source sheet (all valid: strings only)
    files_created: int = 0
    files_deleted: int = 0
    guests: int = 0
    submit_job: dict[str, Any] = field(default_factory=dict)


@dataclass
class World:
    api: httpx.Client
    environment: str
    app: str
    space: str  # of the app
    other: str  # of no app
    done: Done


def rows(*people: dict[str, str]) -> list[dict[str, Any]]:
    return [{key: {"value": value} for key, value in person.items()} for person in people]


def insert(w: World, sheet: str, *people: dict[str, str]) -> list[str]:
    written = ok(w.api.post(f"/sheets/{sheet}/records", json=rows(*people)))["records"]
    for record in written:
        w.done.valid[record["id"]] = bool(record["values"]["name"].get("value"))
    w.done.created += len(written)
    return [r["id"] for r in written]


def update(w: World, sheet: str, changes: dict[str, dict[str, str]]) -> None:
    body = [{"id": rid, "values": {k: {"value": v} for k, v in values.items()}} for rid, values in changes.items()]
    ok(w.api.put(f"/sheets/{sheet}/records", json=body))
    for rid, values in changes.items():
        if "name" in values:
            w.done.valid[rid] = bool(values["name"])
    w.done.updated += len(changes)


def delete(w: World, sheet: str, *record_ids: str) -> None:
    ok(w.api.delete(f"/sheets/{sheet}/records", params=[("ids", r) for r in record_ids]))
    for rid in record_ids:
        del w.done.valid[rid]
    w.done.deleted += len(record_ids)


def upload(w: World, content: bytes, name: str, mode: str) -> str:
    form = {"spaceId": w.space, "environmentId": w.environment, "mode": mode}
    file_id: str = ok(w.api.post("/files", data=form, files={"file": (name, content, "text/csv")}))["id"]
    w.done.files_created += 1
    return file_id


def extracted(w: World, file_id: str) -> None:
    def finished() -> dict[str, Any] | None:
        jobs = ok(w.api.get("/jobs", params={"fileId": file_id}))
        return next((j for j in jobs if j["status"] in ("complete", "failed")), None)

    job = eventually(finished, f"the extract job of {file_id}")
    assert job["status"] == "complete", job
    w.done.extracted += 3


def invite(w: World, space: str) -> str:
    body = [{"environmentId": w.environment, "email": f"g-{uuid.uuid4().hex[:6]}@x.io", "name": "G",
             "spaces": [{"id": space, "role": "editor"}]}]  # fmt: skip
    guest_id: str = ok(w.api.post("/guests", json=body))[0]["id"]
    return guest_id


def run_job(w: World, operation: str, source: str) -> dict[str, Any]:
    job = ok(w.api.post("/jobs", json={"type": "workbook", "operation": operation, "source": source}))
    ok(w.api.post(f"/jobs/{job['id']}/execute"))
    ok(w.api.post(f"/jobs/{job['id']}/ack", json={"progress": 50}))
    done: dict[str, Any] = ok(w.api.post(f"/jobs/{job['id']}/complete", json={"outcome": {"message": "done"}}))
    return done


def script(w: World) -> None:
    workbook = ok(w.api.post("/workbooks", json={"name": "Import", "spaceId": w.space, "sheets": [SHEET],
                                                 "actions": [SUBMIT]}))  # fmt: skip
    sheet = workbook["sheets"][0]["id"]
    extracted(w, upload(w, CSV, "people.csv", "import"))
    export = upload(w, b"a\n1\n", "export.csv", "export")
    ok(w.api.delete(f"/files/{export}"))
    w.done.files_deleted += 1
    ada, bob, cy, nameless, anon = insert(
        w, sheet, {"name": "Ada"}, {"name": "Bob"}, {"name": "Cy"}, {"email": "n@x.io"}, {"email": "a@x.io"}
    )
    update(w, sheet, {nameless: {"name": "Dee"}, ada: {"email": "ada@x.io"}, bob: {"email": "bob@x.io"}})
    update(w, sheet, {ada: {"email": "ada@y.io"}})
    delete(w, sheet, cy, bob)
    insert(w, sheet, {"name": "Eve"})
    assert anon in w.done.valid and not w.done.valid[anon]  # one error left
    first = invite(w, w.space)
    invite(w, w.space)
    ok(w.api.delete(f"/guests/{first}"))
    w.done.guests = 1
    invite(w, w.other)
    run_job(w, "downloadWorkbook", workbook["id"])  # complete, but not a submit
    w.done.submit_job = run_job(w, SUBMIT["operation"], workbook["id"])
    run_job(w, "submitAction", workbook["id"])  # a later submit: the first one counts


@pytest.fixture(scope="module")
def world(platform: Platform) -> Iterator[World]:
    with platform.client(timeout=60) as dev:
        env = ok(dev.post("/environments", json={"name": f"metrics-{uuid.uuid4().hex[:6]}", "isProd": False}))
    headers = {"Authorization": f"Bearer {env['secretKey']}"}
    with httpx.Client(base_url=platform.api, headers=headers, timeout=60) as api:
        app = ok(api.post("/apps", json={"name": "Metrics app", "type": "PORTAL"}))["id"]
        space = ok(api.post("/spaces", json={"name": "metrics main", "appId": app}))["id"]
        other = ok(api.post("/spaces", json={"name": "metrics other"}))["id"]
        w = World(api=api, environment=env["id"], app=app, space=space, other=other, done=Done())
        script(w)
        yield w


def feed_of(w: World, space: str, expected: int) -> list[dict[str, Any]]:
    """The space's Flatfile events, once the feed (its own projection) lists `expected` of them."""

    def listed() -> list[dict[str, Any]] | None:
        params: dict[str, str | int] = {"spaceId": space, "includeAcknowledged": "true", "pageSize": 1000}
        found: list[dict[str, Any]] = ok(w.api.get("/events", params=params))
        return found if len(found) >= expected else None

    return eventually(listed, f"{expected} events of {space} in the feed")


def test_a_space_metrics_are_what_the_script_did(world: World) -> None:
    w, done = world, world.done
    got = ok(w.api.get(f"/spaces/{w.space}/metrics"))
    assert (got["spaceId"], got["environmentId"], got["appId"]) == (w.space, w.environment, w.app)
    assert got["records"] == {
        "created": done.created + done.extracted,
        "updated": done.updated,
        "deleted": done.deleted,
        "valid": sum(done.valid.values()) + done.extracted,
        "error": sum(not v for v in done.valid.values()),
    }
    assert got["files"] == {"current": done.files_created - done.files_deleted, "created": done.files_created}
    assert got["guests"] == done.guests
    space = ok(w.api.get(f"/spaces/{w.space}"))
    assert when(got["createdAt"]) == when(space["createdAt"])
    assert when(got["firstSubmitAt"]) == when(done.submit_job["finishedAt"])
    assert got["secondsToFirstSubmit"] == pytest.approx(
        (when(got["firstSubmitAt"]) - when(space["createdAt"])).total_seconds()
    )
    events = feed_of(w, w.space, got["events"])
    assert got["events"] == len(events)
    assert when(got["lastActivityAt"]) == max(when(e["createdAt"]) for e in events)
    # valid / error agree with the sheets' own counts
    sheets = [s for wb in ok(w.api.get("/workbooks", params={"spaceId": w.space})) for s in wb["sheets"]]
    assert got["records"]["valid"] == sum(s["recordCounts"]["valid"] for s in sheets)
    assert got["records"]["error"] == sum(s["recordCounts"]["error"] for s in sheets)


def test_the_environment_totals_and_the_app_breakdown(world: World) -> None:
    w = world
    main, other = (ok(w.api.get(f"/spaces/{s}/metrics")) for s in (w.space, w.other))
    totals = ok(w.api.get("/metrics"))
    assert (totals["environmentId"], totals["appId"], totals["spaces"], totals["submittedSpaces"]) == (
        w.environment, None, 2, 1,
    )  # fmt: skip
    assert totals["events"] == main["events"] + other["events"]
    assert totals["guests"] == main["guests"] + other["guests"] == 2
    assert totals["averageSecondsToFirstSubmit"] == pytest.approx(main["secondsToFirstSubmit"])
    assert totals["records"] == main["records"]  # the other space holds none
    assert [(a["appId"], a["spaces"], a["events"]) for a in totals["apps"]] == [
        (None, 1, other["events"]),
        (w.app, 1, main["events"]),
    ]
    mine = ok(w.api.get("/metrics", params={"environmentId": w.environment, "appId": w.app}))
    assert (mine["appId"], mine["spaces"], mine["events"], mine["records"]) == (
        w.app, 1, main["events"], main["records"],
    )  # fmt: skip
    assert [a["appId"] for a in mine["apps"]] == [w.app]
    refused = w.api.get("/metrics", params={"appId": "not an app"})
    assert refused.status_code == 400 and refused.json()["errors"][0]["key"] == "appId"


def test_the_cli_prints_the_same_numbers(
    world: World, infra: InfraUrls, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    w = world
    monkeypatch.setenv("NATS_URL", infra.nats_url)
    assert cli.run(["metrics", "space", w.space, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == ok(w.api.get(f"/spaces/{w.space}/metrics"))
    assert cli.run(["metrics", "environment", w.environment, "--app", w.app, "--json"]) == 0
    api = ok(w.api.get("/metrics", params={"appId": w.app}))
    assert json.loads(capsys.readouterr().out) == api
    assert cli.run(["metrics", "space", w.space]) == 0
    table = capsys.readouterr().out
    main = ok(w.api.get(f"/spaces/{w.space}/metrics"))
    assert f"events         {main['events']}\n" in table
    assert f"{main['records']['valid']} valid, {main['records']['error']} with errors" in table
    assert cli.run(["metrics", "environment", w.environment]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"environment {w.environment}"
    assert [line.split()[0] for line in lines[2:]] == ["(no", w.app, "total"]
    assert cli.run(["metrics", "space", "us_sp_missing00"]) == 1
    assert "space us_sp_missing00 not found" in capsys.readouterr().err
