"""A sweep of bad input over every route the gateway registers.

Every bad input gets a clear error (4xx with Flatfile's `{"errors":[{"message"}]}`), never a 5xx,
and loses nothing: after the sweep the platform is healthy and every resource it touched reads
back exactly as before. The route table is checked against the app's own routes, so a new route
fails `test_every_route_is_swept` until it is added here (or skipped with a reason).
"""

from __future__ import annotations

import gzip
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
import pytest
from litestar.routes import HTTPRoute

from gateway_service.app import MAX_BODY, create_app
from gateway_service.routes import (
    apps,
    documents,
    environments,
    events,
    files,
    guests,
    jobs,
    records,
    restore,
    retention,
    secrets,
    sheets,
    snapshots,
    spaces,
    views,
    workbooks,
)
from spaceport.settings import Settings
from spaceport.testing.platform import Platform

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
LONG = "x" * 100_000
LONG_ID = "x" * 10_000  # in a URL (httpx refuses URLs over 64k)
DEPTH = 10_000

# Path ids that are not ids: each may end up as a NATS subject token or a SQL parameter somewhere.
WEIRD_IDS = (
    "a.b",
    ">",
    "*",
    "us_sp_a.b",
    "us_sp_>",
    "us_sp_*",
    "us_sp_%2E",
    "us_sp_a%2Eb",
    "us_sp_a b",
    "us sp",
    "us_sp_ñü€",
    "us_sp_💥",
    "us_sp_" + LONG_ID,
)
# Kind of id each path parameter names; a wrong-kind id is taken from another kind's real one.
PATH_KINDS = {
    "environment_id": "environment",
    "space_id": "space",
    "document_id": "document",
    "guest_id": "guest",
    "workbook_id": "workbook",
    "sheet_id": "sheet",
    "commit_id": "commit",
    "job_id": "job",
    "event_id": "event",
    "secret_id": "secret",
    "file_id": "file",
    "app_id": "app",
    "constraint_id": "constraint",
    "version": "version",
    "view_id": "view",
    "snapshot_id": "snapshot",
    "record_id": "record",
    "version_id": "commit",
    "data_retention_policy_id": "policy",
}
UNKNOWN = {
    "environment": "us_env_doesnotexist",
    "space": "us_sp_doesnotexist",
    "document": "us_dc_doesnotexist",
    "guest": "us_g_doesnotexist",
    "workbook": "us_wb_doesnotexist",
    "sheet": "us_sh_doesnotexist",
    "commit": "us_vr_doesnotexist",
    "job": "us_jb_doesnotexist",
    "event": "us_evt_doesnotexist",
    "secret": "us_sec_doesnotexist",
    "file": "us_fl_doesnotexist",
    "app": "us_app_doesnotexist",
    "constraint": "us_cn_doesnotexist",
    "version": "999",
    "policy": "us_drp_doesnotexist",
    "view": "us_vi_doesnotexist",
    "snapshot": "us_ss_doesnotexist",
    "record": "us_rc_doesnotexist",
}
WRONG_KIND = {
    "environment": "space",
    "space": "workbook",
    "document": "space",
    "guest": "sheet",
    "workbook": "sheet",
    "sheet": "workbook",
    "commit": "sheet",
    "job": "space",
    "event": "job",
    "secret": "space",
    "file": "document",
    "app": "space",
    "constraint": "app",
    "version": "app",
    "view": "sheet",
    "snapshot": "sheet",
    "record": "sheet",
    "policy": "environment",
}
# Kinds whose real id in another environment (a `world` key) must be as unknown as a made-up one (404).
OTHER_ENV = {"commit": "other_commit", "event": "other_event", "secret": "other_secret", "app": "other_app"}
PAGE_SIZES = ("-1", "0", "abc", "1000000000000")
RECORD_QUERY: dict[str, tuple[str, ...]] = {
    "filter": ("bogus",),
    "sortDirection": ("sideways",),
    "sortField": ("unknown_field",),
    "filterField": ("unknown_field",),
    "searchField": ("unknown_field",),
    "q": ("name = 'x'",),
}
RECORD_PAGING: dict[str, tuple[str, ...]] = {
    "pageSize": PAGE_SIZES,
    "pageNumber": ("0", "-1", "abc", "9223372036854775807", "99999999999999999999"),  # the last two: see BIG_PAGES
}
COMMIT_IDS: dict[str, tuple[str, ...]] = {"commitId": ("us_vr_nope", ">", "a.b"), "sinceCommitId": ("us_vr_nope", "*")}


@dataclass(frozen=True)
class Ref:
    """A value only the world knows: `world[key]` (another environment's id, say)."""

    key: str


Bad = tuple[str | Ref, ...]  # bad values of a query parameter or a header


@dataclass(frozen=True)
class As:
    """The route, with its real ids, called with another credential (a `world` key): `status`."""

    credential: str
    status: int
    params: tuple[tuple[str, str | Ref], ...] = ()
    body: object = None  # a body that would be accepted from a secret key (None: the route's usual one)


BadBodies = Callable[[dict[str, str]], Iterator[tuple[str, object, int | None]]]


@dataclass(frozen=True)
class Endpoint:
    """What one route consumes: its body (a Struct, `records`/`updates` raw bodies) and query."""

    body: type[msgspec.Struct] | str | None = None
    array: bool = False  # the body is a JSON array of `body`
    long: tuple[str, ...] = ()  # string fields that must refuse 100k characters
    query: dict[str, Bad] = field(default_factory=dict)  # parameter -> bad values
    base_query: dict[str, str] = field(default_factory=dict)  # needed for the route to do anything
    ids_param: bool = False  # takes `ids` (more than 10,000 -> 400)
    headers: dict[str, Bad] = field(default_factory=dict)  # request header -> bad values (each a 400)
    bodies: BadBodies | None = None  # whole bodies wrong in one way: (name, JSON value, status or None)
    refused: tuple[As, ...] = ()  # credentials that may not do this
    raw: Callable[[str, str, dict[str, str]], Iterator[Case]] | None = None  # hand-made requests (multipart)
    # parameter combinations that must answer 400 together (each value alone may be fine)
    combos: tuple[tuple[tuple[str, str | Ref], ...], ...] = ()


# Events: the filter GET /v1/events and the stream share. An unknown spaceId is no error (it lists nothing).
EVENT_FILTER: dict[str, Bad] = {
    "environmentId": ("us_env_nope", "a.b", Ref("other_environment")),
    "spaceId": ("a.b", ">", "*", "us_wb_x"),
    "domain": ("bogus", "a.b", "*", "JOB"),
    "topic": ("bogus", "job:bogus", "*:bogus", "bogus:*", "job:**", "a.b", ">", "%", "job:%"),
    "since": (
        "yesterday",
        "2024-13-01",
        "2024-01-01T25:00:00Z",
        "2024-01-01T00:00:00+25:00",
        "0001-01-01T00:00:00+23:59",  # valid, but before year 1 in UTC
        "9999-12-31T23:59:59-23:59",  # valid, but after year 9999 in UTC
        "9" * 10_000,
    ),
    "includeAcknowledged": ("maybe",),
}
BIG_PAGES = ("9223372036854775807", "99999999999999999999")  # offsets past a bigint, ints past 64 bits
# The stream must refuse these before it starts (a 200 would hang the request).
LAST_EVENT_IDS: Bad = ("us_evt_doesnotexist", "a.b", ">", "*", "' OR 1=1 --", "x" * 10_000, Ref("other_event"))
VALID_EVENT = {"topic": "space:updated", "domain": "space", "context": {}, "payload": {"sweep": True}}
VALID_SECRET = {"name": "SWEEP_REFUSED", "value": "v"}
SECRET_REFUSED = (As("publishable", 403, body=VALID_SECRET), As("guest_token", 403, body=VALID_SECRET))


