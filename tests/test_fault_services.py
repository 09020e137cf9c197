"""A file import survives a `kill -9` of each service (issue 12).

Each test imports a CSV the way a client does — upload (`POST /v1/files`), the managed
`file:extract` job, then a `workbook:map` job into a destination sheet — while a killer thread
`kill -9`s one service in the middle of the import. The platform's supervisor (the `make run`
launcher's, `spaceport.devinfra.supervisor`) restarts it. The client retries what failed (with an
`Idempotency-Key` where the API takes one; an upload or a map job that failed with an outcome is
started again), and in the end every row is in the destination sheet exactly once and each job
the import ran is complete, or failed with an outcome message — none is left running.

Each import has 50,000 rows by default, so that the file stays within about three minutes on two
shared cores; `SPACEPORT_FAULT_ROWS=100000` runs the issue's size (it passed at both).

Every projection equal to a rebuild after these faults is checked by `test_rebuild_equals_live.py`,
which runs after this file in the suite on the same session stream.
"""

from __future__ import annotations

import csv
import io
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
import pytest

from spaceport.testing.platform import Platform

ROWS = int(os.environ.get("SPACEPORT_FAULT_ROWS", "50000"))  # the 100,000: SPACEPORT_FAULT_ROWS=100000
DEADLINE = 120.0  # seconds one import may take, kill and restart included
RETRYABLE = {502, 503, 504}
ATTEMPTS = 3  # uploads or map jobs a client starts before it gives up

# Which phase of the import each service is killed in: where it does the import's work.
KILLS = [
    ("space", "extract"),
    ("workbook", "extract"),
    ("record", "map"),
    ("file", "map"),
    ("job", "map"),
    ("gateway", "extract"),
]
# Seconds into the phase before the kill: its work is under way. A phase can end sooner on a fast
# machine (an extraction of 50,000 rows took ~1 s in one CI run): then that import, checked like
# any other, was no fault test, and the test imports again with the next, shorter delay.
KILL_AFTER = (1.0, 0.3, 0.1, 0.03)


class GaveUpError(AssertionError):
    pass


@dataclass
class Client:
    """A client that retries: transport errors and 502/503/504 are tried again until `deadline`."""

    http: httpx.Client
    deadline: float
    retries: int = 0

    def call(self, method: str, url: str, *, ok: Callable[[int], bool] = lambda s: s == 200, **kw: Any) -> Any:
        while True:
            try:
                reply = self.http.request(method, url, **kw)
            except httpx.TransportError:
                reply = None
            if reply is not None and ok(reply.status_code):
                return reply.json().get("data") if reply.content else None
            if reply is not None and reply.status_code not in RETRYABLE:
                raise AssertionError(f"{method} {url}: {reply.status_code} {reply.text}")
            if time.monotonic() > self.deadline:
                raise GaveUpError(f"{method} {url}: still failing at the deadline ({reply and reply.text})")
            self.retries += 1
            time.sleep(0.25)

    def until(self, probe: Callable[[], Any], what: str) -> Any:
        while True:
            found = probe()
            if found:
                return found
            if time.monotonic() > self.deadline:
                raise GaveUpError(f"timed out waiting for {what}")
            time.sleep(0.2)


@dataclass
class Import:
    """One CSV import into a fresh destination sheet, phase by phase."""

    client: Client
    space_id: str
    environment_id: str
    destination: tuple[str, str]  # workbook id, sheet id
    phase: dict[str, threading.Event] = field(
        default_factory=lambda: {"extract": threading.Event(), "map": threading.Event()}
    )
    jobs: list[dict[str, Any]] = field(default_factory=list)  # every job it waited for, as it ended

    def extract(self, content: bytes) -> str:
        """Upload until an extraction completes; -> the source sheet id."""
        form = {"spaceId": self.space_id, "environmentId": self.environment_id}
        for _ in range(ATTEMPTS):
            files = {"file": ("people.csv", content, "text/csv")}
            file_id = self.client.call("POST", "/files", data=form, files=files)["id"]
            self.phase["extract"].set()
            job = self.client.until(partial(self._finished, file_id), f"the extract job of {file_id}")
            self.jobs.append(job)
            if job["status"] == "complete":
                sheet: str = self.client.call("GET", f"/files/{file_id}")["sheetId"]
                return sheet
        raise GaveUpError(f"no extraction completed in {ATTEMPTS} uploads: {self.jobs}")

    def _finished(self, file_id: str) -> dict[str, Any] | None:
        jobs = self.client.call("GET", "/jobs", params={"fileId": file_id})
        done = [j for j in jobs if j["status"] in ("complete", "failed")]
        return done[0] if done else None

    def map(self, source_workbook: str, source_sheet: str) -> None:
        """Map until a map job completes."""
        body = {
            "type": "workbook",
            "operation": "map",
            "source": source_workbook,
            "destination": self.destination[0],
            "config": {"sourceSheetId": source_sheet, "destinationSheetId": self.destination[1]},
        }
        for _ in range(ATTEMPTS):
            key = {"Idempotency-Key": uuid.uuid4().hex}  # the same for every retry of this create
            job_id = self.client.call("POST", "/jobs", json=body, headers=key)["id"]
            self.client.until(partial(self._planned, job_id), f"the plan of {job_id}")
            # a retried execute may find the first one landed: 409 (already executing) is fine then
            self.client.call("POST", f"/jobs/{job_id}/execute", ok=lambda s: s in {200, 409})
            self.phase["map"].set()
            job = self.client.until(partial(self._ended, job_id), f"the map job {job_id}")
            self.jobs.append(job)
            if job["status"] == "complete":
                return
        raise GaveUpError(f"no map job completed in {ATTEMPTS} tries: {self.jobs}")

    def _planned(self, job_id: str) -> bool:
        plan = self.client.call("GET", f"/jobs/{job_id}/plan")["plan"]
        return bool(plan["fieldMapping"])

    def _ended(self, job_id: str) -> dict[str, Any] | None:
        job: dict[str, Any] = self.client.call("GET", f"/jobs/{job_id}")
        return job if job["status"] in ("complete", "failed") else None

    def codes(self) -> Counter[str]:
        """How often each `code` is in the destination sheet (its CSV download)."""
        text = self._download()
        rows = csv.reader(io.StringIO(text))
        header = next(rows)
        assert header[0] == "Code", header  # the download's columns are the fields' labels
        return Counter(row[0] for row in rows)

    def running(self) -> list[dict[str, Any]]:
        """The space's jobs still ready or executing (an upload retried after a lost reply has one more)."""
        jobs: list[dict[str, Any]] = self.client.call(
            "GET", "/jobs", params={"spaceId": self.space_id, "pageSize": 100}
        )
        return [j for j in jobs if j["status"] in ("ready", "executing")]

    def _download(self) -> str:
        while True:
            try:
                reply = self.client.http.get(f"/sheets/{self.destination[1]}/download", timeout=120)
            except httpx.TransportError:
                reply = None
            if reply is not None and reply.status_code == 200:
                return reply.text
            if time.monotonic() > self.client.deadline:
                raise GaveUpError(f"download of the destination: {reply and reply.text}")
            time.sleep(0.25)


