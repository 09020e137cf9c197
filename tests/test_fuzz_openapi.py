"""A schemathesis run over the gateway's own OpenAPI document (`/v1/openapi.json`).

Every operation the document lists is called with generated requests (query strings, path ids
and JSON request bodies from the document's schemas; positive cases, and negative ones where there
is a query parameter or a body to break); real ids of one world of resources (made first, in an
environment of the fuzz's own) stand in for the path ids, the id query parameters and the id
fields of positive bodies (`spaceId`, `sheetId`, …) of three cases in four, so requests reach the
handlers rather than all answering 404. Every answer must: not be a 5xx, have a status the document
lists for the operation, a documented Content-Type, and a body that matches the documented schema;
a case whose only broken part is its body must answer 4xx (the body schemas are msgspec's own for
the types the handlers decode, gateway_service/api_docs.py, so what breaks them is what the
handlers refuse), and no 404 may name an id the request did not (`no_write_lost`: a write the
gateway accepted and could not read back).

Reproducible and bounded: hypothesis runs derandomized (the same cases every run), at most
EXAMPLES per operation and mode, without shrinking (about 1,550 calls; about a minute here, two on
a busy machine).
What the run does not reach: multipart bodies (`POST /v1/files`; tests/test_e2e_bad_input_sweep.py
sends bad bodies to every route), and `GET /v1/events/stream`, an endless SSE response
(tests/test_e2e_sse_resume.py).
"""

from __future__ import annotations

import re
import time
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.core.failures import FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.modes import GenerationMode
from schemathesis.openapi.checks import JsonSchemaError, UndefinedStatusCode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from spaceport.testing.platform import Platform

EXAMPLES = 12  # generated requests per operation and mode (fewer when its parameters allow fewer)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# The operations a JSON body must be documented for (the fuzz generates bodies for all that have one).
BODY_OPERATIONS = (
    "POST /v1/spaces",
    "PATCH /v1/spaces/{space_id}",
    "POST /v1/workbooks",
    "PATCH /v1/workbooks/{workbook_id}",
    "POST /v1/sheets/{sheet_id}/records",
    "PUT /v1/sheets/{sheet_id}/records",
    "POST /v1/jobs",
    "POST /v1/spaces/{space_id}/documents",
    "POST /v1/events",
    "POST /v1/guests",
)
# Calls that end the fuzz's own world (its key, its environment) for every later call: they run
# on a second environment made only for them, and last.
LIFECYCLE_METHODS = ("DELETE",)
LIFECYCLE_PATHS = (
    "/v1/environments/{environment_id}/keys/rotate",
    "/v1/spaces/{space_id}/archive",
    "/v1/spaces/{space_id}/unarchive",
    "/v1/sheets/{sheet_id}/lock",
    "/v1/sheets/{sheet_id}/unlock",
)
ENDLESS = "/v1/events/stream"
# Containers go after what they contain (deleting a space ends its workbooks, deleting or rotating
# the environment ends the key the calls use), in this order; the rest keep the document's order.
LAST = (
    "/v1/sheets/{sheet_id}",
    "/v1/workbooks/{workbook_id}",
    "/v1/spaces/{space_id}",
    "/v1/spaces",
    "/v1/environments/{environment_id}/keys/rotate",
    "/v1/environments/{environment_id}",
)

# Path parameter -> the world's id of its kind.
KINDS = {
    "environment_id": "environment",
    "space_id": "space",
    "document_id": "document",
    "guest_id": "guest",
    "workbook_id": "workbook",
    "sheet_id": "sheet",
    "record_id": "record",
    "commit_id": "commit",
    "version_id": "commit",
    "job_id": "job",
    "event_id": "event",
    "secret_id": "secret",
    "file_id": "file",
    "app_id": "app",
    "constraint_id": "constraint",
    "version": "version",
    "view_id": "view",
    "snapshot_id": "snapshot",
    "data_retention_policy_id": "policy",
    "actor_role_id": "actor_role",
}

QUERY_KINDS = {
    "environmentId": "environment",
    "spaceId": "space",
    "workbookId": "workbook",
    "sheetId": "sheet",
    "fileId": "file",
    "jobId": "job",
    "appId": "app",
}


