"""The example Contacts listener (shared/listener/examples/contacts.py), run as its own process
against the platform: it configures a new space, validates emails in a record hook, and completes
the submit action — and, killed with SIGKILL in the middle of the submit job and started again,
it completes that job once, with nothing created twice.

The listener gets a fresh environment of its own, so it sees only this test's events.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from spaceport.testing.platform import Platform

EXAMPLE = Path(__file__).resolve().parents[1] / "shared" / "listener" / "examples" / "contacts.py"
T = TypeVar("T")


def eventually(
    check: Callable[[], T | None], what: str, timeout: float = 120.0, diagnose: Callable[[], str] | None = None
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" + (f"\n{diagnose()}" if diagnose else ""))
        time.sleep(0.2)


class ListenerProcess:
    def __init__(self, platform: Platform, token: str, environment_id: str, work: Path) -> None:
        self.platform, self.token, self.environment_id, self.work = platform, token, environment_id, work
        self.cursor = work / "contacts.cursor"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, **extra: str) -> None:
        self.starts += 1
        env = {
            **os.environ,
            "SPACEPORT_API_URL": self.platform.api,
            "SPACEPORT_TOKEN": self.token,
            "SPACEPORT_ENVIRONMENT_ID": self.environment_id,
            "SPACEPORT_LISTENER_CURSOR": str(self.cursor),
            **extra,
        }
        with (self.work / f"listener-{self.starts}.log").open("wb") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen([sys.executable, str(EXAMPLE)], env=env, stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def wait_connected(self, timeout: float = 60.0) -> None:
        """Until the listener's event stream answered: a stream without a cursor starts at "now"."""
        log = self.work / f"listener-{self.starts}.log"
        deadline = time.monotonic() + timeout
        while "listening on" not in (log.read_text(errors="replace") if log.exists() else ""):
            assert self.proc is not None and self.proc.poll() is None, "the listener exited\n" + self.log()
            assert time.monotonic() < deadline, "the listener did not connect\n" + self.log()
            time.sleep(0.1)

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.work.glob("listener-*.log")))


@pytest.fixture
def environment(platform: Platform) -> dict[str, Any]:
    with platform.client(timeout=30) as api:
        reply = api.post("/environments", json={"name": "listener example", "isProd": False})
        assert reply.status_code == 200, reply.text
        env: dict[str, Any] = reply.json()["data"]
        return env