def _event_bodies(ids: dict[str, str]) -> Iterator[tuple[str, object, int | None]]:
    """Custom events wrong in one way each; a right one would be published."""
    good = VALID_EVENT
    for topic in ("bogus", "job:bogus", "job:*", "*:created", "**", "job.created", "job:>", "", "x" * 10_000):
        yield f"topic {topic[:30]!r}", {**good, "topic": topic}, 400
    for domain in ("bogus", "a.b", ">", "", "x" * 10_000):
        yield f"domain {domain[:30]!r}", {**good, "domain": domain}, 400
    for name in ("topic", "domain", "context", "payload"):
        yield f"without {name}", {k: v for k, v in good.items() if k != name}, 400
    for space in ("a.b", ">", "us_wb_x", 5, ["x"]):
        yield f"context.spaceId {space!r}", {**good, "context": {"spaceId": space}}, 400
    yield "context.spaceId unknown", {**good, "context": {"spaceId": UNKNOWN["space"]}}, 404
    yield "context.spaceId of another environment", {**good, "context": {"spaceId": ids["other_space"]}}, 404
    yield "context.workbookId a number", {**good, "context": {"workbookId": 5}}, 400
    yield "context.namespaces a string", {**good, "context": {"namespaces": "x"}}, 400
    yield "namespaces of numbers", {**good, "namespaces": [1]}, 400
    yield "deletedAt not a date", {**good, "deletedAt": "yesterday"}, 400


def _secret_bodies(ids: dict[str, str]) -> Iterator[tuple[str, object, int | None]]:
    """Secrets wrong in one way each; a right one would be written."""
    good = VALID_SECRET
    for name in ("", "a b", "a/b", "a:b", ">", "*", "ñ", "💥", "a\x00b", "x" * 256, LONG):
        yield f"name {name[:30]!r}", {**good, "name": name}, 400
    yield "without value", {"name": good["name"]}, 400
    yield "without name", {"value": "v"}, 400
    yield "value over 64 KiB", {**good, "value": "x" * (64 * 1024 + 1)}, 400
    for environment in (UNKNOWN["environment"], "a.b", ids["other_environment"]):
        yield f"environmentId {environment!r}", {**good, "environmentId": environment}, 404
    for space in (UNKNOWN["space"], "a.b", ">", ids["workbook"], ids["other_space"]):
        yield f"spaceId {space!r}", {**good, "spaceId": space}, 404
    for actor in ("a.b", ">", "*", "a b", "ñ", "x" * 129):
        yield f"actorId {actor[:30]!r}", {**good, "actorId": actor}, 400


def _form(parts: list[tuple[str, str, bytes]], boundary: str = "sweep") -> bytes:
    """A multipart body of (name, filename or "", content) parts."""
    out = b""
    for name, filename, content in parts:
        named = f'; filename="{filename}"' if filename else ""
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"{named}\r\n\r\n'.encode()
        out += content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def _upload_cases(method: str, path: str, ids: dict[str, str]) -> Iterator[Case]:
    """Uploads wrong in one way each; a right one would store a file."""
    form = {"Content-Type": "multipart/form-data; boundary=sweep"}
    place = [("spaceId", "", ids["space"].encode()), ("environmentId", "", ids["environment"].encode())]
    data = ("file", "a.csv", b"name\nAda\n")

    def case(name: str, parts: list[tuple[str, str, bytes]], expect: int | None, **headers: str) -> Case:
        return Case(name, method, path, content=_form(parts), headers={**form, **headers}, expect=expect)

    yield Case("JSON body", method, path, content=b'{"spaceId": "x"}', headers={"Content-Type": "application/json"})
    yield Case("no boundary", method, path, content=_form([data]), headers={"Content-Type": "multipart/form-data"})
    yield Case("not multipart at all", method, path, content=b"garbage", headers=form, expect=400)
    yield Case("truncated", method, path, content=_form([*place, data])[:-20], headers=form, expect=400)
    yield case("no spaceId", [data], 400)
    yield case("spaceId after the file", [data, *place], 400)
    yield case("no file part", place, 400)
    yield case("two file parts", [*place, data, data], 400)
    for space in (UNKNOWN["space"], ids["other_space"], ids["workbook"], "a.b", ">"):
        yield case(f"spaceId {space!r}", [("spaceId", "", space.encode()), data], None)
    for environment in (UNKNOWN["environment"], ids["other_environment"]):
        yield case(f"environmentId {environment!r}", [place[0], ("environmentId", "", environment.encode()), data], 404)
    yield case("mode bogus", [*place, ("mode", "", b"sideways"), data], 400)
    yield case("origin bogus", [*place, ("origin", "", b"ftp"), data], 400)
    yield case("actions not JSON", [*place, ("actions", "", b"{nope"), data], 400)
    yield case("actions of numbers", [*place, ("actions", "", b"[1]"), data], 400)
    yield case("field over 1 MiB", [*place, ("note", "", b"x" * (2 * 1024 * 1024)), data], 413)
    yield case("as publishable", [*place, data], 403, Authorization=f"Bearer {ids['publishable']}")
    other = [("spaceId", "", ids["other_space"].encode()), data]
    yield case("as guest, another space", other, 403, Authorization=f"Bearer {ids['guest_token']}")


FILE_REFUSED = (As("publishable", 403), As("other_key", 404))
VIEW_REFUSED = (As("publishable", 403), As("other_key", 404))


def _view_bodies(ids: dict[str, str]) -> Iterator[tuple[str, object, int | None]]:
    """Views wrong in one way each; a right one would be saved."""
    good = {"sheetId": ids["sheet"], "name": "sweep", "config": {"sortField": "name"}}
    for name in ("", "   ", "x" * 256):
        yield f"name {name[:30]!r}", {**good, "name": name}, 400
    yield "without name", {k: v for k, v in good.items() if k != "name"}, 400
    yield "without config", {k: v for k, v in good.items() if k != "config"}, 400
    for sheet in ("a.b", ">", ids["workbook"], LONG_ID):
        yield f"sheetId {sheet[:30]!r}", {**good, "sheetId": sheet}, 400
    yield "sheetId unknown", {**good, "sheetId": UNKNOWN["sheet"]}, 404
    for key in ("sortField", "filterField", "searchField"):
        yield f"config.{key} not a field", {**good, "config": {key: "unknown_field"}}, 400
    for config in ({"filter": "bogus"}, {"sortDirection": "up"}, {"pageSize": 0}, {"ids": ["a.b"]}, {"x": 1}):
        yield f"config {config}", {**good, "config": config}, 400


VALID_APP = {"name": "SWEEP_REFUSED", "type": "CUSTOM"}
APP_REFUSED = (As("publishable", 403, body=VALID_APP), As("guest_token", 403, body=VALID_APP))
APP_OTHER = (*APP_REFUSED, As("other_key", 404))


def _app_bodies(ids: dict[str, str]) -> Iterator[tuple[str, object, int | None]]:
    """Apps wrong in one way each; a right one would be written."""
    good = VALID_APP
    yield "without name", {"type": "CUSTOM"}, 400
    yield "without type", {"name": "n"}, 400
    for app_type in ("BOGUS", "custom", "", "a.b"):
        yield f"type {app_type!r}", {**good, "type": app_type}, 400
    for name in ("namespace", "entity", "entityPlural"):
        yield f"{name} of 256 chars", {**good, name: "x" * 256}, 400
    yield "icon over 64k", {**good, "icon": "x" * 70_000}, 400
    yield "blueprint not a list", {**good, "blueprint": {"a": 1}}, 400
    yield "blueprint of numbers", {**good, "blueprint": [1]}, 400
    yield "blueprint workbook without sheets", {**good, "blueprint": [{"name": "w"}]}, 400
    bad_field = [{"name": "w", "sheets": [{"name": "s", "fields": [{"key": "k", "type": "bogus"}]}]}]
    yield "blueprint field of an unknown type", {**good, "blueprint": bad_field}, 400
    stored = [{"type": "stored", "validator": "nope"}]
    unknown = [
        {"name": "w", "sheets": [{"name": "s", "fields": [{"key": "k", "type": "string", "constraints": stored}]}]}
    ]
    yield "blueprint with an unknown stored validator", {**good, "blueprint": unknown}, 400


