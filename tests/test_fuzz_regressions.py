"""What the OpenAPI fuzz run (tests/test_fuzz_openapi.py) found, each kept as a small test.

1. A NUL character in a query parameter (`GET /v1/guests?email=a%00b`) reached Postgres, which
   cannot store NUL in text, and answered 503: now a 400 naming the parameter (gateway ids.py).
2. The document described every error as Litestar's `{status_code, detail, extra}` (the gateway
   sends Flatfile's `{"errors":[{"message","key"}]}`), listed no 401/403/404/409/… at all, and
   described the pre-encoded JSON answers (`Response[bytes]`) as a string (gateway api_docs.py).
3. With request bodies in the document (issue 12): a NUL character in a JSON body's string (`{"name":
   "a\\u0000b"}`), or a `displayOrder` / job `part` beyond a Postgres `integer`, was accepted and
   its event appended but never projected: the create answered 404 for the resource it had just
   made, an update answered 200 and changed nothing. Now a 400 naming the field (gateway body.py:
   `decode` refuses NUL, `Int32`); the fuzz's `no_write_lost` check fails such a 404. A NUL in a
   record id of a `PUT …/records` body answered 503 (the record service's lookup): now a 400.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway_service.app import create_app
from spaceport.settings import Settings
from spaceport.testing.platform import Platform

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=30, base_url=platform.base_url) as client:
        yield client


@pytest.fixture(scope="module")
def space(api: httpx.Client) -> str:
    reply = api.post("/v1/spaces", json={"name": f"fuzz regressions {uuid.uuid4().hex[:6]}"})
    assert reply.status_code == 200, reply.text
    space_id: str = reply.json()["data"]["id"]
    return space_id


@pytest.mark.parametrize(
    ("path", "params", "key"),
    [
        ("/v1/guests", {"email": "a\x00b"}, "email"),
        ("/v1/spaces", {"search": "\x00"}, "search"),
        ("/v1/workbooks", {"name": "wb\x00"}, "name"),
    ],
)
def test_a_nul_in_a_query_parameter_is_a_400_naming_it(
    api: httpx.Client, space: str, path: str, params: dict[str, str], key: str
) -> None:
    reply = api.get(path, params={"spaceId": space, **params})
    assert reply.status_code == 400, reply.text
    [error] = reply.json()["errors"]
    assert error["key"] == key
    assert "NUL" in error["message"]
    # the same request without the NUL is answered
    clean = {name: value.replace("\x00", "") for name, value in params.items()}
    assert api.get(path, params={"spaceId": space, **clean}).status_code == 200


def _document() -> dict[str, Any]:
    with warnings.catch_warnings():  # Litestar's deprecation notes (tests/test_e2e_bad_input_sweep.py does the same)
        warnings.simplefilter("ignore", DeprecationWarning)
        app = create_app(Settings(service_name="gateway", otel_exporter="none"))
    document: dict[str, Any] = app.openapi_schema.to_schema()
    return document


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def test_every_operation_documents_the_error_envelope() -> None:
    document = _document()
    envelope = document["components"]["schemas"]["ErrorBody"]
    assert envelope["required"] == ["errors"]
    assert document["components"]["schemas"]["ErrorItem"]["required"] == ["message"]
    wrong = [
        (name, status)
        for name, operation in _operations(document)
        for status in ("400", "401", "403", "404", "409", "413", "429", "503")
        if operation["responses"].get(status, {}).get("content", {}).get("application/json", {}).get("schema")
        != {"$ref": "#/components/schemas/ErrorBody"}
    ]
    assert not wrong, wrong


def test_no_json_answer_is_documented_as_a_string() -> None:
    as_string = [
        name
        for name, operation in _operations(_document())
        if operation["responses"]["200"].get("content", {}).get("application/json", {}).get("schema")
        == {"type": "string"}
    ]
    assert not as_string, as_string


@pytest.mark.parametrize(
    ("path", "body", "key"),
    [
        ("/v1/spaces", {"name": "a\u0000b"}, "name"),
        ("/v1/spaces", {"name": "s", "metadata": {"k": ["ok", "a\u0000"]}}, "metadata.k[1]"),
        ("/v1/spaces", {"name": "s", "displayOrder": 2**31}, "displayOrder"),
        ("/v1/jobs", {"type": "space", "operation": "o", "source": "SPACE", "part": 2**31}, "part"),
        ("/v1/jobs", {"type": "space", "operation": "o\u0000", "source": "SPACE"}, "operation"),
    ],
)
def test_a_body_its_services_cannot_store_is_a_400_naming_the_field(
    api: httpx.Client, space: str, path: str, body: dict[str, Any], key: str
) -> None:
    sent = {name: space if value == "SPACE" else value for name, value in body.items()}
    reply = api.post(path, json=sent)  # json.dumps escapes the NUL as \\u0000
    assert reply.status_code == 400, reply.text
    assert reply.json()["errors"][0]["key"] == key, reply.text


def test_a_space_created_with_a_bounded_display_order_is_read_back(api: httpx.Client) -> None:
    reply = api.post("/v1/spaces", json={"name": "ordered", "displayOrder": 2**31 - 1})
    assert reply.status_code == 200, reply.text
    assert reply.json()["data"]["displayOrder"] == 2**31 - 1


def test_a_nul_in_a_record_id_to_update_is_a_400(api: httpx.Client, space: str) -> None:
    sheet = {"name": "People", "slug": "people", "fields": [{"key": "name", "type": "string"}]}
    workbook = api.post("/v1/workbooks", json={"name": "wb", "spaceId": space, "sheets": [sheet]})
    assert workbook.status_code == 200, workbook.text
    sheet_id = workbook.json()["data"]["sheets"][0]["id"]
    body = [{"id": "us_rc_a\u0000", "values": {"name": {"value": "x"}}}]
    reply = api.put(f"/v1/sheets/{sheet_id}/records", json=body)  # it answered 503
    assert reply.status_code == 400, reply.text
    assert reply.json()["errors"][0]["key"] == "[0].id", reply.text


def test_a_nul_in_a_record_value_is_a_400_and_nothing_is_lost(api: httpx.Client, space: str) -> None:
    """A NUL inside a cell's value was answered 200 and the record never reached the read model
    (Postgres jsonb cannot hold it): now a 400 saying where, and the sheet is as it was."""
    sheet = {"name": "People", "slug": "people", "fields": [{"key": "name", "type": "string"}]}
    workbook = api.post("/v1/workbooks", json={"name": "wb", "spaceId": space, "sheets": [sheet]})
    assert workbook.status_code == 200, workbook.text
    sheet_id = workbook.json()["data"]["sheets"][0]["id"]
    reply = api.post(
        f"/v1/sheets/{sheet_id}/records", json=[{"name": {"value": "ok"}}, {"name": {"value": "a\u0000b"}}]
    )
    assert reply.status_code == 400, reply.text
    assert "NUL" in reply.json()["errors"][0]["message"] and "$[1].name.value" in reply.json()["errors"][0]["message"]
    kept = api.post(f"/v1/sheets/{sheet_id}/records", json=[{"name": {"value": "ok"}}])
    assert kept.status_code == 200, kept.text
    record_id = kept.json()["data"]["records"][0]["id"]
    update = api.put(
        f"/v1/sheets/{sheet_id}/records", json=[{"id": record_id, "values": {"name": {"value": "\u0000"}}}]
    )
    assert update.status_code == 400, update.text
    listed = api.get(f"/v1/sheets/{sheet_id}/records")
    assert [r["values"]["name"]["value"] for r in listed.json()["data"]["records"]] == ["ok"]