@schemathesis.check
def no_write_lost(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 404 that names an id the request never did: the gateway made that resource and its own
    read back found nothing (a write accepted but never projected: a NUL in a name did that)."""
    if response.status_code != 404:
        return None
    sent = f"{case.path_parameters} {case.query} {case.body}"
    lost = [found for found in re.findall(r"\bus_[a-z]+_[0-9a-z]+", response.text) if found not in sent]
    assert not lost, f"404 for {lost}, which the request did not name: its write was lost"
    return True


def _ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, f"{reply.request.method} {reply.request.url}: {reply.status_code} {reply.text}"
    return reply.json()["data"]


def _settled(api: httpx.Client, file: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        jobs = _ok(api.get("/v1/jobs", params={"fileId": file}))
        if jobs and all(j["status"] in ("complete", "failed") for j in jobs):
            return
        assert time.monotonic() < deadline, f"the fuzz's upload did not settle: {jobs}"
        time.sleep(0.2)


def _world(api: httpx.Client, tag: str) -> dict[str, str]:
    """One real resource of every kind, made with the fuzz environment's key."""
    environment = _ok(api.get("/v1/environments/current"))["id"]
    space = _ok(api.post("/v1/spaces", json={"name": f"fuzz {tag}"}))["id"]
    document = _ok(api.post(f"/v1/spaces/{space}/documents", json={"title": "t", "body": "b"}))["id"]
    sheet_config = {"name": "People", "slug": "people", "fields": [{"key": "name", "type": "string"}]}
    workbook = _ok(api.post("/v1/workbooks", json={"name": "wb", "spaceId": space, "sheets": [sheet_config]}))
    sheet = workbook["sheets"][0]["id"]
    inserted = _ok(api.post(f"/v1/sheets/{sheet}/records", json=[{"name": "Ada"}, {"name": "Grace"}]))
    guest_body = [
        {"environmentId": environment, "email": f"f{tag}@example.com", "name": "G", "spaces": [{"id": space}]}
    ]
    guest = _ok(api.post("/v1/guests", json=guest_body))[0]["id"]
    job = _ok(api.post("/v1/jobs", json={"type": "space", "operation": "fuzz", "source": space}))["id"]
    event_body = {"topic": "space:created", "domain": "space", "context": {"spaceId": space}, "payload": {"f": tag}}
    event = _ok(api.post("/v1/events", json=event_body))["id"]
    secret = _ok(api.post("/v1/secrets", json={"name": f"FUZZ_{tag}", "value": "v"}))[0]["id"]
    form = {"spaceId": space, "environmentId": environment}
    file = _ok(api.post("/v1/files", data=form, files={"file": ("fuzz.csv", b"name\nAda\n")}))["id"]
    _settled(api, file)
    view = _ok(api.post("/v1/views", json={"sheetId": sheet, "name": "fuzz", "config": {"sortField": "name"}}))["id"]
    snapshot = _ok(api.post("/v1/snapshots", json={"sheetId": sheet, "label": "fuzz"}))["id"]
    policy_body = {"type": "sinceCreated", "period": 36_500, "environmentId": environment}
    policy = _ok(api.post("/v1/data-retention-policies", json=policy_body))["id"]
    app = _ok(api.post("/v1/apps", json={"name": f"fuzz {tag}", "type": "CUSTOM"}))["id"]
    constraint = _ok(api.post(f"/v1/apps/{app}/constraints", json={"validator": "FUZZ"}))["id"]
    roles = _ok(api.get(f"/v1/guests/{guest}/roles"))
    return {
        "environment": environment,
        "space": space,
        "document": document,
        "workbook": workbook["id"],
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
        "actor_role": roles[0]["id"] if roles else "us_ar_none",
    }


@pytest.fixture(scope="module")
def fuzz(platform: Platform) -> Iterator[dict[str, Any]]:
    """The fuzz's environment (its key, its world of ids) and a second one for the lifecycle calls."""
    tag = uuid.uuid4().hex[:6]
    with platform.client(timeout=60, base_url=platform.base_url) as admin:
        made = _ok(admin.post("/v1/environments", json={"name": f"fuzz-{tag}"}))
        doomed = _ok(admin.post("/v1/environments", json={"name": f"fuzz-doomed-{tag}"}))
    auth = {"Authorization": f"Bearer {made['secretKey']}"}
    doomed_auth = {"Authorization": f"Bearer {doomed['secretKey']}"}
    with (
        httpx.Client(base_url=platform.base_url, headers=auth, timeout=60) as api,
        httpx.Client(base_url=platform.base_url, headers=doomed_auth, timeout=60) as doomed_api,
    ):
        yield {
            "base_url": platform.base_url,
            "auth": auth,
            "ids": _world(api, tag),
            "doomed_auth": doomed_auth,
            "doomed_ids": _world(doomed_api, tag + "d"),
            "seen": {},  # "METHOD path" -> the statuses it answered (and the first body of each)
            "bodies": {},  # ("METHOD path", "positive" | "broken") -> statuses of the calls with a generated body
            "calls": 0,
        }


@pytest.fixture(scope="module")
def api_schema(platform: Platform) -> Any:
    return schemathesis.openapi.from_url(f"{platform.api}/openapi.json", timeout=30)


def _real_ids(case: Any, ids: dict[str, str]) -> None:
    """Most cases get real ids of the right kind in their path and id query parameters; one in four
    keeps the generated ones (which mostly answer 400 or 404)."""
    params = case.path_parameters or {}
    if params and zlib.crc32(repr(sorted(params.items())).encode()) % 4:
        case.path_parameters = {name: ids.get(KINDS.get(name, ""), value) for name, value in params.items()}
    query = case.query or {}
    if query and zlib.crc32(repr(sorted(query.items())).encode()) % 4:
        case.query = {name: ids.get(QUERY_KINDS.get(name, ""), value) for name, value in query.items()}


def _real_body_ids(case: Any, ids: dict[str, str]) -> None:
    """A positive object body's id fields (`spaceId`, …; each record of a list body) get real ids,
    three cases in four."""
    body = case.body
    items = body if isinstance(body, list) else [body]
    if not body or zlib.crc32(repr(body).encode()) % 4 == 0:
        return
    for item in items:
        if isinstance(item, dict):
            item.update({name: ids[QUERY_KINDS[name]] for name in item if name in QUERY_KINDS})
            grants = item.get("spaces")
            for grant in grants if isinstance(grants, list) else []:
                if isinstance(grant, dict) and "id" in grant:  # a guest's grants name spaces
                    grant["id"] = ids["space"]


def _only_the_body_broken(case: Any) -> bool:
    components = case.meta.components if case.meta is not None else {}
    body = components.get(ParameterLocation.BODY)
    others = [info for location, info in components.items() if location != ParameterLocation.BODY]
    return body is not None and body.mode.is_negative and not any(info.mode.is_negative for info in others)


def _blank(body: Any) -> bool:
    return isinstance(body, str | bytes) and not body.strip()


def _call(case: Any, fuzz: dict[str, Any], doomed: bool, mode: GenerationMode) -> None:
    ids = fuzz["doomed_ids" if doomed else "ids"]
    _real_ids(case, ids)
    checks = [*CHECKS, no_write_lost]
    label = None
    if mode == GenerationMode.POSITIVE:
        _real_body_ids(case, ids)
        label = "positive"
    elif _only_the_body_broken(case) and not _blank(case.body):
        # what breaks the body's schema is what its handler refuses (a blank body is no body: `{}`)
        checks.append(negative_data_rejection)
        label = "broken"
    headers = fuzz["doomed_auth" if doomed else "auth"]
    response = case.call_and_validate(base_url=fuzz["base_url"], headers=headers, checks=checks, timeout=60)
    fuzz["calls"] += 1
    operation = f"{case.method} {case.path}"
    fuzz["seen"].setdefault(operation, {}).setdefault(response.status_code, response.text[:160])
    if label is not None and case.body is not NOT_SET:
        fuzz["bodies"].setdefault((operation, label), set()).add(response.status_code)


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same cases every run
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure shows the case as generated
    suppress_health_check=list(HealthCheck),
)