def _constraint_bodies(ids: dict[str, str]) -> Iterator[tuple[str, object, int | None]]:
    """Constraints wrong in one way each; a right one would be written."""
    yield "without validator", {"label": "l"}, 400
    for validator in ("", "a b", ">", "ñ", "x" * 256):
        yield f"validator {validator[:30]!r}", {"validator": validator}, 400
    yield "a validator the app has", {"validator": "SWEEP"}, 409
    yield "another app's id", {"validator": "fresh", "appId": "us_app_other"}, 400


ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    # environments
    ("GET", "/v1/environments"): Endpoint(query={"pageSize": PAGE_SIZES, "pageNumber": ("0", "abc", *BIG_PAGES)}),
    ("POST", "/v1/environments"): Endpoint(body=environments.EnvironmentBody, long=("name",)),
    ("GET", "/v1/environments/{environment_id:str}"): Endpoint(),
    ("PATCH", "/v1/environments/{environment_id:str}"): Endpoint(body=environments.EnvironmentBody, long=("name",)),
    ("DELETE", "/v1/environments/{environment_id:str}"): Endpoint(),
    ("POST", "/v1/environments/{environment_id:str}/keys/rotate"): Endpoint(query={"type": ("bogus", "SECRET")}),
    # spaces
    ("GET", "/v1/spaces"): Endpoint(
        query={
            "pageSize": PAGE_SIZES,
            "pageNumber": ("0", "abc", *BIG_PAGES),
            "sortField": ("unknown",),
            "sortDirection": ("sideways",),
            "archived": ("maybe",),
            "isCollaborative": ("maybe",),
            "environmentId": ("us_env_nope", "a.b", ">"),
        }
    ),
    ("POST", "/v1/spaces"): Endpoint(body=spaces.SpaceBody, long=("name",)),
    ("DELETE", "/v1/spaces"): Endpoint(query={"spaceIds": ("us_sp_nope", "a.b", ">", "*", "", LONG_ID)}),
    ("GET", "/v1/spaces/{space_id:str}"): Endpoint(),
    ("PATCH", "/v1/spaces/{space_id:str}"): Endpoint(body=spaces.SpaceBody, long=("name",)),
    ("DELETE", "/v1/spaces/{space_id:str}"): Endpoint(),
    ("POST", "/v1/spaces/{space_id:str}/archive"): Endpoint(),
    ("POST", "/v1/spaces/{space_id:str}/unarchive"): Endpoint(),
    # documents
    ("GET", "/v1/spaces/{space_id:str}/documents"): Endpoint(),
    ("POST", "/v1/spaces/{space_id:str}/documents"): Endpoint(body=documents.NewDocumentBody, long=("title",)),
    ("GET", "/v1/spaces/{space_id:str}/documents/{document_id:str}"): Endpoint(),
    ("PATCH", "/v1/spaces/{space_id:str}/documents/{document_id:str}"): Endpoint(
        body=documents.DocumentBody, long=("title",)
    ),
    ("DELETE", "/v1/spaces/{space_id:str}/documents/{document_id:str}"): Endpoint(),
    # guests
    ("GET", "/v1/guests"): Endpoint(query={"spaceId": ("us_sp_nope", "a.b", ">", "*", "", LONG_ID)}),
    ("POST", "/v1/guests"): Endpoint(body=guests.GuestBody, array=True, long=("name", "email")),
    ("GET", "/v1/guests/{guest_id:str}"): Endpoint(),
    ("PATCH", "/v1/guests/{guest_id:str}"): Endpoint(body=guests.GuestPatchBody, long=("name", "email")),
    ("DELETE", "/v1/guests/{guest_id:str}"): Endpoint(query={"spaceId": ("us_sp_nope", "a.b", ">", "*")}),
    ("GET", "/v1/guests/{guest_id:str}/token"): Endpoint(query={"spaceId": ("us_sp_nope", "a.b", ">", "*")}),
    # workbooks and sheets
    ("GET", "/v1/workbooks"): Endpoint(query={"spaceId": ("a.b", ">", "us_wb_x"), "includeSheets": ("maybe",)}),
    ("POST", "/v1/workbooks"): Endpoint(body=workbooks.WorkbookBody, long=("name",)),
    ("GET", "/v1/workbooks/{workbook_id:str}"): Endpoint(),
    ("PATCH", "/v1/workbooks/{workbook_id:str}"): Endpoint(body=workbooks.WorkbookPatchBody, long=("name",)),
    ("DELETE", "/v1/workbooks/{workbook_id:str}"): Endpoint(),
    ("GET", "/v1/workbooks/{workbook_id:str}/commits"): Endpoint(query={"completed": ("maybe",)}),
    ("GET", "/v1/sheets"): Endpoint(query={"workbookId": ("us_wb_nope", "a.b", ">", "*", "", LONG_ID)}),
    ("GET", "/v1/sheets/{sheet_id:str}"): Endpoint(),
    ("PATCH", "/v1/sheets/{sheet_id:str}"): Endpoint(body=sheets.SheetPatchBody, long=("name", "slug")),
    ("DELETE", "/v1/sheets/{sheet_id:str}"): Endpoint(),
    ("POST", "/v1/sheets/{sheet_id:str}/lock"): Endpoint(),
    ("POST", "/v1/sheets/{sheet_id:str}/unlock"): Endpoint(),
    # records
    ("GET", "/v1/sheets/{sheet_id:str}/records"): Endpoint(
        query={
            **RECORD_QUERY,
            **RECORD_PAGING,
            **COMMIT_IDS,
            "includeMessages": ("maybe",),
            "includeCounts": ("maybe",),
            "for": ("us_evt_doesnotexist", "a.b", ">", "*", LONG_ID),
        },
        ids_param=True,
        # a commit's records with a parameter it cannot honour: 400, never the parameter ignored
        combos=(
            (("commitId", Ref("commit")), ("sortField", "name")),
            (("commitId", Ref("commit")), ("sinceCommitId", Ref("commit"))),
            (("commitId", Ref("commit")), ("searchField", "unknown_field"), ("searchValue", "x")),
            (("commitId", Ref("commit")), ("filter", "error"), ("filterField", "unknown_field")),
            (("commitId", Ref("commit")), ("q", "name eq x")),
        ),
    ),
    ("POST", "/v1/sheets/{sheet_id:str}/records"): Endpoint(body="records"),
    ("PUT", "/v1/sheets/{sheet_id:str}/records"): Endpoint(body="updates"),
    # filter=all deletes every record: any bad parameter that were ignored would show in the snapshot
    ("DELETE", "/v1/sheets/{sheet_id:str}/records"): Endpoint(
        query={**RECORD_QUERY, **COMMIT_IDS, "searchField": ("unknown_field",)},
        base_query={"filter": "all"},
        ids_param=True,
    ),
    ("PUT", "/v1/sheets/{sheet_id:str}/find-replace"): Endpoint(
        body=records.FindReplaceBody, long=("fieldKey",), query={**RECORD_QUERY, **COMMIT_IDS}, ids_param=True
    ),
    ("POST", "/v1/sheets/{sheet_id:str}/validate"): Endpoint(),
    ("GET", "/v1/sheets/{sheet_id:str}/counts"): Endpoint(
        query={**RECORD_QUERY, **COMMIT_IDS, "byField": ("maybe",)}, ids_param=True
    ),
    ("GET", "/v1/sheets/{sheet_id:str}/cells"): Endpoint(
        query={
            **RECORD_QUERY,
            **RECORD_PAGING,
            **COMMIT_IDS,
            "fieldKey": ("unknown_field", "a.b", ">"),
            "distinct": ("false", "maybe"),
            "includeCounts": ("maybe",),
        },
        base_query={"fieldKey": "name"},
        ids_param=True,
    ),
    ("GET", "/v1/sheets/{sheet_id:str}/records/indices"): Endpoint(
        query={**RECORD_QUERY, **COMMIT_IDS}, base_query={"ids": "us_rc_sweep"}, ids_param=True
    ),
    ("GET", "/v1/sheets/{sheet_id:str}/download"): Endpoint(query={**RECORD_QUERY, **COMMIT_IDS}, ids_param=True),
    ("GET", "/v1/sheets/{sheet_id:str}/commits"): Endpoint(),
    ("GET", "/v1/commits/{commit_id:str}"): Endpoint(refused=(As("publishable", 403), As("other_key", 404))),
    # jobs
    ("GET", "/v1/jobs"): Endpoint(
        query={
            "pageSize": PAGE_SIZES,
            "pageNumber": ("0", "abc", *BIG_PAGES),
            "sortDirection": ("sideways",),
            "excludeChildJobs": ("maybe",),
            "spaceId": ("a.b", ">", "us_wb_x"),
            "environmentId": ("us_env_nope", "a.b"),
        }
    ),
    ("POST", "/v1/jobs"): Endpoint(body=jobs.NewJobBody, long=("operation", "source", "info")),
    ("GET", "/v1/jobs/{job_id:str}"): Endpoint(),
    ("PATCH", "/v1/jobs/{job_id:str}"): Endpoint(body=jobs.JobUpdateBody, long=("info",)),
    ("DELETE", "/v1/jobs/{job_id:str}"): Endpoint(),
    ("POST", "/v1/jobs/{job_id:str}/execute"): Endpoint(),
    ("POST", "/v1/jobs/{job_id:str}/ack"): Endpoint(body=jobs.AckBody, long=("info",)),
    ("POST", "/v1/jobs/{job_id:str}/complete"): Endpoint(body=jobs.OutcomeBody, long=("info",)),
    ("POST", "/v1/jobs/{job_id:str}/fail"): Endpoint(body=jobs.OutcomeBody, long=("info",)),
    ("POST", "/v1/jobs/{job_id:str}/cancel"): Endpoint(body=jobs.CancelBody, long=("info",)),
    ("POST", "/v1/jobs/{job_id:str}/retry"): Endpoint(),
    ("POST", "/v1/jobs/{job_id:str}/outcome/ack"): Endpoint(),
    ("GET", "/v1/jobs/{job_id:str}/plan"): Endpoint(),
    ("PUT", "/v1/jobs/{job_id:str}/plan"): Endpoint(body=jobs.PlanBody),
    ("PATCH", "/v1/jobs/{job_id:str}/plan"): Endpoint(body=jobs.PlanBody),
    # events
    ("GET", "/v1/events"): Endpoint(
        query={**EVENT_FILTER, "pageSize": PAGE_SIZES, "pageNumber": ("0", "-1", "abc", *BIG_PAGES)},
        refused=(
            As("publishable", 403),
            As("guest_token", 403, (("spaceId", Ref("other_space")),)),
            As("other_key", 404, (("environmentId", Ref("environment")),)),
        ),
    ),
    ("POST", "/v1/events"): Endpoint(
        body=events.EventBody,
        long=("topic", "domain", "callbackUrl", "dataUrl", "target"),
        bodies=_event_bodies,
        refused=(As("publishable", 403, body=VALID_EVENT),),
    ),
    ("GET", "/v1/events/{event_id:str}"): Endpoint(
        refused=(As("publishable", 403), As("guest_token", 404), As("other_key", 404))
    ),
    ("POST", "/v1/events/{event_id:str}/ack"): Endpoint(
        refused=(As("publishable", 403), As("guest_token", 404), As("other_key", 404))
    ),
    ("GET", "/v1/events/stream"): Endpoint(
        query={**EVENT_FILTER, "lastEventId": LAST_EVENT_IDS},
        headers={"Last-Event-ID": LAST_EVENT_IDS},
        refused=(
            As("publishable", 403),
            As("guest_token", 403, (("spaceId", Ref("other_space")),)),
            As("other_key", 404, (("environmentId", Ref("environment")),)),
            As("other_key", 400, (("lastEventId", Ref("event")),)),
        ),
    ),
    # secrets (a secret key's only)
    ("GET", "/v1/secrets"): Endpoint(
        query={
            "environmentId": ("us_env_nope", "a.b", Ref("other_environment")),
            "spaceId": ("us_sp_doesnotexist", "a.b", ">", "us_wb_x", Ref("other_space")),
            "actorId": ("a.b", ">", "*", "a b", "ñ", "x" * 129, LONG_ID),
        },
        refused=(*SECRET_REFUSED, As("other_key", 404, (("environmentId", Ref("environment")),))),
    ),
    ("POST", "/v1/secrets"): Endpoint(
        body=secrets.SecretBody,
        long=("name", "value", "environmentId", "spaceId", "actorId"),
        bodies=_secret_bodies,
        refused=SECRET_REFUSED,
    ),
    ("DELETE", "/v1/secrets/{secret_id:str}"): Endpoint(refused=(*SECRET_REFUSED, As("other_key", 404))),
    # space metrics (a secret key's; a guest admin's of its space)
    ("GET", "/v1/spaces/{space_id:str}/metrics"): Endpoint(refused=(As("publishable", 403), As("other_key", 404))),
    ("GET", "/v1/metrics"): Endpoint(
        query={
            "environmentId": ("us_env_nope", "a.b", ">", Ref("other_environment")),
            "appId": ("a.b", ">", "*", "us_sp_x", "x" * 300, LONG_ID),
        },
        refused=(
            As("publishable", 403),
            As("guest_token", 403),
            As("other_key", 404, (("environmentId", Ref("environment")),)),
        ),
    ),
    # apps and their constraints (a secret key's only)
    ("GET", "/v1/apps"): Endpoint(refused=APP_REFUSED),
    ("POST", "/v1/apps"): Endpoint(
        body=apps.AppCreateBody,
        long=("name", "namespace", "entity", "entityPlural"),
        bodies=_app_bodies,
        refused=APP_REFUSED,
    ),
    ("GET", "/v1/apps/{app_id:str}"): Endpoint(refused=APP_OTHER),
    ("PATCH", "/v1/apps/{app_id:str}"): Endpoint(
        body=apps.AppPatchBody, long=("name", "namespace", "entity", "entityPlural"), refused=APP_OTHER
    ),
    ("DELETE", "/v1/apps/{app_id:str}"): Endpoint(refused=APP_OTHER),
    ("GET", "/v1/apps/{app_id:str}/constraints"): Endpoint(query={"includeBuiltins": ("maybe",)}, refused=APP_OTHER),
    ("POST", "/v1/apps/{app_id:str}/constraints"): Endpoint(
        body=apps.ConstraintBody, long=("validator", "label"), bodies=_constraint_bodies, refused=APP_OTHER
    ),
    ("GET", "/v1/apps/{app_id:str}/constraints/{constraint_id:str}"): Endpoint(refused=APP_OTHER),
    ("PATCH", "/v1/apps/{app_id:str}/constraints/{constraint_id:str}"): Endpoint(
        body=apps.ConstraintBody, long=("label",), refused=APP_OTHER
    ),
    ("DELETE", "/v1/apps/{app_id:str}/constraints/{constraint_id:str}"): Endpoint(refused=APP_OTHER),
    ("GET", "/v1/apps/{app_id:str}/constraints/{constraint_id:str}/versions"): Endpoint(refused=APP_OTHER),
    ("GET", "/v1/apps/{app_id:str}/constraints/{constraint_id:str}/versions/{version:str}"): Endpoint(
        refused=APP_OTHER
    ),
    # views and entitlements
    ("GET", "/v1/views"): Endpoint(
        query={
            "sheetId": ("us_sh_nope", "a.b", ">", "*", "", "us_wb_x", LONG_ID),
            "pageSize": PAGE_SIZES,
            "pageNumber": ("0", "abc", *BIG_PAGES),
        },
        refused=(
            As("publishable", 403, (("sheetId", Ref("sheet")),)),
            As("other_key", 404, (("sheetId", Ref("sheet")),)),
        ),
    ),
    ("POST", "/v1/views"): Endpoint(body=views.ViewBody, long=("name", "sheetId"), bodies=_view_bodies),
    ("GET", "/v1/views/{view_id:str}"): Endpoint(refused=VIEW_REFUSED),
    ("PATCH", "/v1/views/{view_id:str}"): Endpoint(body=views.ViewBody, long=("name",), refused=VIEW_REFUSED),
    ("DELETE", "/v1/views/{view_id:str}"): Endpoint(refused=VIEW_REFUSED),
    # snapshots (a sheet's records' access)
    ("POST", "/v1/snapshots"): Endpoint(body=snapshots.SnapshotBody, long=("label", "threadId", "sheetId")),
    ("GET", "/v1/snapshots"): Endpoint(
        query={"sheetId": ("", "us_sh_doesnotexist", "a.b", ">", "*", "us_wb_x", LONG_ID)},
        base_query={"sheetId": "us_sh_doesnotexist"},
    ),
    ("GET", "/v1/snapshots/{snapshot_id:str}"): Endpoint(query={"includeSummary": ("maybe",)}, refused=VIEW_REFUSED),
    ("GET", "/v1/snapshots/{snapshot_id:str}/records"): Endpoint(
        query={"changeType": ("sideways", "", "x" * 300), "pageSize": ("0", "abc", "10001"), "pageNumber": ("0",)},
        refused=VIEW_REFUSED,
    ),
    ("POST", "/v1/snapshots/{snapshot_id:str}/restore"): Endpoint(body=snapshots.RestoreBody, refused=VIEW_REFUSED),
    ("DELETE", "/v1/snapshots/{snapshot_id:str}"): Endpoint(refused=VIEW_REFUSED),
    ("GET", "/v1/entitlements"): Endpoint(
        query={"resourceId": ("", "us_sp_doesnotexist", "a.b", ">", "*", "us_wb_x", LONG_ID, Ref("other_space"))},
        refused=(
            As("publishable", 403, (("resourceId", Ref("space")),)),
            As("guest_token", 403, (("resourceId", Ref("other_space")),)),
            As("other_key", 404, (("resourceId", Ref("space")),)),
        ),
    ),
    # files
    ("POST", "/v1/files"): Endpoint(raw=_upload_cases),
    ("GET", "/v1/files"): Endpoint(
        query={
            "pageSize": PAGE_SIZES,
            "pageNumber": ("0", "abc", *BIG_PAGES),
            "mode": ("sideways", "IMPORT"),
            "spaceId": ("us_sp_doesnotexist", "a.b", ">", "us_wb_x", Ref("other_space")),
        },
        refused=(As("publishable", 403), As("guest_token", 404, (("spaceId", Ref("other_space")),))),
    ),
    ("GET", "/v1/files/{file_id:str}"): Endpoint(refused=FILE_REFUSED),
    ("PATCH", "/v1/files/{file_id:str}"): Endpoint(body=files.FileUpdateBody, long=("name",), refused=FILE_REFUSED),
    ("DELETE", "/v1/files/{file_id:str}"): Endpoint(refused=FILE_REFUSED),
    ("GET", "/v1/files/{file_id:str}/download"): Endpoint(refused=FILE_REFUSED),
    # commits (GET /v1/commits/{commit_id} is with the records routes)
    ("POST", "/v1/commits/{commit_id:str}/complete"): Endpoint(refused=(As("publishable", 403), As("other_key", 404))),
    # versions and cell history (a secret key's; a guest's of its space)
    ("GET", "/v1/spaces/{space_id:str}/versions"): Endpoint(
        query={
            "pageSize": PAGE_SIZES,
            "pageNumber": ("0", "abc", "9" * 10_000, "1000000000000"),
            "sheetId": ("a.b", ">", "us_wb_x", "x" * 300),
            "since": ("yesterday", "2024-13-01", "0001-01-01T00:00:00+23:59", "9" * 10_000),
            "until": ("yesterday", "9999-12-31T23:59:59-23:59"),
        },
        refused=(As("publishable", 403), As("other_key", 404)),
    ),
    ("GET", "/v1/spaces/{space_id:str}/versions/{version_id:str}"): Endpoint(
        refused=(As("publishable", 403), As("other_key", 404))
    ),
    # restore (secret keys only)
    ("GET", "/v1/spaces/{space_id:str}/restore"): Endpoint(
        query={
            "dateTime": ("yesterday", "2024-13-01", "9" * 10_000, "x" * 300),
            "versionId": ("us_vr_doesnotexist", "a.b", ">", "x" * 300),
            "sequence": ("-1", "abc", "9" * 10_000),
            "sheetId": ("us_sh_doesnotexist", "a.b", ">", LONG_ID),
        },
        base_query={"sequence": "1"},
        refused=(As("publishable", 403), As("guest_token", 403), As("other_key", 404)),
        combos=((("sequence", "1"), ("dateTime", "2026-01-01T00:00:00Z")),),
    ),
    ("POST", "/v1/spaces/{space_id:str}/restore"): Endpoint(
        body=restore.RestoreBody,
        long=("dateTime", "versionId", "sheetId"),
        refused=(As("publishable", 403), As("guest_token", 403), As("other_key", 404)),
    ),
    # data retention policies (secret keys of the environment)
    ("GET", "/v1/data-retention-policies"): Endpoint(
        query={"environmentId": ("us_env_nope", "a.b", ">", Ref("other_environment"))},
        refused=(As("publishable", 403), As("guest_token", 403)),
    ),
    ("POST", "/v1/data-retention-policies"): Endpoint(
        body=retention.PolicyBody,
        long=("type", "environmentId"),
        refused=(As("publishable", 403), As("guest_token", 403)),
    ),
    ("GET", "/v1/data-retention-policies/{data_retention_policy_id:str}"): Endpoint(
        refused=(As("publishable", 403), As("guest_token", 403), As("other_key", 404))
    ),
    ("PATCH", "/v1/data-retention-policies/{data_retention_policy_id:str}"): Endpoint(
        body=retention.PolicyBody,
        long=("type", "environmentId"),
        refused=(As("publishable", 403), As("guest_token", 403), As("other_key", 404)),
    ),
    ("DELETE", "/v1/data-retention-policies/{data_retention_policy_id:str}"): Endpoint(
        refused=(As("publishable", 403), As("guest_token", 403), As("other_key", 404))
    ),
    ("GET", "/v1/sheets/{sheet_id:str}/records/{record_id:str}/history"): Endpoint(
        query={"field": ("x" * 300,)},
        base_query={"field": "name"},
        refused=(As("publishable", 403), As("other_key", 404)),
    ),
}
# Fields a route needs before it looks at anything else; every body Struct ignores the ones it lacks.
VALID_OBJECT = {"title": "t", "body": "b", "fieldKey": "name", "find": "zzz", "replace": "zzz"}
DOCUMENTATION = "documentation, not an API: takes no input (test_e2e_events reads the OpenAPI and AsyncAPI ones)"
ACCESS = "swept by tests/test_e2e_access_api.py::test_bad_input_to_the_access_routes_answers_4xx_and_changes_nothing"
SKIPPED = {
    ("GET", "/health"): "takes no input (its probes are covered by test_e2e_foundation)",
    # Litestar's OpenAPI plugin: the schema, its Scalar page, and `/v1` + `/v1/{path}` (the plugin's
    # root and its catch-all for the other renderers and `openapi.yaml`); the AsyncAPI document too.
    ("GET", "/v1"): DOCUMENTATION,
    ("GET", "/v1/{path:str}"): DOCUMENTATION,
    ("GET", "/v1/openapi.json"): DOCUMENTATION,
    ("GET", "/v1/docs"): DOCUMENTATION,
    ("GET", "/v1/asyncapi.json"): DOCUMENTATION,
    ("GET", "/v1/auth/api-keys"): ACCESS,
    ("POST", "/v1/auth/api-key"): ACCESS,
    ("DELETE", "/v1/auth/api-key"): ACCESS,
    ("GET", "/v1/auth/publishable-key"): ACCESS,
    ("GET", "/v1/roles"): ACCESS,
    ("GET", "/v1/guests/{guest_id:str}/roles"): ACCESS,
    ("POST", "/v1/guests/{guest_id:str}/roles"): ACCESS,
    ("DELETE", "/v1/guests/{guest_id:str}/roles/{actor_role_id:str}"): ACCESS,
    # the space web app (gateway_service/web): a page, its session probe and static files, not /v1
    # API; their bad tokens, spaces and paths are covered by tests/browser/ (test_space_app, test_guest_link)
    ("GET", "/space/{space:str}"): "the web app's page (tests/browser)",
    ("GET", "/space/{space:str}/session"): "the web app's session probe (tests/browser)",
    ("GET", "/static/app/{file_path:path}"): "the web app's static files (tests/browser)",
}


