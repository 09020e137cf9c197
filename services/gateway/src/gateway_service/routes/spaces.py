"""`/v1/spaces`: create, list, get, update, delete, bulk delete, archive, unarchive."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.params import QueryParameter

from gateway_service.auth import (
    environment_of,
    principal_of,
    refuse_publishable,
    require_secret,
    secret_principal,
    space_principal,
)
from gateway_service.body import MAX_JSON_BODY, SUCCESS, Int32, data, decode
from gateway_service.ids import is_id
from gateway_service.query import PageNumber, PageSize
from gateway_service.state import Gateway
from spaceport.contracts.space import (
    SERVICE,
    ChangeSpaceLifecycle,
    CreateSpace,
    GetSpace,
    ListSpaces,
    Principal,
    SortDirection,
    SpaceFields,
    SpacePage,
    SpaceSortField,
    SpaceTransition,
    SpaceView,
    SpaceWritten,
    UpdateSpace,
    Written,
)
from spaceport.errors import ForbiddenError, ValidationFailedError


class SpaceBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Flatfile's SpaceConfig, plus Spaceport's `templateId` (a template space to copy) and
    `allowedDomains`; unknown fields (spaceConfigId, …) are accepted and ignored."""

    environment_id: str | None = None
    name: str | None = None
    namespace: str | None = None
    labels: list[str] | None = None
    metadata: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    access: list[str] | None = None
    guest_authentication: list[str] | None = None
    actions: list[dict[str, Any]] | None = None
    primary_workbook_id: str | None = None
    translations_path: str | None = None
    language_override: str | None = None
    display_order: Int32 | None = None
    allowed_domains: list[str] | None = None
    auto_configure: bool | None = None
    is_collaborative: bool | None = None
    app_id: str | None = None
    is_app_template: bool | None = None
    template_id: str | None = None

    def fields(self) -> SpaceFields:
        values = msgspec.structs.asdict(self)
        for extra in ("environment_id", "auto_configure", "is_collaborative", "app_id", "template_id"):
            del values[extra]
        return SpaceFields(**values)


def _shown(request: Request[Any, Any, Any], principal: Principal, view: SpaceView) -> SpaceView:
    """`guestLink` made absolute (this server's web app), and only for callers that may share the space:
    a secret key or a guest admin (the link makes whoever holds it an editor)."""
    if view.guest_link is None:
        return view
    if principal.kind == "guest" and principal.role != "admin":
        return msgspec.structs.replace(view, guest_link=None)
    return msgspec.structs.replace(view, guest_link=str(request.base_url).rstrip("/") + view.guest_link)


async def _written(
    request: Request[Any, Any, Any], gateway: Gateway, principal: Principal, command: CreateSpace | UpdateSpace
) -> dict[str, object]:
    """Send a create or update and answer the space as it is after it (read-your-writes)."""
    written = await gateway.rpc.request(SERVICE, command, SpaceWritten)
    query = GetSpace(environment_id=principal.environment_id, space_id=written.space_id, min_position=written.position)
    return data(_shown(request, principal, await gateway.rpc.request(SERVICE, query, SpaceView)))


