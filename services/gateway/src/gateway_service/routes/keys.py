"""`/v1/auth/api-keys`, `/v1/auth/api-key`, `/v1/auth/publishable-key`: an environment's API keys.

Flatfile's TypeScript SDK calls these (`auth.getApiKeys`, `createNewApiKey`, `deleteApiKey`,
`getPublishableKey`). Only a secret key manages keys; another environment's id answers 404.
Keys are stored as hashes: a raw key (`rawKey`) is in the answer of its create only, never in a
listing. A deleted key stops authenticating at once on this gateway and, through the space
service's AuthInvalidated broadcast (sent once its read model has the revocation), on every other.
The environment's last secret key cannot be deleted (400), so nobody locks themselves out.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, delete, get, post

from gateway_service.auth import environment_of, secret_principal
from gateway_service.body import SUCCESS, data
from gateway_service.query import param
from gateway_service.state import Gateway
from spaceport.contracts.space import (
    KEY_TYPES,
    SERVICE,
    ApiKeyCreated,
    ApiKeyView,
    CreateApiKey,
    KeyKind,
    ListApiKeys,
    RevokeApiKey,
    Written,
)
from spaceport.errors import NotFoundError, ValidationFailedError
from spaceport.ids import PREFIXES

_KINDS: dict[str, KeyKind] = {name: kind for name, kind in KEY_TYPES.items()}  # noqa: C416 - widens the key type


def _kind(value: str | None) -> KeyKind:
    kind = _KINDS.get((value or "").upper())
    if kind is None:
        shown = "nothing" if value is None else repr(value[:40])
        raise ValidationFailedError(f"type must be SECRET or PUBLISHABLE, not {shown}", key="type")
    return kind


async def _environment(request: Request[Any, Any, Any], gateway: Gateway) -> tuple[str, str]:
    """(the caller's key id, the environment it manages): a secret key of that environment."""
    principal = await secret_principal(request, gateway)
    return principal.actor, environment_of(principal, param(request, "environmentId"))


@get("/v1/auth/api-keys")
async def list_api_keys(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    _, environment_id = await _environment(request, gateway)
    return data(await gateway.rpc.request(SERVICE, ListApiKeys(environment_id=environment_id), list[ApiKeyView]))


@post("/v1/auth/api-key", status_code=200)
async def create_api_key(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    actor, environment_id = await _environment(request, gateway)
    command = CreateApiKey(actor=actor, environment_id=environment_id, kind=_kind(param(request, "type")))
    created = await gateway.rpc.request(SERVICE, command, ApiKeyCreated)
    return data(created.key)


@delete("/v1/auth/api-key", status_code=200)
async def delete_api_key(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    actor, environment_id = await _environment(request, gateway)
    key_id = param(request, "key")
    if key_id is None:
        raise ValidationFailedError("key (the id of the key to delete) is required", key="key")
    if not key_id.startswith(PREFIXES["key"] + "_") or len(key_id) > 100:
        raise NotFoundError(f"API key {key_id[:80]!r} not found", key="key")
    command = RevokeApiKey(actor=actor, environment_id=environment_id, key_id=key_id)
    await gateway.space_write(command, Written)
    gateway.forget(environment_id=environment_id)
    return SUCCESS


@get("/v1/auth/publishable-key")
async def get_publishable_key(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    """The newest live publishable key's metadata (its raw value was shown at its create only)."""
    _, environment_id = await _environment(request, gateway)
    query = ListApiKeys(environment_id=environment_id, kind="publishable")
    found = await gateway.rpc.request(SERVICE, query, list[ApiKeyView])
    if not found:
        raise NotFoundError(f"environment {environment_id} has no publishable key", key="environmentId")
    return data(found[-1])


ROUTES = [list_api_keys, create_api_key, delete_api_key, get_publishable_key]