def _routes() -> dict[tuple[str, str], int]:
    """(method, path) -> body limit of every route the gateway registers; the app is built, never started."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        app = create_app(Settings(service_name="gateway", otel_exporter="none"))
    found: dict[tuple[str, str], int] = {}
    for route in app.routes:
        assert isinstance(route, HTTPRoute), route
        for method, (handler, _) in route.route_handler_map.items():
            if method in METHODS:
                limit = handler.request_max_body_size
                found[str(method), route.path] = limit if isinstance(limit, int) else MAX_BODY
    return found


ROUTES = _routes()


def test_every_route_is_swept() -> None:
    registered = set(ROUTES)
    assert registered - set(ENDPOINTS) - set(SKIPPED) == set(), "add the new routes to ENDPOINTS (or SKIPPED)"
    assert set(ENDPOINTS) | set(SKIPPED) <= registered, "ENDPOINTS names routes that no longer exist"


# ---- the cases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    params: list[tuple[str, str]] = field(default_factory=list)
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    expect: int | None = None  # a specific 4xx, when it matters


def _json(value: object) -> bytes:
    return msgspec.json.encode(value)


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _nested_object(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def _wrong_values(tp: Any) -> list[object]:
    """Values of JSON types a field of type `tp` refuses: null, a number, an object, a list, a string."""
    candidates: list[object] = [None, 12345, {"o": 1}, ["x"], "text", True]
    wrong = []
    for value in candidates:
        try:
            msgspec.json.decode(_json(value), type=tp)
        except msgspec.ValidationError:
            wrong.append(value)
    return wrong


def _fill(template: str, ids: dict[str, str]) -> str:
    path = template
    for param, kind in PATH_KINDS.items():
        path = path.replace("{" + param + ":str}", ids[kind])
    return path


def _body_cases(method: str, template: str, spec: Endpoint, ids: dict[str, str]) -> Iterator[Case]:
    path = _fill(template, ids)
    limit = ROUTES[method, template]
    raw = {"Content-Type": "application/json"}

    def case(name: str, content: bytes, headers: dict[str, str] | None = None, expect: int | None = None) -> Case:
        return Case(name, method, path, content=content, headers=headers or raw, expect=expect)

    array = spec.array or spec.body in ("records", "updates")
    yield case("malformed JSON", b'{"name": ', expect=400)
    yield case("malformed JSON array", b"[{,]", expect=400)
    yield case("truncated unicode", b'{"name": "\xff\xfe', expect=400)
    yield case("wrong top-level type", b'{"name": "x"}' if array else b'["x"]', expect=400)
    yield case("top-level string", b'"x"', expect=400)
    yield case("top-level null", b"null", expect=400)
    yield case("deeply nested arrays", _nested(DEPTH))
    yield case("deeply nested objects", _nested_object(DEPTH))
    yield case("form body as text/plain", b"name=x&title=y", {"Content-Type": "text/plain"}, 400)
    yield case("xml body", b"<space><name>x</name></space>", {"Content-Type": "application/xml"}, 400)
    gz = {**raw, "Content-Encoding": "gzip"}
    yield case("gzip header, plain bytes", b"this is not gzip", gz, 400)
    yield case("gzip header, truncated gzip", gzip.compress(b'[{"name": "x"}]')[:12], gz, 400)
    yield case("body over the limit", b"[" + b" " * (limit + 1) + b"]", expect=413)

    def wrap(item: dict[str, object]) -> bytes:
        return _json([item] if array else item)

    if isinstance(spec.body, type):
        nested_any = b'{"a":' * DEPTH + b"1" + b"}" * DEPTH
        for info in msgspec.structs.fields(spec.body):
            for value in _wrong_values(info.type):
                yield case(f"{info.encode_name}={value!r}", wrap({info.encode_name: value}), expect=400)
            if info.encode_name in spec.long:
                yield case(f"{info.encode_name} of 100k chars", wrap({info.encode_name: LONG}), expect=400)
            if "Any" in str(info.type):
                inner = b'{"' + info.encode_name.encode() + b'":' + nested_any + b"}"
                yield case(f"{info.encode_name} nested {DEPTH} deep", b"[" + inner + b"]" if array else inner)
    elif spec.body == "records":
        bodies: tuple[list[object], ...] = (
            [5],
            [[]],
            [None],
            ["x"],
            [{"name": {"value": "v", "messages": "not-a-list"}}],
            [{"name": {"value": "v", "messages": [5]}}],
            [{"name": {"value": LONG}}],
            [{"unknown_field": "v"}],
            [{"": "v"}],
            [{"a.b": "v"}],
            [{">": "v"}],
        )
        for body in bodies:
            yield case(f"records {str(body)[:40]}", _json(body), expect=None)
        yield case("records nested value", b'[{"name":{"value":' + _nested(DEPTH) + b"}}]")
        yield case("gzip of an object", gzip.compress(b'{"name": "x"}'), gz, 400)
    elif spec.body == "updates":
        record = ids["record"]
        bodies = (
            [5],
            [{}],
            [{"id": 5, "values": {}}],
            [{"id": record, "values": []}],
            [{"id": record, "values": {"name": {"value": LONG}}}],
            [{"id": record, "values": {"unknown_field": "v"}}],
            [{"id": "us_rc_doesnotexist", "values": {"name": "v"}}],
            [{"id": "a.b", "values": {"name": "v"}}],
            [{"id": ">", "values": {"name": "v"}}],
            [{"id": record, "values": {"name": "v"}, "metadata": []}],
            [{"id": None, "values": None}],
        )
        for body in bodies:
            yield case(f"updates {str(body)[:40]}", _json(body))
    if spec.bodies is not None:
        for name, value, expect in spec.bodies(ids):
            yield case(name, _json(value), expect=expect)


def _id_cases(method: str, template: str, spec: Endpoint, ids: dict[str, str]) -> Iterator[Case]:
    params = [p for p in PATH_KINDS if "{" + p + ":str}" in template]
    query = list(spec.base_query.items())
    body = _valid_body(spec, ids)
    for param in params:
        kind = PATH_KINDS[param]
        other = [ids[OTHER_ENV[kind]]] if kind in OTHER_ENV else []
        bad = [UNKNOWN[kind], ids[WRONG_KIND[kind]], *other, *WEIRD_IDS]
        for value in bad:
            path = _fill(template, {**ids, kind: value})
            yield Case(f"{param}={value[:30]!r}", method, path, query, body, {"Content-Type": "application/json"})


def _valid_body(spec: Endpoint, ids: dict[str, str]) -> bytes | None:
    """A body good enough that only the id (or query) is wrong."""
    if spec.body is None:
        return None
    return {
        "records": b'[{"name": "sweep"}]',
        "updates": _json([{"id": ids["record"], "values": {"name": "sweep"}}]),
    }.get(str(spec.body), _json([] if spec.array else VALID_OBJECT))


def _query_cases(method: str, template: str, spec: Endpoint, ids: dict[str, str]) -> Iterator[Case]:
    path = _fill(template, ids)
    body = _valid_body(spec, ids)
    headers = {"Content-Type": "application/json"}
    base = list(spec.base_query.items())
    for name, values in spec.query.items():
        others = [(k, v) for k, v in base if k != name]
        for value in (_resolve(v, ids) for v in values):
            yield Case(f"{name}={value[:30]!r}", method, path, [*others, (name, value)], body, headers)
    for header, values in spec.headers.items():
        for value in (_resolve(v, ids) for v in values):
            yield Case(f"{header}: {value[:30]!r}", method, path, base, body, {**headers, header: value}, 400)
    for combo in spec.combos:
        params = [(k, _resolve(v, ids)) for k, v in combo]
        named = "&".join(k for k, _ in combo)
        yield Case(f"combination {named}", method, path, [*base, *params], body, headers, 400)
    if spec.ids_param:
        many = [("ids", "a")] * (records.MAX_QUERY_IDS + 1)  # short: httpx refuses URLs over 64k
        yield Case("ids repeated 10,001 times", method, path, [*base, *many], body, headers, 400)
        yield Case(
            "ids 10,001 comma-separated", method, path, [*base, ("ids", ",".join(["x"] * 10_001))], body, headers, 400
        )


def _resolve(value: str | Ref, ids: dict[str, str]) -> str:
    return ids[value.key] if isinstance(value, Ref) else value


def _refused_cases(method: str, template: str, spec: Endpoint, ids: dict[str, str]) -> Iterator[Case]:
    """The real ids with a credential that may not use them: refused before anything is read or written."""
    path = _fill(template, ids)
    for who in spec.refused:
        body = _valid_body(spec, ids) if who.body is None else _json(who.body)
        params = [*spec.base_query.items(), *((k, _resolve(v, ids)) for k, v in who.params)]
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {ids[who.credential]}"}
        name = f"as {who.credential} {dict(params)}"
        yield Case(name, method, path, params, body, headers, who.status)


def _cases(ids: dict[str, str]) -> list[Case]:
    out: list[Case] = []
    for (method, template), spec in ENDPOINTS.items():
        if spec.body is not None:
            out.extend(_body_cases(method, template, spec, ids))
        out.extend(_id_cases(method, template, spec, ids))
        out.extend(_query_cases(method, template, spec, ids))
        out.extend(_refused_cases(method, template, spec, ids))
        if spec.raw is not None:
            out.extend(spec.raw(method, template, ids))
    return out


# ---- the sweep ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=30, base_url=platform.base_url) as client:
        yield client


def _ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()


@pytest.fixture(scope="module")
def world(api: httpx.Client) -> dict[str, str]:
    """One real resource of every kind, so ids of the right (and the wrong) kind exist."""
    tag = uuid.uuid4().hex[:8]
    environment = _ok(api.get("/v1/environments/current"))["data"]["id"]
    space = _ok(api.post("/v1/spaces", json={"name": f"sweep {tag}"}))["data"]["id"]
    document = _ok(api.post(f"/v1/spaces/{space}/documents", json={"title": "t", "body": "b"}))["data"]["id"]
    sheet_config = {"name": "People", "slug": "people", "fields": [{"key": "name", "type": "string"}]}
    workbook = _ok(api.post("/v1/workbooks", json={"name": "wb", "spaceId": space, "sheets": [sheet_config]}))
    sheet = workbook["data"]["sheets"][0]["id"]
    inserted = _ok(api.post(f"/v1/sheets/{sheet}/records", json=[{"name": "Ada"}, {"name": "Grace"}]))["data"]
    guest_body = [
        {"environmentId": environment, "email": f"g{tag}@example.com", "name": "G", "spaces": [{"id": space}]}
    ]
    guest = _ok(api.post("/v1/guests", json=guest_body))["data"][0]["id"]
    job = _ok(api.post("/v1/jobs", json={"type": "space", "operation": "sweep", "source": space}))["data"]["id"]
    event = _ok(api.post("/v1/events", json={**VALID_EVENT, "payload": {"sweep": tag}}))["data"]["id"]
    secret = _ok(api.post("/v1/secrets", json={"name": f"SWEEP_{tag}", "value": "v"}))["data"][0]["id"]
    token = _ok(api.get(f"/v1/guests/{guest}/token", params={"spaceId": space}))["data"]["token"]
    form = {"spaceId": space, "environmentId": environment}
    file = _ok(api.post("/v1/files", data=form, files={"file": ("sweep.csv", b"name\nAda\n")}))["data"]["id"]
    _settle_upload(api, space, file)
    view_body = {"sheetId": sheet, "name": "sweep", "config": {"sortField": "name"}}
    view = _ok(api.post("/v1/views", json=view_body))["data"]["id"]
    snapshot = _ok(api.post("/v1/snapshots", json={"sheetId": sheet, "label": "sweep"}))["data"]["id"]
    policy_body = {"type": "sinceCreated", "period": 36_500, "environmentId": environment}
    policy = _ok(api.post("/v1/data-retention-policies", json=policy_body))["data"]["id"]
    app = _ok(api.post("/v1/apps", json={"name": f"sweep {tag}", "type": "CUSTOM"}))["data"]["id"]
    constraint = _ok(api.post(f"/v1/apps/{app}/constraints", json={"validator": "SWEEP"}))["data"]["id"]
    rotated = _ok(api.post("/v1/environments/current/keys/rotate", params={"type": "publishable"}))["data"]
    return {
        "environment": environment,
        "space": space,
        "document": document,
        "workbook": workbook["data"]["id"],
        "sheet": sheet,
        "record": inserted["records"][0]["id"],
        "commit": inserted["commitId"],
        "guest": guest,
        "job": job,
        "event": event,
        "secret": secret,
        "file": file,
        "view": view,
        "snapshot": snapshot,
        "policy": policy,
        "app": app,
        "constraint": constraint,
        "version": "1",
        "guest_token": token,
        "publishable": rotated["publishableKey"],
        **_other_world(api, tag),
    }


def _settle_upload(api: httpx.Client, space: str, file: str) -> None:
    """Until the upload's extraction is done and the space counts the file: the snapshots taken
    before and after the sweep must not see that work land in between."""
    deadline = time.monotonic() + 60
    while True:
        jobs = _ok(api.get("/v1/jobs", params={"fileId": file}))["data"]
        counted = _ok(api.get(f"/v1/spaces/{space}"))["data"].get("filesCount")
        if jobs and all(j["status"] in ("complete", "failed") for j in jobs) and counted == 1:
            return
        assert time.monotonic() < deadline, f"the sweep's upload did not settle: {jobs}, filesCount {counted}"
        time.sleep(0.2)


def _other_world(api: httpx.Client, tag: str) -> dict[str, str]:
    """Another environment with a space, a commit, an event and a secret: none of them the sweep's to touch."""
    made = _ok(api.post("/v1/environments", json={"name": f"sweep-other-{tag}"}))["data"]
    key = {"Authorization": f"Bearer {made['secretKey']}"}
    space = _ok(api.post("/v1/spaces", json={"name": f"other {tag}"}, headers=key))["data"]["id"]
    sheet_config = {"name": "Other", "slug": "other", "fields": [{"key": "name", "type": "string"}]}
    body = {"name": "other", "spaceId": space, "sheets": [sheet_config]}
    sheet = _ok(api.post("/v1/workbooks", json=body, headers=key))["data"]["sheets"][0]["id"]
    commit = _ok(api.post(f"/v1/sheets/{sheet}/records", json=[{"name": "Other"}], headers=key))["data"]["commitId"]
    event = _ok(api.post("/v1/events", json=VALID_EVENT, headers=key))["data"]["id"]
    secret = _ok(api.post("/v1/secrets", json={"name": "OTHER", "value": "v"}, headers=key))["data"][0]["id"]
    other_app = _ok(api.post("/v1/apps", json={"name": "other", "type": "CUSTOM"}, headers=key))["data"]["id"]
    return {
        "other_app": other_app,
        "other_environment": made["id"],
        "other_key": made["secretKey"],
        "other_space": space,
        "other_commit": commit,
        "other_event": event,
        "other_secret": secret,
    }