def content(rows: int) -> bytes:
    lines = ["Code,Name,Email"]
    lines.extend(f"c{n:07d},Person {n},p{n}@example.com" for n in range(rows))
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def csv_content() -> bytes:
    return content(ROWS)


@pytest.fixture(scope="module")
def place(platform: Platform) -> dict[str, str]:
    with platform.client(timeout=60) as api:
        environment = api.get("/environments/current").json()["data"]["id"]
        space = api.post("/spaces", json={"name": f"faults {uuid.uuid4().hex[:6]}"}).json()["data"]["id"]
    return {"environment": environment, "space": space}


def killer(platform: Platform, service: str, start: threading.Event, delay: float, done: dict[str, Any]) -> None:
    try:
        if not start.wait(DEADLINE):
            return
        time.sleep(delay)
        done["at"] = datetime.now(UTC)
        done["pid"] = platform.kill(service)
        platform.wait_restarted(service, done["pid"])
        done["restarted"] = True
    except BaseException as error:  # handed to the test, which asserts on it
        done["error"] = error


@pytest.mark.timeout(len(KILL_AFTER) * DEADLINE + 60)
@pytest.mark.parametrize(("service", "phase"), KILLS, ids=[f"{s}-during-{p}" for s, p in KILLS])
def test_an_import_survives_a_kill_9(
    platform: Platform, place: dict[str, str], csv_content: bytes, service: str, phase: str
) -> None:
    ended_first: list[float] = []
    for delay in KILL_AFTER:
        if _import_with_a_kill(platform, place, csv_content, service, phase, delay=delay):
            print(f"{service} killed {delay} s into {phase} (phase ended first at {ended_first} s)")
            return
        ended_first.append(delay)
    pytest.fail(
        f"the {phase} job ended before {service} was killed, with every delay {ended_first} s: not a fault test"
    )


def _import_with_a_kill(
    platform: Platform, place: dict[str, str], csv_content: bytes, service: str, phase: str, *, delay: float
) -> bool:
    """One import into a new destination, `service` killed `delay` s into `phase`, checked; whether
    the phase's job was still running at the kill (else it was no fault test)."""
    with platform.client(timeout=30) as http:
        client = Client(http, deadline=time.monotonic() + DEADLINE)
        fields = [{"key": k, "type": "string", "label": k.title()} for k in ("code", "name", "email")]
        workbook = client.call(
            "POST",
            "/workbooks",
            json={
                "name": f"Dest {service}",
                "spaceId": place["space"],
                "sheets": [{"name": "People", "fields": fields}],
            },
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        job = Import(client, place["space"], place["environment"], (workbook["id"], workbook["sheets"][0]["id"]))
        killed: dict[str, Any] = {}
        thread = threading.Thread(target=killer, args=(platform, service, job.phase[phase], delay, killed), daemon=True)
        thread.start()
        try:
            source_sheet = job.extract(csv_content)
            source_workbook = client.call("GET", f"/sheets/{source_sheet}")["workbookId"]
            job.map(source_workbook, source_sheet)
        finally:
            thread.join(DEADLINE)
        assert "error" not in killed, killed.get("error")
        assert killed.get("restarted"), f"{service} was not killed and restarted during {phase}: {killed}"
        [*_, last] = [j for j in job.jobs if j["operation"] == phase]
        faulted: bool = datetime.fromisoformat(last["finishedAt"]) > killed["at"]

        codes = job.codes()
        assert len(codes) == ROWS, f"{ROWS - len(codes)} rows missing"
        assert max(codes.values()) == 1, [c for c, n in codes.items() if n > 1][:10]
        for ended in job.jobs:  # complete, or failed with a message
            assert ended["status"] == "complete" or (ended.get("outcome") or {}).get("message"), ended
        client.until(lambda: not job.running(), "every job of the space to end")  # none stuck
        return faulted
