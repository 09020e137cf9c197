"""Infrastructure faults for tests: servers a test kills (-9) and starts again, and the work it
runs through them (records written with idempotency keys and retried, a CSV import job; the SSE
subscriber that follows a space through them is `spaceport.testing.sse.EventStream`).

These servers are a test's own, never the session's: NATS and Postgres restart on the same port
and data directory, so the services' clients reconnect to what they knew.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from spaceport.devinfra.process import ManagedProcess
from spaceport.devinfra.servers import NatsHandle, PostgresHandle, start_nats, start_postgres
from spaceport.testing.infra import InfraUrls

PEOPLE: dict[str, Any] = {
    "name": "People",
    "slug": "people",
    "fields": [{"key": "email", "type": "string"}, {"key": "n", "type": "number"}],
}
RETRY_PAUSE = 0.5


def kill9(process: ManagedProcess) -> None:
    """kill -9 of the process and its group (Postgres' backends too): a crash, nothing flushed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.popen.wait()


class RestartableNats:
    """A nats-server of its own on a fixed port and store directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.handle: NatsHandle = start_nats(data_dir)
        self.port = self.handle.port
        self.url = self.handle.url

    def kill(self) -> None:
        kill9(self.handle.process)

    def restart(self) -> None:
        self.handle = start_nats(self.data_dir, port=self.port)

    def stop(self) -> None:
        self.handle.stop()


class RestartablePostgres:
    """A durable Postgres of its own (fsync on: it must survive kill -9) on a fixed port."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.handle: PostgresHandle = start_postgres(data_dir, durable=True)
        self.port = self.handle.port
        self.dsn = self.handle.dsn

    def kill(self) -> None:
        kill9(self.handle.process)

    def restart(self) -> None:
        self.handle = start_postgres(self.data_dir, port=self.port, durable=True)

    def stop(self) -> None:
        self.handle.stop()


@contextlib.contextmanager
def server_dir() -> Iterator[Path]:
    """A fresh directory for servers' data, deleted afterwards (not under pytest's tmp_path: a
    Postgres run as a system user by root cannot use that)."""
    path = Path(tempfile.mkdtemp(prefix="spaceport-fault-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def own_infra(session: InfraUrls) -> Iterator[tuple[InfraUrls, RestartableNats, RestartablePostgres]]:
    """A NATS and a Postgres of the test's own (the session's S3: it is never faulted)."""
    with server_dir() as base_dir, _own_servers(base_dir, session) as started:
        yield started


@contextlib.contextmanager
def _own_servers(
    base_dir: Path, session: InfraUrls
) -> Iterator[tuple[InfraUrls, RestartableNats, RestartablePostgres]]:
    nats = RestartableNats(base_dir / "nats")
    try:
        postgres = RestartablePostgres(base_dir / "postgres")
    except BaseException:
        nats.stop()
        raise
    try:
        urls = InfraUrls(
            nats_url=nats.url,
            database_url=postgres.dsn,
            s3_endpoint=session.s3_endpoint,
            s3_access_key=session.s3_access_key,
            s3_secret_key=session.s3_secret_key,
        )
        yield urls, nats, postgres
    finally:
        postgres.stop()
        nats.stop()


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def retried(client: httpx.Client, method: str, url: str, *, deadline: float, **kwargs: Any) -> httpx.Response:
    """The request, repeated as it was (same idempotency key) until it is answered below 500."""
    while True:
        try:
            reply = client.request(method, url, **kwargs)
            if reply.status_code < 500:
                return reply
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{method} {url} not answered below 500 before the deadline")
        time.sleep(RETRY_PAUSE)


def sheet_in_new_space(client: httpx.Client, name: str) -> tuple[str, str]:
    """(space id, sheet id) of a new space with one `People` sheet, once the record service knows
    the sheet. (On a 3-node cluster its first read of a new sheet can answer 404: it waits for
    its consumer to show nothing pending, which a consumer leader whose replica of the stream
    lags the stream leader reports too early. Seen in tests/test_fault_infra.py; a record
    service matter, reported in issue 12.)"""
    space = ok(client.post("/spaces", json={"name": name}))["id"]
    workbook = ok(client.post("/workbooks", json={"name": "W", "spaceId": space, "sheets": [PEOPLE]}))
    sheet: str = workbook["sheets"][0]["id"]
    wait_for(lambda: client.get(f"/sheets/{sheet}/records").status_code == 200, "the record service knows the sheet")
    return space, sheet


@dataclass
class RetryingWriter:
    """Inserts `total` rows (`n` = 0..total-1) in requests of `per_request`, each with its own
    idempotency key and retried with it until answered; runs in a thread."""

    client: httpx.Client
    sheet_id: str
    total: int
    per_request: int
    timeout: float = 150.0
    sent: int = 0  # requests answered 200 so far
    failures: list[BaseException] = field(default_factory=list)
    retries: int = 0
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="retrying-writer")
        self._thread.start()

    def join(self) -> None:
        assert self._thread is not None
        self._thread.join(self.timeout + 10)
        assert not self._thread.is_alive(), "the writer did not finish"
        assert not self.failures, self.failures

    def _run(self) -> None:
        deadline = time.monotonic() + self.timeout
        run = uuid.uuid4().hex[:8]
        try:
            for start in range(0, self.total, self.per_request):
                numbers = range(start, start + self.per_request)
                rows = [{"email": {"value": f"u{i}@x.io"}, "n": {"value": i}} for i in numbers]
                headers = {"Idempotency-Key": f"{run}-{start}"}
                while True:
                    try:
                        reply = self.client.post(f"/sheets/{self.sheet_id}/records", json=rows, headers=headers)
                        if reply.status_code == 200:
                            break
                        assert reply.status_code >= 500, f"rows {start}: {reply.status_code} {reply.text}"
                    except httpx.TransportError:
                        pass
                    self.retries += 1
                    assert time.monotonic() < deadline, f"rows {start}: not written before the deadline"
                    time.sleep(RETRY_PAUSE)
                self.sent += 1
        except BaseException as error:  # reported by the test's thread
            self.failures.append(error)


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60.0, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} (after {timeout:.0f} s)"
        time.sleep(interval)


def all_values(client: httpx.Client, sheet_id: str, *, deadline: float) -> list[int]:
    """Every record's `n`, through 10,000-record pages."""
    values: list[int] = []
    page = 1
    while True:
        params = {"pageSize": 10_000, "pageNumber": page}
        reply = retried(client, "GET", f"/sheets/{sheet_id}/records", params=params, deadline=deadline)
        records = ok(reply)["records"]
        values += [r["values"]["n"]["value"] for r in records]
        if len(records) < 10_000:
            return values
        page += 1


def listed_events(client: httpx.Client, space_id: str, *, deadline: float) -> list[dict[str, Any]]:
    """Every event of the space, ascending, through the paged list."""
    events: list[dict[str, Any]] = []
    page = 1
    while True:
        params = {"spaceId": space_id, "pageSize": 1000, "pageNumber": page, "includeAcknowledged": "true"}
        batch = ok(retried(client, "GET", "/events", params=params, deadline=deadline))
        events += batch
        if len(batch) < 1000:
            return events
        page += 1
