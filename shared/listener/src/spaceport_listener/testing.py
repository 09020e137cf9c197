"""`FakeFlatfileServer`: an in-memory stand-in for the `/v1` endpoints the listener SDK calls.

Mount it with `httpx.MockTransport(server.handle)` — no sockets. It keeps a request log, serves
the SSE stream from its `events` list (honouring `Last-Event-ID`), and can be told to drop
connections (`drop_after`) to exercise reconnects. `drained` is set whenever a stream connection
has sent everything, which makes a good `stop` for `serve()` in tests.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["FakeFlatfileServer", "LoggedRequest"]

NOW = "2024-01-01T00:00:00.000Z"
Route = Callable[[Any, "re.Match[str]", httpx.Request], httpx.Response]


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeFlatfileServer:
    environment_id: str = "us_env_1"
    space_id: str = "us_sp_1"
    events: list[dict[str, Any]] = field(default_factory=list)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    workbooks: list[dict[str, Any]] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)
    spaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: list[dict[str, Any]] = field(default_factory=list)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    acked: list[str] = field(default_factory=list)
    completed_commits: list[str] = field(default_factory=list)
    log: list[LoggedRequest] = field(default_factory=list)
    drop_after: list[int | None] = field(default_factory=list)
    """Per stream connection, in order: send this many events then fail mid-message (None: no drop)."""
    pretty_data: bool = True
    """Send event JSON indented, i.e. as multi-line `data:` fields."""
    drained: asyncio.Event = field(default_factory=asyncio.Event)
    stream_headers: list[dict[str, str]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _idempotent: dict[str, dict[str, Any]] = field(default_factory=dict)

    # -- building state ------------------------------------------------------------------

    def add_event(self, topic: str, *, payload: Any = None, context: Any = None, **extra: Any) -> dict[str, Any]:
        event_id = extra.pop("id", None) or f"us_evt_{next(self._ids):04d}"
        base_context = {"environmentId": self.environment_id, "spaceId": self.space_id}
        event = {
            "id": event_id,
            "topic": topic,
            "domain": topic.split(":", maxsplit=1)[0],
            "context": {**base_context, **(context or {})},
            "payload": payload or {},
            "namespaces": [],
            "createdAt": NOW,
            **extra,
        }
        self.events.append(event)
        return event

    def add_job_ready(self, job: str, *, status: str = "ready", **context: Any) -> dict[str, Any]:
        domain, operation = job.split(":", 1)
        job_id = f"us_jb_{next(self._ids):04d}"
        self.jobs[job_id] = {
            "id": job_id,
            "type": domain,
            "operation": operation,
            "source": context.get("workbookId", self.space_id),
            "status": status,
            "createdAt": NOW,
            "updatedAt": NOW,
            "history": [],
        }
        payload = {"domain": domain, "operation": operation, "job": job, "status": "ready", "isPart": False}
        return self.add_event("job:ready", payload=payload, context={"jobId": job_id, **context})

    def add_commit(self, sheet_id: str, slug: str, *, track_changes: bool = False) -> dict[str, Any]:
        commit_id = f"us_vr_{next(self._ids):04d}"
        context = {"sheetId": sheet_id, "sheetSlug": slug, "commitId": commit_id, "workbookId": "us_wb_1"}
        payload = {"sheetId": sheet_id, "workbookId": "us_wb_1", "commitId": commit_id, "trackChanges": track_changes}
        data_url = f"v1/sheets/{sheet_id}/records?commitId={commit_id}"
        return self.add_event("commit:created", payload=payload, context=context, dataUrl=data_url)

    def requests(self, method: str, path_pattern: str) -> list[LoggedRequest]:
        return [r for r in self.log if r.method == method and re.fullmatch(path_pattern, r.path)]

    # -- the transport handler -----------------------------------------------------------

    async def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        path = request.url.path
        self.log.append(LoggedRequest(request.method, path, dict(request.url.params), dict(request.headers), body))
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return _error(401, "missing bearer token")
        if request.method == "GET" and path == "/v1/events/stream":
            return self._stream(request)
        for method, pattern, route in self._routes():
            match = re.fullmatch(pattern, path)
            if match and method == request.method:
                return route(body, match, request)
        return _error(404, f"no route for {request.method} {path}")

    def _routes(self) -> list[tuple[str, str, Route]]:
        return [
            ("POST", r"/v1/events/([^/]+)/ack", lambda b, m, r: self._ack_event(m[1])),
            ("GET", r"/v1/jobs/([^/]+)", lambda b, m, r: _ok(self.jobs[m[1]])),
            ("POST", r"/v1/jobs/([^/]+)/(ack|complete|fail)", lambda b, m, r: self._job_step(m[1], m[2], b)),
            ("GET", r"/v1/workbooks", lambda b, m, r: _ok(self._in_space(self.workbooks))),
            ("POST", r"/v1/workbooks", lambda b, m, r: self._create_workbook(b, r)),
            ("GET", r"/v1/workbooks/([^/]+)", lambda b, m, r: _ok(next(w for w in self.workbooks if w["id"] == m[1]))),
            ("GET", r"/v1/spaces/([^/]+)/documents", lambda b, m, r: _ok(self._in_space(self.documents))),
            ("POST", r"/v1/spaces/([^/]+)/documents", lambda b, m, r: self._create(self.documents, "us_dc", b, r)),
            ("PATCH", r"/v1/spaces/([^/]+)", lambda b, m, r: self._patch_space(m[1], b)),
            ("GET", r"/v1/secrets", lambda b, m, r: _ok(self.secrets)),
            ("GET", r"/v1/sheets/([^/]+)/records", lambda b, m, r: _ok({"records": self.records.get(m[1], [])})),
            ("PUT", r"/v1/sheets/([^/]+)/records", lambda b, m, r: self._put_records(m[1], b)),
            ("POST", r"/v1/commits/([^/]+)/complete", lambda b, m, r: self._complete_commit(m[1])),
        ]

    def _stream(self, request: httpx.Request) -> httpx.Response:
        self.stream_headers.append(dict(request.headers))
        last = request.headers.get("last-event-id")
        ids = [event["id"] for event in self.events]
        start = ids.index(last) + 1 if last in ids else 0
        drop = self.drop_after.pop(0) if self.drop_after else None
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=_Body(self._sse(start, drop)))

    async def _sse(self, start: int, drop: int | None) -> AsyncIterator[bytes]:
        yield b": connected\n\n"
        for sent, event in enumerate(self.events[start:]):
            frame = self._frame(event)
            if drop is not None and sent == drop:
                yield frame[: len(frame) // 2]  # half a message, then the connection dies
                raise httpx.ReadError("connection reset by fake server")
            yield frame
            yield b": heartbeat\n\n"
        self.drained.set()

    def _frame(self, event: dict[str, Any]) -> bytes:
        text = json.dumps(event, indent=2 if self.pretty_data else None)
        data = "".join(f"data: {line}\n" for line in text.splitlines())
        return f"id: {event['id']}\nevent: {event['topic']}\n{data}\n".encode()

    def _ack_event(self, event_id: str) -> httpx.Response:
        self.acked.append(event_id)
        return _ok({"success": True})

    def _job_step(self, job_id: str, step: str, body: Any) -> httpx.Response:
        job = self.jobs[job_id]
        if job["status"] in {"complete", "failed", "canceled"}:
            return _error(400, f"job {job_id} is already {job['status']}")
        job["status"] = {"ack": "executing", "complete": "complete", "fail": "failed"}[step]
        job["history"].append((step, body or {}))
        if step != "ack" and body and body.get("outcome"):
            job["outcome"] = body["outcome"]
        return _ok({key: value for key, value in job.items() if key != "history"})

    def _in_space(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [row for row in rows if row.get("spaceId") == self.space_id]

    def _create(self, rows: list[dict[str, Any]], prefix: str, body: Any, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        if key and key in self._idempotent:
            return _ok(self._idempotent[key])
        row = {"spaceId": self.space_id, "environmentId": self.environment_id, **body}
        row.update(id=f"{prefix}_{next(self._ids):04d}", createdAt=NOW, updatedAt=NOW)
        rows.append(row)
        if key:
            self._idempotent[key] = row
        return _ok(row)

    def _create_workbook(self, body: Any, request: httpx.Request) -> httpx.Response:
        known = len(self.workbooks)
        response = self._create(self.workbooks, "us_wb", body, request)
        if len(self.workbooks) > known:  # first creation: give its sheets the shape the SDK parses
            workbook = self.workbooks[-1]
            workbook["sheets"] = [self._sheet(workbook["id"], config) for config in workbook.get("sheets", [])]
            return _ok(workbook)
        return response

    def _sheet(self, workbook_id: str, config: dict[str, Any]) -> dict[str, Any]:
        sheet_id = f"us_sh_{next(self._ids):04d}"
        identity = {"name": config.get("name"), "slug": config.get("slug")}
        return {
            "id": sheet_id,
            "workbookId": workbook_id,
            **identity,
            "config": config,
            "createdAt": NOW,
            "updatedAt": NOW,
        }

    def _patch_space(self, space_id: str, body: Any) -> httpx.Response:
        space = self.spaces.setdefault(space_id, {"id": space_id, "name": "Space", "guestAuthentication": []})
        space.update(body, createdAt=NOW, updatedAt=NOW)
        return _ok(space)

    def _put_records(self, sheet_id: str, body: Any) -> httpx.Response:
        by_id = {record["id"]: record for record in self.records.get(sheet_id, [])}
        for update in body:
            values = by_id[update["id"]].setdefault("values", {})
            for key, cell in update.get("values", {}).items():
                values[key] = {**values.get(key, {}), **cell}
        return _ok({"success": True})

    def _complete_commit(self, commit_id: str) -> httpx.Response:
        self.completed_commits.append(commit_id)
        return _ok({"success": True})


class _Body(httpx.AsyncByteStream):
    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            yield chunk


def _ok(data: Any) -> httpx.Response:
    return httpx.Response(200, json={"data": data})


def _error(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"errors": [{"message": message}]})
