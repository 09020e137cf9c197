"""What `/v1/openapi.json` says the error answers and the request bodies are.

Every non-2xx answer is Flatfile's envelope `{"errors":[{"key","message"}]}` (errors.py), whatever
the operation, with the status of the rule it breaks (spaceport.errors). Litestar documents only
its own 400 shape (`{status_code, detail, extra}`, which the gateway never sends); this documents
the envelope for each status any operation may answer, on every route handler at app start-up.
Request bodies: the handlers decode their bodies themselves (body.decode, with msgspec), so Litestar
sees no `data` parameter to document; the same hook gives each JSON-body operation (request_bodies)
the JSON Schema msgspec derives from the very type its handler decodes, inlined (no component
names to clash with Litestar's). Record bodies are decoded by the record service: RECORD_INSERTS /
RECORD_UPDATES mirror its types (tests/test_openapi_bodies.py checks they stay equal).
tests/test_fuzz_openapi.py checks every answer against the document, with generated bodies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import msgspec
from litestar.config.app import AppConfig
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema

from spaceport.contracts.record import Message, RecordConfig


class ErrorItem(msgspec.Struct, frozen=True, kw_only=True):
    message: str
    key: str | None = None  # the offending field, when there is one (left out otherwise)


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    errors: list[ErrorItem]


ERROR_STATUSES = {
    400: "The request is invalid (a parameter or the body); `key` names the field",
    401: "No key, or a key that is not valid (any longer)",
    403: "The key may not do this",
    404: "Not found (or not visible to this key)",
    405: "The resource does not accept this method",
    409: "Conflicts with the resource's current state",
    413: "The body is larger than this operation accepts",
    422: "Well-formed but cannot be processed",
    429: "Rate limited; retry after the `Retry-After` header's seconds",
    503: "A service behind the gateway is not answering; retry",
}
ERROR_RESPONSES = {
    status: ResponseSpec(data_container=ErrorBody, description=description, generate_examples=False)
    for status, description in ERROR_STATUSES.items()
}
# For handlers answering pre-encoded JSON (`Response[bytes]`), which Litestar documents as a string.
JSON_OBJECT = {
    200: ResponseSpec(data_container=dict[str, Any], description="Request fulfilled", generate_examples=False)
}


def document_errors(app_config: AppConfig) -> AppConfig:
    """An `on_app_init` hook: the error envelope on every HTTP route (a handler's own entries win),
    and the request body of each operation in request_bodies()."""
    bodies = {id(handler): kind for handler, kind in request_bodies()}
    for handler in app_config.route_handlers:
        if isinstance(handler, HTTPRouteHandler):
            handler.responses = {**ERROR_RESPONSES, **(handler.responses or {})}
            if (kind := bodies.get(id(handler))) is not None:
                handler.operation_class = with_body(kind)
    return app_config


# ---- request bodies -----------------------------------------------------------------------------


class RecordCell(msgspec.Struct, frozen=True, kw_only=True):
    """A cell given as an object (record_service.domain.records.InCell)."""

    value: Any = msgspec.UNSET
    messages: list[Message] | None = None
    metadata: dict[str, Any] | None = None


RecordCellInput = RecordCell | str | int | float | bool | None | list[Any]


class RecordUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """One record of a `PUT …/records` body (record_service.domain.records.UpdateItem)."""

    id: str
    values: dict[str, RecordCellInput] = msgspec.field(default_factory=dict)
    metadata: dict[str, Any] | None = None
    config: RecordConfig | None = None


RECORD_INSERTS = list[dict[str, RecordCellInput]]  # field key -> cell; `__c`: the record's config
RECORD_UPDATES = list[RecordUpdate]
RECORD_CONFIG_KEY = "__c"  # record_service.domain.records.CONFIG_KEY


def request_bodies() -> list[tuple[HTTPRouteHandler, Any]]:
    """Each JSON-body operation and the type its handler decodes its body into."""
    from gateway_service.routes import (  # noqa: PLC0415 - the routes import this module
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
        roles,
        secrets,
        sheets,
        snapshots,
        spaces,
        views,
        workbooks,
    )

    return [
        (spaces.create_space, spaces.SpaceBody),
        (spaces.update_space, spaces.SpaceBody),
        (workbooks.create_workbook, workbooks.WorkbookBody),
        (workbooks.update_workbook, workbooks.WorkbookPatchBody),
        (sheets.update_sheet, sheets.SheetPatchBody),
        (records.insert_records, RECORD_INSERTS),
        (records.update_records, RECORD_UPDATES),
        (records.find_replace, records.FindReplaceBody),
        (jobs.create_job, jobs.NewJobBody),
        (jobs.update_job, jobs.JobUpdateBody),
        (jobs.ack_job, jobs.AckBody),
        (jobs.complete_job, jobs.OutcomeBody),
        (jobs.fail_job, jobs.OutcomeBody),
        (jobs.cancel_job, jobs.CancelBody),
        (jobs.put_plan, jobs.PlanBody),
        (jobs.patch_plan, jobs.PlanBody),
        (documents.create_document, documents.NewDocumentBody),
        (documents.update_document, documents.DocumentBody),
        (events.create_event, events.EventBody),
        (guests.invite_guests, list[guests.GuestBody]),
        (guests.update_guest, guests.GuestPatchBody),
        (roles.assign_guest_role, roles.AssignRoleBody),
        (environments.create_environment, environments.EnvironmentBody),
        (environments.update_environment, environments.EnvironmentBody),
        (secrets.upsert_secret, secrets.SecretBody),
        (views.create_view, views.ViewBody),
        (views.update_view, views.ViewBody),
        (snapshots.create_snapshot, snapshots.SnapshotBody),
        (snapshots.restore_snapshot, snapshots.RestoreBody),
        (restore.execute_restore, restore.RestoreBody),
        (retention.create_policy, retention.PolicyBody),
        (retention.update_policy, retention.PolicyBody),
        (apps.create_app, apps.AppCreateBody),
        (apps.update_app, apps.AppPatchBody),
        (apps.create_constraint, apps.ConstraintBody),
        (apps.update_constraint, apps.ConstraintBody),
        (files.update_file, files.FileUpdateBody),
    ]


def _inlined(schema: Any, components: dict[str, Any], path: tuple[str, ...] = ()) -> Any:
    """`schema` with every `$ref` to `components` replaced by the component (no cycles expected),
    without `null` defaults."""
    if isinstance(schema, list):
        return [_inlined(item, components, path) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if (ref := schema.get("$ref")) is not None:
        name = ref.rpartition("/")[2]
        if name in path:
            raise TypeError(f"request body type {name} is recursive: it cannot be inlined")
        return _inlined(components[name], components, (*path, name))
    # Litestar writes no key whose value is None: a `"default": null` is left out here already
    return {key: _inlined(value, components, path) for key, value in schema.items() if value is not None}


def body_schema(kind: Any) -> dict[str, Any]:
    """The JSON Schema of what `msgspec.json.decode(body, type=kind)` accepts, inlined."""
    (top,), components = msgspec.json.schema_components([kind], ref_template="#/$defs/{name}")
    schema: dict[str, Any] = _inlined(top, components)
    if kind is RECORD_INSERTS:  # the record service takes `__c` off each record as its config
        record = schema["items"]
        (config,), parts = msgspec.json.schema_components([RecordConfig])
        record["properties"] = {RECORD_CONFIG_KEY: _inlined(config, parts)}
    return schema


def _accepts_empty(kind: Any) -> bool:
    """An empty body is decoded as `{}` (body.decode); the record service takes none."""
    if kind in (RECORD_INSERTS, RECORD_UPDATES):
        return False
    try:
        msgspec.json.decode(b"{}", type=kind)
    except msgspec.ValidationError:
        return False
    return True


def with_body(kind: Any) -> type[Operation]:
    """An Operation class (a handler's `operation_class`) documenting `kind` as the JSON request body."""
    schema = cast("Schema", body_schema(kind))  # a JSON Schema dict: written into the document as it is
    required = not _accepts_empty(kind)

    @dataclass
    class WithBody(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                content={"application/json": OpenAPIMediaType(schema=schema)}, required=required
            )

    return WithBody


# Answers that are not JSON: a sheet as CSV, a file's own bytes (its own Content-Type), SSE.
CSV_FILE = {
    200: ResponseSpec(
        data_container=str, media_type="text/csv", generate_examples=False, description="The records as CSV"
    )
}
ANY_FILE = {
    200: ResponseSpec(
        data_container=bytes,
        media_type="*/*",
        generate_examples=False,
        description="The file, with its own Content-Type",
    )
}
EVENT_STREAM = {
    200: ResponseSpec(
        data_container=str,
        media_type="text/event-stream",
        generate_examples=False,
        description="Server-sent events, one per event",
    )
}