@post("/v1/spaces", status_code=200, request_max_body_size=MAX_JSON_BODY)
async def create_space(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    principal = await principal_of(request, gateway)
    if principal.kind == "guest":
        raise ForbiddenError("guests cannot create spaces")
    body = await decode(request, SpaceBody)
    # A copy reads the template's content, and a new template decides what later spaces of its
    # app hold: both take a secret key (a publishable key is public).
    if body.template_id is not None or body.is_app_template:
        require_secret(principal)
    command = CreateSpace(
        principal=principal,
        environment_id=environment_of(principal, body.environment_id),
        fields=body.fields(),
        auto_configure=bool(body.auto_configure),
        is_collaborative=bool(body.is_collaborative),
        idempotency_key=request.headers.get("idempotency-key"),
        app_id=body.app_id,
        template_id=body.template_id,
    )
    return await _written(request, gateway, principal, command)


@get("/v1/spaces/{space_id:str}")
async def get_space(request: Request[Any, Any, Any], gateway: Gateway, space_id: str) -> dict[str, object]:
    principal = await space_principal(request, gateway, space_id, "read")
    query = GetSpace(environment_id=principal.environment_id, space_id=space_id)
    return data(_shown(request, principal, await gateway.rpc.request(SERVICE, query, SpaceView)))


@get("/v1/spaces")
async def list_spaces(  # noqa: PLR0917 - one parameter per query-string filter
    request: Request[Any, Any, Any],
    gateway: Gateway,
    environment_id: Annotated[str | None, QueryParameter(name="environmentId")] = None,
    page_size: PageSize = 10,
    page_number: PageNumber = 1,
    search: str | None = None,
    namespace: str | None = None,
    archived: bool | None = None,
    sort_field: Annotated[SpaceSortField, QueryParameter(name="sortField")] = "createdAt",
    sort_direction: Annotated[SortDirection, QueryParameter(name="sortDirection")] = "desc",
    is_collaborative: Annotated[bool | None, QueryParameter(name="isCollaborative")] = None,
    app_id: Annotated[str | None, QueryParameter(name="appId")] = None,
    is_app_template: Annotated[bool | None, QueryParameter(name="isAppTemplate")] = None,
) -> SpacePage:
    """Secret keys list their environment's spaces; a guest sees only its own space."""
    principal = await principal_of(request, gateway)
    refuse_publishable(principal)
    if app_id is not None and not is_id(app_id, "app"):
        raise ValidationFailedError(f"appId {app_id[:80]!r} is not an app id", key="appId")
    query = ListSpaces(
        environment_id=environment_of(principal, environment_id),
        page_size=page_size,
        page_number=page_number,
        space_ids=[principal.space_id or ""] if principal.kind == "guest" else None,
        namespace=namespace,
        archived=archived,
        search=search,
        is_collaborative=is_collaborative,
        app_id=app_id,
        is_app_template=is_app_template,
        sort_field=sort_field,
        sort_direction=sort_direction,
    )
    page = await gateway.rpc.request(SERVICE, query, SpacePage)
    return msgspec.structs.replace(page, data=[_shown(request, principal, view) for view in page.data])


@patch("/v1/spaces/{space_id:str}", request_max_body_size=MAX_JSON_BODY)
async def update_space(request: Request[Any, Any, Any], gateway: Gateway, space_id: str) -> dict[str, object]:
    principal = await space_principal(request, gateway, space_id, "admin")
    body = await decode(request, SpaceBody)
    environment_of(principal, body.environment_id)  # moving a space to another environment is not possible
    if body.is_app_template is not None:  # what a template holds is copied into every new space of its app
        require_secret(principal)
    if body.app_id is not None or body.template_id is not None:
        await _unchanged_origin(gateway, principal, space_id, body)
    command = UpdateSpace(
        principal=principal, environment_id=principal.environment_id, space_id=space_id, fields=body.fields()
    )
    return await _written(request, gateway, principal, command)


async def _unchanged_origin(gateway: Gateway, principal: Principal, space_id: str, body: SpaceBody) -> None:
    """`appId` and `templateId` are set when a space is created; a PATCH may only repeat them."""
    current = await gateway.rpc.request(
        SERVICE, GetSpace(environment_id=principal.environment_id, space_id=space_id), SpaceView
    )
    for key, sent, now in (
        ("appId", body.app_id, current.app_id),
        ("templateId", body.template_id, current.template_id),
    ):
        if sent is not None and sent != now:
            raise ValidationFailedError(f"{key} is set when a space is created and cannot change", key=key)


async def _lifecycle(
    request: Request[Any, Any, Any], gateway: Gateway, space_ids: list[str], transition: SpaceTransition
) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    command = ChangeSpaceLifecycle(
        principal=principal, environment_id=principal.environment_id, space_ids=space_ids, transition=transition
    )
    await gateway.space_write(command, Written)
    return SUCCESS


@delete("/v1/spaces/{space_id:str}", status_code=200)
async def delete_space(request: Request[Any, Any, Any], gateway: Gateway, space_id: str) -> dict[str, object]:
    return await _lifecycle(request, gateway, [space_id], "delete")


@delete("/v1/spaces", status_code=200)
async def delete_spaces(
    request: Request[Any, Any, Any],
    gateway: Gateway,
    space_ids: Annotated[list[str], QueryParameter(name="spaceIds")],
) -> dict[str, object]:
    return await _lifecycle(request, gateway, space_ids, "delete")


@post("/v1/spaces/{space_id:str}/archive", status_code=200)
async def archive_space(request: Request[Any, Any, Any], gateway: Gateway, space_id: str) -> dict[str, object]:
    return await _lifecycle(request, gateway, [space_id], "archive")


@post("/v1/spaces/{space_id:str}/unarchive", status_code=200)
async def unarchive_space(request: Request[Any, Any, Any], gateway: Gateway, space_id: str) -> dict[str, object]:
    return await _lifecycle(request, gateway, [space_id], "unarchive")


ROUTES = [
    create_space,
    get_space,
    list_spaces,
    update_space,
    delete_space,
    delete_spaces,
    archive_space,
    unarchive_space,
]
