"""The request bodies `/v1/openapi.json` documents (gateway_service/api_docs.py), in-process: each is
the JSON Schema of the type its handler decodes, every type a handler decodes is documented, the
record-body mirrors equal the record service's own types, and the schemas take the bodies the
platform tests send (tests/test_fuzz_openapi.py fuzzes them against the running gateway)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any, get_args

import jsonschema_rs
import msgspec
import pytest
from litestar._openapi.plugin import OpenAPIPlugin

from gateway_service import api_docs
from gateway_service.app import create_app
from record_service.domain import records as record_domain
from spaceport.contracts.record import RecordConfig
from spaceport.settings import Settings

ROUTES = Path(api_docs.__file__).parent / "routes"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    with warnings.catch_warnings():  # Litestar's deprecation of inferred dependencies
        warnings.simplefilter("ignore", DeprecationWarning)
        app = create_app(Settings(service_name="gateway", otel_exporter="none"))
    return app.plugins.get(OpenAPIPlugin).provide_openapi_schema()


def _body(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    body: dict[str, Any] = document["paths"][path][method.lower()]["requestBody"]
    return body


def _schema(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    schema: dict[str, Any] = _body(document, method, path)["content"]["application/json"]["schema"]
    return schema


def _name(kind: Any) -> str:
    return kind.__name__ if isinstance(kind, type) else f"list[{_name(get_args(kind)[0])}]"


def _bare(schema: Any) -> Any:
    """A schema without its titles and descriptions (the mirrors have their own names and docs)."""
    if isinstance(schema, list):
        return [_bare(item) for item in schema]
    if isinstance(schema, dict):
        return {k: _bare(v) for k, v in schema.items() if k not in ("title", "description")}
    return schema


def _inlined(kind: Any) -> Any:
    (top,), components = msgspec.json.schema_components([kind])
    return api_docs._inlined(top, components)


def test_every_type_a_handler_decodes_is_documented() -> None:
    decoded = set()
    for source in ROUTES.glob("*.py"):
        decoded |= set(re.findall(r"decode\(request, ((?:list\[)?[A-Z]\w*\]?)\)", source.read_text()))
    documented = {_name(kind) for _, kind in api_docs.request_bodies()}
    assert decoded, "no decode(request, …) found in the routes"
    assert decoded <= documented, f"decoded but not documented: {sorted(decoded - documented)}"


def test_every_documented_operation_has_its_types_schema(document: dict[str, Any]) -> None:
    for handler, kind in api_docs.request_bodies():
        (path,) = handler.paths
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", path)
        (method,) = handler.http_methods
        body = _body(document, method, path)
        assert body["content"]["application/json"]["schema"] == api_docs.body_schema(kind), (method, path)
        # an empty body is decoded as `{}`: required when `{}` is not a valid body
        assert body["required"] == (
            kind in (api_docs.RECORD_INSERTS, api_docs.RECORD_UPDATES) or not _decodes_empty(kind)
        ), (method, path)


def _decodes_empty(kind: Any) -> bool:
    try:
        msgspec.json.decode(b"{}", type=kind)
    except msgspec.ValidationError:
        return False
    return True


def test_the_record_body_mirrors_equal_the_record_services_types() -> None:
    assert _bare(_inlined(api_docs.RECORD_INSERTS)) == _bare(_inlined(list[dict[str, record_domain.CellInput]]))
    assert _bare(_inlined(api_docs.RECORD_UPDATES)) == _bare(_inlined(list[record_domain.UpdateItem]))
    assert api_docs.RECORD_CONFIG_KEY == record_domain.CONFIG_KEY
    record = api_docs.body_schema(api_docs.RECORD_INSERTS)["items"]
    assert record["properties"][api_docs.RECORD_CONFIG_KEY] == _inlined(RecordConfig)


def test_the_schemas_take_the_bodies_clients_send_and_refuse_broken_ones(document: dict[str, Any]) -> None:
    sheet = {"name": "People", "slug": "people", "fields": [{"key": "name", "type": "string"}]}
    good = [
        ("POST", "/v1/spaces", {"name": "s", "metadata": {"a": 1}, "unknownFieldsAreIgnored": True}),
        ("PATCH", "/v1/spaces/{space_id}", {}),
        ("POST", "/v1/workbooks", {"name": "wb", "spaceId": "us_sp_x", "sheets": [sheet]}),
        ("POST", "/v1/sheets/{sheet_id}/records", [{"name": "Ada", "age": {"value": 3}, "__c": {"readonly": True}}]),
        ("PUT", "/v1/sheets/{sheet_id}/records", [{"id": "us_rc_x", "values": {"name": {"value": "Ada"}}}]),
        ("POST", "/v1/jobs", {"type": "space", "operation": "fuzz", "source": "us_sp_x"}),
        ("POST", "/v1/spaces/{space_id}/documents", {"title": "t", "body": "b"}),
        ("POST", "/v1/events", {"topic": "space:created", "domain": "space", "context": {}, "payload": {}}),
        ("POST", "/v1/guests", [{"email": "g@example.com", "name": "G", "spaces": [{"id": "us_sp_x"}]}]),
    ]
    bad = [
        ("POST", "/v1/spaces", {"name": 5}),
        ("POST", "/v1/workbooks", {"name": "wb", "sheets": {"not": "a list"}}),
        ("POST", "/v1/sheets/{sheet_id}/records", [{"name": {"value": 1, "messages": "not a list"}}]),
        ("POST", "/v1/sheets/{sheet_id}/records", [{"__c": None}]),
        ("PUT", "/v1/sheets/{sheet_id}/records", [{"values": {}}]),
        ("POST", "/v1/jobs", {"type": "space"}),
        ("POST", "/v1/guests", {"email": "g@example.com"}),
    ]
    for method, path, body in good:
        assert jsonschema_rs.is_valid(_schema(document, method, path), body), (method, path, body)
    for method, path, body in bad:
        assert not jsonschema_rs.is_valid(_schema(document, method, path), body), (method, path, body)
