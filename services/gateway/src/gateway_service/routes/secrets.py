"""`/v1/secrets`: named values of an environment, a space or an actor, for listeners (`event.secrets`).

Only a secret key reads or writes them (publishable keys and guests: 403); another environment's
id answers 404. Values go out in clear text, as Flatfile's listener expects; the space service
stores them sealed.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, delete, get, post

from gateway_service.auth import environment_of, secret_principal
from gateway_service.body import MAX_JSON_BODY, data, decode
from gateway_service.query import param
from gateway_service.state import Gateway
from spaceport.contracts.space import SERVICE, DeleteSecret, ListSecrets, SecretView, SecretWritten, UpsertSecret

# The SDK parses every answer as `SecretsResponse{data: [Secret]}`: an upsert answers the secret in a
# list, a delete an empty list (with `success`, so clients that look for it find it).
DELETED: dict[str, object] = {"data": [], "success": True}


class SecretBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    name: str
    value: str
    environment_id: str | None = None
    space_id: str | None = None
    actor_id: str | None = None


@get("/v1/secrets")
async def list_secrets(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    query = ListSecrets(
        principal=principal,
        environment_id=environment_of(principal, param(request, "environmentId")),
        space_id=param(request, "spaceId"),
        actor_id=param(request, "actorId"),
    )
    return data(await gateway.rpc.request(SERVICE, query, list[SecretView]))


@post("/v1/secrets", status_code=200, request_max_body_size=MAX_JSON_BODY)
async def upsert_secret(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    body = await decode(request, SecretBody)
    command = UpsertSecret(
        principal=principal,
        environment_id=environment_of(principal, body.environment_id),
        name=body.name,
        value=body.value,
        space_id=body.space_id or None,
        actor_id=body.actor_id or None,
    )
    written = await gateway.space_write(command, SecretWritten)
    return data([written.secret])


@delete("/v1/secrets/{secret_id:str}", status_code=200)
async def delete_secret(request: Request[Any, Any, Any], gateway: Gateway, secret_id: str) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    command = DeleteSecret(principal=principal, environment_id=principal.environment_id, secret_id=secret_id)
    await gateway.space_write(command, SecretWritten)
    return DELETED


ROUTES = [list_secrets, upsert_secret, delete_secret]