def _snapshot(api: httpx.Client, ids: dict[str, str]) -> dict[str, Any]:
    space, sheet = ids["space"], ids["sheet"]
    other = {"Authorization": f"Bearer {ids['other_key']}"}
    return {
        "environment": _ok(api.get("/v1/environments/current")),
        "environments": _ok(api.get("/v1/environments", params={"pageSize": 1000}))["pagination"],
        "space": _ok(api.get(f"/v1/spaces/{space}")),
        "spaces": _ok(api.get("/v1/spaces", params={"pageSize": 1000})),
        "documents": _ok(api.get(f"/v1/spaces/{space}/documents")),
        "guests": _ok(api.get("/v1/guests", params={"spaceId": space})),
        "workbooks": _ok(api.get("/v1/workbooks", params={"spaceId": space})),
        "sheet": _ok(api.get(f"/v1/sheets/{sheet}")),
        "records": _ok(api.get(f"/v1/sheets/{sheet}/records")),
        "commits": _ok(api.get(f"/v1/sheets/{sheet}/commits")),
        "token": api.get(f"/v1/guests/{ids['guest']}/token").status_code,
        "job": _ok(api.get(f"/v1/jobs/{ids['job']}")),
        "event": _ok(api.get(f"/v1/events/{ids['event']}")),
        "secrets": _ok(api.get("/v1/secrets")),
        "apps": _ok(api.get("/v1/apps")),
        "app": _ok(api.get(f"/v1/apps/{ids['app']}")),
        "constraints": _ok(api.get(f"/v1/apps/{ids['app']}/constraints")),
        "versions": _ok(api.get(f"/v1/apps/{ids['app']}/constraints/{ids['constraint']}/versions")),
        "commit": _ok(api.get(f"/v1/commits/{ids['commit']}")),
        "file": _ok(api.get(f"/v1/files/{ids['file']}")),
        "files": _ok(api.get("/v1/files", params={"spaceId": space, "pageSize": 1000})),
        "download": api.get(f"/v1/files/{ids['file']}/download").content,
        "view": _ok(api.get(f"/v1/views/{ids['view']}")),
        "views": _ok(api.get("/v1/views", params={"sheetId": sheet, "pageSize": 1000})),
        "other": {
            "event": _ok(api.get(f"/v1/events/{ids['other_event']}", headers=other)),
            "secrets": _ok(api.get("/v1/secrets", headers=other)),
            "apps": _ok(api.get("/v1/apps", headers=other)),
            "commit": _ok(api.get(f"/v1/commits/{ids['other_commit']}", headers=other)),
        },
    }