def _runner(operation: Any, mode: GenerationMode, fuzz: dict[str, Any], lifecycle: bool) -> Any:
    @FUZZ_SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        _call(case, fuzz, doomed=lifecycle, mode=mode)

    return run


def _fuzz(api_schema: Any, fuzz: dict[str, Any], *, lifecycle: bool) -> int:
    """Every selected operation, positive and negative cases; all failures reported together."""
    failures: list[str] = []
    ran = 0
    operations = [result.ok() for result in api_schema.get_all_operations()]
    operations.sort(key=lambda operation: LAST.index(operation.path) + 1 if operation.path in LAST else 0)
    for operation in operations:
        if operation.path == ENDLESS:
            continue
        if (operation.method.upper() in LIFECYCLE_METHODS or operation.path in LIFECYCLE_PATHS) != lifecycle:
            continue
        ran += 1
        # Negative cases need a part with a schema to break: a query parameter or the body (path
        # ids are any string).
        breakable = operation.query.items or operation.body
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if breakable else [])
        for mode in modes:
            try:
                _runner(operation, mode, fuzz, lifecycle)()
            except Unsatisfiable:  # no parameter of the operation can be made invalid
                continue
            except (Exception, FailureGroup) as failure:
                failures.append(f"--- {operation.method.upper()} {operation.path} ({mode.value}):\n{failure}")
    assert ran, "no operation selected"
    assert not failures, f"{len(failures)} operation(s) answered against the document:\n" + "\n".join(failures)
    return ran


