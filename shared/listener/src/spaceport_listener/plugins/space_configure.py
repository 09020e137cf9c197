"""`configure_space(setup)`: answer the `space:configure` job by building the space's blueprint.

Creates the workbooks and documents, points `primaryWorkbookId` at the first workbook, stores
`space.metadata` (theme…), then completes the job. Safe to run twice for the same job: workbooks
and documents that already exist (by name / title) are reused, and every create carries an
`Idempotency-Key` derived from the event id.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from spaceport_listener.event import FlatfileEvent
from spaceport_listener.listener import Plugin
from spaceport_listener.plugins.job_handler import Tick, job_handler

if TYPE_CHECKING:
    from flatfile.core.request_options import RequestOptions

__all__ = ["AfterConfigure", "SpaceSetup", "configure_space"]


@dataclasses.dataclass(frozen=True)
class SpaceSetup:
    """The blueprint, in Flatfile's camelCase JSON: workbook and document bodies, space fields."""

    workbooks: Sequence[Mapping[str, Any]] = ()
    documents: Sequence[Mapping[str, Any]] = ()
    space: Mapping[str, Any] = dataclasses.field(default_factory=dict)


SetupSource = SpaceSetup | Mapping[str, Any] | Callable[[FlatfileEvent], Any]
AfterConfigure = Callable[[FlatfileEvent, list[str], Tick], Awaitable[Any] | Any]


def configure_space(setup: SetupSource, after: AfterConfigure | None = None, *, job: str = "space:configure") -> Plugin:
    """A plugin for the `space:configure` job; `setup` may be a callable of the event (sync or async).

    `after(event, workbook_ids, tick)` runs once the space is built, before the job completes.
    """

    async def handle(event: FlatfileEvent, tick: Tick) -> Mapping[str, Any]:
        config = await _resolve(setup, event)
        workbook_ids = await _ensure_workbooks(event, config.workbooks)
        await tick(50, "Workbooks created")
        await _ensure_documents(event, config.documents)
        await tick(75, "Documents created")
        await _update_space(event, workbook_ids, config.space)
        if after is not None:
            result = after(event, workbook_ids, tick)
            if inspect.isawaitable(result):
                await result
        return {"info": "Space configured", "outcome": {"message": "Space configured"}}

    return job_handler(job, handle)


async def _resolve(setup: SetupSource, event: FlatfileEvent) -> SpaceSetup:
    value: Any = setup(event) if callable(setup) else setup
    if inspect.isawaitable(value):
        value = await value
    if isinstance(value, SpaceSetup):
        return value
    if isinstance(value, Mapping):
        return SpaceSetup(
            workbooks=list(value.get("workbooks") or ()),
            documents=list(value.get("documents") or ()),
            space=dict(value.get("space") or {}),
        )
    raise TypeError(f"configure_space setup must be a SpaceSetup or a mapping, not {type(value).__name__}")


async def _ensure_workbooks(event: FlatfileEvent, workbooks: Sequence[Mapping[str, Any]]) -> list[str]:
    space_id = str(event.context.get("spaceId"))
    listed = await event.api.workbooks.list(space_id=space_id)
    existing = {workbook.name: workbook.id for workbook in listed.data or []}
    ids: list[str] = []
    for index, workbook in enumerate(workbooks):
        name = str(workbook["name"])
        if name in existing:
            ids.append(str(existing[name]))
            continue
        body = {key: value for key, value in workbook.items() if key not in {"name", "spaceId", "environmentId"}}
        created = await event.api.workbooks.create(
            name=name,
            space_id=space_id,
            environment_id=event.context.get("environmentId"),
            request_options=_options(event, f"workbook:{index}", body),
        )
        ids.append(str(created.data.id))
    return ids


async def _ensure_documents(event: FlatfileEvent, documents: Sequence[Mapping[str, Any]]) -> None:
    space_id = str(event.context.get("spaceId"))
    listed = await event.api.documents.list(space_id)
    titles = {document.title for document in listed.data or []}
    for index, document in enumerate(documents):
        if document["title"] in titles:
            continue
        extra = {key: value for key, value in document.items() if key not in {"title", "body"}}
        await event.api.documents.create(
            space_id,
            title=str(document["title"]),
            body=str(document.get("body", "")),
            request_options=_options(event, f"document:{index}", extra),
        )


async def _update_space(event: FlatfileEvent, workbook_ids: list[str], space: Mapping[str, Any]) -> None:
    fields: dict[str, Any] = {}
    if workbook_ids:
        fields["primary_workbook_id"] = workbook_ids[0]
    if "metadata" in space:
        fields["metadata"] = space["metadata"]
    extra = {key: value for key, value in space.items() if key not in {"metadata", "primaryWorkbookId"}}
    await event.api.spaces.update(
        str(event.context.get("spaceId")), **fields, request_options=_options(event, "space", extra)
    )


def _options(event: FlatfileEvent, purpose: str, body: Mapping[str, Any]) -> RequestOptions:
    options: RequestOptions = {"additional_headers": {"Idempotency-Key": f"{event.id}:{purpose}"}}
    if body:
        options["additional_body_parameters"] = dict(body)
    return options