@pytest.fixture
def api(platform: Platform, environment: dict[str, Any]) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {environment['secretKey']}"}
    with httpx.Client(base_url=platform.api, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def listener(platform: Platform, environment: dict[str, Any], tmp_path: Path) -> Iterator[ListenerProcess]:
    process = ListenerProcess(platform, environment["secretKey"], environment["id"], tmp_path)
    yield process
    process.stop()


def events_of_environment(api: httpx.Client) -> list[dict[str, Any]] | None:
    reply = api.get("/events", params={"pageSize": 1000, "includeAcknowledged": "true"})
    assert reply.status_code == 200, reply.text
    found: list[dict[str, Any]] = reply.json()["data"]
    return found or None


def diagnose(api: httpx.Client, space_id: str, listener: ListenerProcess) -> str:
    topics = [(e["topic"], e["payload"].get("job")) for e in events(api, space_id, "**")]
    return f"jobs: {jobs(api, space_id)}\nspace events: {topics}\nlistener log:\n{listener.log()}"


def jobs(api: httpx.Client, space_id: str) -> list[dict[str, Any]]:
    reply = api.get("/jobs", params={"spaceId": space_id, "pageSize": 100})
    assert reply.status_code == 200, reply.text
    found: list[dict[str, Any]] = reply.json()["data"]
    return found


def events(api: httpx.Client, space_id: str, topic: str) -> list[dict[str, Any]]:
    reply = api.get(
        "/events", params={"spaceId": space_id, "topic": topic, "pageSize": 1000, "includeAcknowledged": "true"}
    )
    assert reply.status_code == 200, reply.text
    found: list[dict[str, Any]] = reply.json()["data"]
    return found


def test_example_listener_configures_validates_and_survives_a_kill_mid_job(
    api: httpx.Client, listener: ListenerProcess
) -> None:
    # The listener resumes after the environment's newest event (as a deployed listener resumes
    # from its cursor file), so nothing the test does next can slip past it.
    newest = eventually(lambda: events_of_environment(api), "the new environment's events in the feed")
    listener.cursor.write_text(newest[-1]["id"])
    listener.start(CONTACTS_SUBMIT_PAUSE="60")
    listener.wait_connected()

    # 1. space:configure: workbook, document, theme, primary workbook; the job completes.
    space_id = api.post("/spaces", json={"name": "Contacts import", "autoConfigure": True}).json()["data"]["id"]

    def configured() -> dict[str, Any] | None:
        done = [j for j in jobs(api, space_id) if j["operation"] == "configure" and j["status"] == "complete"]
        return done[0] if done else None

    eventually(configured, "the space:configure job to complete", diagnose=lambda: diagnose(api, space_id, listener))
    workbooks = api.get("/workbooks", params={"spaceId": space_id}).json()["data"]
    assert [w["name"] for w in workbooks] == ["Customer Data"]
    workbook = workbooks[0]
    sheet = workbook["sheets"][0]
    assert sheet["config"]["slug"] == "contacts" or sheet.get("slug") == "contacts"
    assert [a["operation"] for a in workbook["actions"]] == ["submitActionFg"]
    documents = api.get(f"/spaces/{space_id}/documents").json()["data"]
    assert [d["title"] for d in documents] == ["Welcome Guide"]
    space = api.get(f"/spaces/{space_id}").json()["data"]
    assert space["primaryWorkbookId"] == workbook["id"]
    assert space["metadata"]["theme"]["root"]["primaryColor"] == "#4F46E5"

    # 2. The record hook: invalid emails get an error, valid ones are lower-cased; commits complete.
    rows = [
        {"firstName": {"value": "Ada"}, "email": {"value": "Ada@Example.COM"}},
        {"firstName": {"value": "Bob"}, "email": {"value": "not-an-email"}},
        {"firstName": {"value": "Cy"}, "email": {"value": "cy@example.com"}},
    ]
    inserted = api.post(f"/sheets/{sheet['id']}/records", json=rows)
    assert inserted.status_code == 200, inserted.text

    def hooked() -> list[dict[str, Any]] | None:
        records: list[dict[str, Any]] = api.get(f"/sheets/{sheet['id']}/records").json()["data"]["records"]
        bob = next(r for r in records if r["values"]["firstName"]["value"] == "Bob")
        ada = next(r for r in records if r["values"]["firstName"]["value"] == "Ada")
        ok = ada["values"]["email"]["value"] == "ada@example.com" and bob["values"]["email"]["messages"]
        return records if ok else None

    records = eventually(hooked, "the record hook's corrections\n" + listener.log())
    bob = next(r for r in records if r["values"]["firstName"]["value"] == "Bob")
    assert bob["valid"] is False
    assert bob["values"]["email"]["messages"][0]["message"] == "Invalid email address"
    eventually(lambda: events(api, space_id, "commit:completed"), "commit:completed (trackChanges)")

    # Fix Bob; the hook sees the new commit and leaves it valid.
    fixed = api.put(
        f"/sheets/{sheet['id']}/records", json=[{"id": bob["id"], "values": {"email": {"value": "bob@x.io"}}}]
    )
    assert fixed.status_code == 200, fixed.text
    eventually(
        lambda: api.get(f"/sheets/{sheet['id']}/counts").json()["data"]["counts"]["error"] == 0 or None,
        "every record valid",
    )

    # 3. Submit: the listener acks, then is killed during the (slow) submit step.
    job = api.post(
        "/jobs",
        json={"type": "workbook", "operation": "submitActionFg", "source": workbook["id"], "trigger": "immediate"},
    )
    assert job.status_code == 200, job.text
    job_id = job.json()["data"]["id"]

    def executing() -> bool:
        current = api.get(f"/jobs/{job_id}").json()["data"]
        return current["status"] == "executing" and (current.get("progress") or 0) >= 50

    eventually(executing, "the listener to start the submit job\n" + listener.log())
    listener.kill()
    assert api.get(f"/jobs/{job_id}").json()["data"]["status"] == "executing"

    # Restarted (no pause now): the job:ready comes again from its cursor and the job completes.
    listener.start()

    def completed() -> dict[str, Any] | None:
        current: dict[str, Any] = api.get(f"/jobs/{job_id}").json()["data"]
        return current if current["status"] == "complete" else None

    final = eventually(completed, "the submit job to complete after the restart\n" + listener.log())
    assert final["outcome"]["message"] == "Submitted 3 contacts"

    # Nothing twice: one completion, one workbook, one document, three records.
    time.sleep(1.0)
    assert len([e for e in events(api, space_id, "job:completed") if e["context"].get("jobId") == job_id]) == 1
    assert len(api.get("/workbooks", params={"spaceId": space_id}).json()["data"]) == 1
    assert len(api.get(f"/spaces/{space_id}/documents").json()["data"]) == 1
    assert api.get(f"/sheets/{sheet['id']}/counts").json()["data"]["counts"]["total"] == 3
    configure_jobs = [j for j in jobs(api, space_id) if j["operation"] == "configure"]
    assert len(configure_jobs) == 1