def test_every_operation_answers_as_documented(api_schema: Any, fuzz: dict[str, Any]) -> None:
    ran = _fuzz(api_schema, fuzz, lifecycle=False)
    # The real ids make the calls reach the handlers: most operations answered a 2xx at least once
    # (the rest need ids or values in their bodies that generated ones rarely hit, or query parameters
    # the document does not list).
    answered = {op for op, statuses in fuzz["seen"].items() if any(200 <= status < 300 for status in statuses)}
    print(f"fuzz: {fuzz['calls']} calls, {len(answered)} of {ran} operations answered 2xx")
    assert len(answered) >= ran * 0.6, f"only {len(answered)} of {ran} operations answered 2xx: {sorted(answered)}"


def test_every_delete_and_lifecycle_call_answers_as_documented(api_schema: Any, fuzz: dict[str, Any]) -> None:
    """Deletes, archive, lock and key rotation: on the second environment's world, after the rest."""
    before = set(fuzz["seen"])
    ran = _fuzz(api_schema, fuzz, lifecycle=True)
    answered = {
        op for op, statuses in fuzz["seen"].items() if op not in before and any(200 <= s < 300 for s in statuses)
    }
    print(f"fuzz: {len(answered)} of {ran} lifecycle operations answered 2xx")
    assert len(answered) >= ran * 0.5, f"only {len(answered)} of {ran} lifecycle operations answered 2xx: {answered}"


def test_generated_bodies_reach_the_handlers(api_schema: Any, fuzz: dict[str, Any]) -> None:
    """After the fuzz: the document has a JSON body for each of BODY_OPERATIONS; generated bodies were
    sent to each of them, valid ones (with real ids) were accepted by most, broken ones answered 400."""
    document = api_schema.raw_schema
    for operation in BODY_OPERATIONS:
        method, path = operation.split(" ")
        body = document["paths"][path][method.lower()].get("requestBody")
        assert body is not None, f"{operation}: no request body documented"
        assert body["content"]["application/json"]["schema"], operation
    if not fuzz["calls"]:  # run on its own (-k): the fuzz first
        _fuzz(api_schema, fuzz, lifecycle=False)
    bodies = fuzz["bodies"]
    for operation in BODY_OPERATIONS:
        for label in ("positive", "broken"):
            assert (operation, label) in bodies, f"{operation}: no {label} body was sent"
        # negative_data_rejection held each broken body's answer to a 4xx; 400 is the body's own
        assert 400 in bodies[(operation, "broken")], (operation, bodies[(operation, "broken")])
    accepted = [op for op in BODY_OPERATIONS if any(200 <= s < 300 for s in bodies[(op, "positive")])]
    with_bodies = {op for op, _ in bodies}
    refused = {op: sorted(bodies[(op, "positive")]) for op in BODY_OPERATIONS if op not in accepted}
    print(f"fuzz: bodies sent to {len(with_bodies)} operations; {len(accepted)} of {len(BODY_OPERATIONS)} accepted one")
    print(f"fuzz: no generated body accepted by {refused}")
    assert len(accepted) >= len(BODY_OPERATIONS) * 0.5, f"generated bodies accepted only by {accepted}"


def test_the_checks_catch_an_undocumented_status_and_a_body_off_its_schema(
    platform: Platform, fuzz: dict[str, Any]
) -> None:
    """The fuzz's checks on a document changed to disagree with the gateway: both disagreements fail."""
    document = httpx.get(f"{platform.api}/openapi.json", timeout=30).json()
    get_space = document["paths"]["/v1/spaces/{space_id}"]["get"]["responses"]
    del get_space["404"]
    get_space["200"]["content"]["application/json"]["schema"] = {"type": "object", "required": ["nothing"]}
    operation = schemathesis.openapi.from_dict(document)["/v1/spaces/{space_id}"]["GET"]
    for space_id, failure in (("us_sp_doesnotexist", UndefinedStatusCode), (fuzz["ids"]["space"], JsonSchemaError)):
        case = operation.Case(path_parameters={"space_id": space_id})
        with pytest.raises(FailureGroup) as raised:
            case.call_and_validate(base_url=fuzz["base_url"], headers=fuzz["auth"], checks=CHECKS, timeout=60)
        assert [type(found) for found in raised.value.exceptions] == [failure]