def _send(api: httpx.Client, case: Case) -> str | None:
    """None when the answer is a proper 4xx error; else what is wrong with it."""
    what = f"{case.method} {case.path[:120]} [{case.name}]"
    try:
        reply = api.request(
            case.method, case.path, params=tuple(case.params), content=case.content, headers=case.headers
        )
    except httpx.HTTPError as error:
        return f"{what}: no answer ({type(error).__name__}: {error})"
    problem = _problem(reply, case.expect)
    return None if problem is None else f"{what}: {problem}"


def _problem(reply: httpx.Response, expect: int | None) -> str | None:
    status = reply.status_code
    if not 400 <= status < 500 or (expect is not None and status != expect):
        return f"{status} (expected {expect or '4xx'}): {reply.text[:200]}"
    if status == 413 and reply.headers.get("connection") != "close":
        return "413 without 'Connection: close' (the unread body would poison the kept-alive connection)"
    try:
        message = reply.json()["errors"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        return f"{status} without the error envelope: {reply.text[:200]}"
    if not isinstance(message, str) or not message.strip():
        return f"{status} with an empty message"
    return None


def test_bad_input_sweep(api: httpx.Client, world: dict[str, str]) -> None:
    before = _snapshot(api, world)
    cases = _cases(world)
    problems = [p for p in (_send(api, c) for c in cases) if p is not None]
    assert not problems, f"{len(problems)} of {len(cases)} bad requests were not a clean 4xx:\n" + "\n".join(problems)
    assert api.get("/health").status_code == 200
    assert _snapshot(api, world) == before


WEIRD_HEADERS: list[tuple[str, Callable[[str], dict[str, str]]]] = [
    ("no credentials", lambda _: {"Authorization": ""}),
    ("basic scheme", lambda _: {"Authorization": "Basic dXNlcjpwYXNz"}),
    ("unknown key", lambda _: {"Authorization": "Bearer sk_doesnotexist"}),
    ("key with dots and wildcards", lambda _: {"Authorization": "Bearer sk_a.b.>.*"}),
    ("very long key", lambda _: {"Authorization": "Bearer sk_" + "x" * 10_000}),
]


@pytest.mark.parametrize(("name", "headers"), WEIRD_HEADERS, ids=[n for n, _ in WEIRD_HEADERS])
def test_bad_credentials_are_a_401(
    api: httpx.Client, world: dict[str, str], name: str, headers: Callable[[str], dict[str, str]]
) -> None:
    assert name
    reply = api.get(f"/v1/spaces/{world['space']}", headers=headers(world["space"]))
    assert reply.status_code == 401, reply.text
    assert reply.json()["errors"][0]["message"]


def test_since_commit_id_is_honoured_by_every_selection(api: httpx.Client, world: dict[str, str]) -> None:
    """Writes and cells once ignored `sinceCommitId` (a delete with filter=all took every record)."""
    config = {"name": "Since", "slug": "since", "fields": [{"key": "name", "type": "string"}]}
    body = {"name": "since", "spaceId": world["space"], "sheets": [config]}
    sheet = _ok(api.post("/v1/workbooks", json=body))["data"]["sheets"][0]["id"]
    _ok(api.post(f"/v1/sheets/{sheet}/records", json=[{"name": "old"}]))
    since = {"sinceCommitId": _ok(api.post(f"/v1/sheets/{sheet}/records", json=[{"name": "new"}]))["data"]["commitId"]}

    cells = _ok(api.get(f"/v1/sheets/{sheet}/cells", params={"fieldKey": "name", **since}))["data"]["name"]
    assert [c["value"] for c in cells] == ["new"]
    _ok(
        api.put(
            f"/v1/sheets/{sheet}/find-replace", params=since, json={"fieldKey": "name", "find": "o", "replace": "x"}
        )
    )
    _ok(api.delete(f"/v1/sheets/{sheet}/records", params={"filter": "all", **since}))
    left = _ok(api.get(f"/v1/sheets/{sheet}/records"))["data"]["records"]
    assert [r["values"]["name"]["value"] for r in left] == ["old"]
