"""`/v1/data-retention-policies`: how long an environment keeps its spaces (Flatfile's retention API).

`{type: lastActivity|sinceCreated, period: days, environmentId}`; at most one policy per
environment and type (409). Only a secret key reads or writes them (publishable keys and guests:
403); another environment's id answers 404. The space service's sweeper deletes expired spaces
(`space:expired`, then `space:deleted`).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, delete, get, patch, post

from gateway_service.auth import environment_of, secret_principal
from gateway_service.body import MAX_JSON_BODY, SUCCESS, data, decode
from gateway_service.query import param
from gateway_service.state import Gateway
from spaceport.contracts.space import (
    SERVICE,
    CreateDataRetentionPolicy,
    DataRetentionPolicyView,
    DataRetentionPolicyWritten,
    DeleteDataRetentionPolicy,
    GetDataRetentionPolicy,
    ListDataRetentionPolicies,
    Principal,
    UpdateDataRetentionPolicy,
)
from spaceport.errors import ValidationFailedError

BASE = "/v1/data-retention-policies"
POLICY = BASE + "/{data_retention_policy_id:str}"


class PolicyBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Flatfile's `DataRetentionPolicyConfig`: every field required (on update too, as the SDK sends)."""

    type: str | None = None
    period: int | None = None
    environment_id: str | None = None

    def required(self) -> tuple[str, int]:
        if self.type is None:
            raise ValidationFailedError("type is required: lastActivity or sinceCreated", key="type")
        if self.period is None:
            raise ValidationFailedError("period (days) is required", key="period")
        return self.type, self.period


async def _policy(gateway: Gateway, principal: Principal, policy_id: str, position: int = 0) -> dict[str, object]:
    query = GetDataRetentionPolicy(
        principal=principal, environment_id=principal.environment_id, policy_id=policy_id, min_position=position
    )
    return data(await gateway.rpc.request(SERVICE, query, DataRetentionPolicyView))


@get(BASE)
async def list_policies(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    environment_id = environment_of(principal, param(request, "environmentId"))
    query = ListDataRetentionPolicies(principal=principal, environment_id=environment_id)
    return data(await gateway.rpc.request(SERVICE, query, list[DataRetentionPolicyView]))


@post(BASE, status_code=200, request_max_body_size=MAX_JSON_BODY)
async def create_policy(request: Request[Any, Any, Any], gateway: Gateway) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    body = await decode(request, PolicyBody)
    policy_type, period = body.required()
    command = CreateDataRetentionPolicy(
        principal=principal,
        environment_id=environment_of(principal, body.environment_id),
        type=policy_type,
        period=period,
        idempotency_key=request.headers.get("idempotency-key"),
    )
    written = await gateway.rpc.request(SERVICE, command, DataRetentionPolicyWritten)
    return await _policy(gateway, principal, written.policy_id, written.position)


@get(POLICY)
async def get_policy(
    request: Request[Any, Any, Any], gateway: Gateway, data_retention_policy_id: str
) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    return await _policy(gateway, principal, data_retention_policy_id)


@patch(POLICY, request_max_body_size=MAX_JSON_BODY)
async def update_policy(
    request: Request[Any, Any, Any], gateway: Gateway, data_retention_policy_id: str
) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    await _policy(gateway, principal, data_retention_policy_id)  # 404 (another environment's too) before the body
    body = await decode(request, PolicyBody)
    policy_type, period = body.required()
    command = UpdateDataRetentionPolicy(
        principal=principal,
        environment_id=environment_of(principal, body.environment_id),
        policy_id=data_retention_policy_id,
        type=policy_type,
        period=period,
    )
    written = await gateway.rpc.request(SERVICE, command, DataRetentionPolicyWritten)
    return await _policy(gateway, principal, data_retention_policy_id, written.position)


@delete(POLICY, status_code=200)
async def delete_policy(
    request: Request[Any, Any, Any], gateway: Gateway, data_retention_policy_id: str
) -> dict[str, object]:
    principal = await secret_principal(request, gateway)
    command = DeleteDataRetentionPolicy(
        principal=principal, environment_id=principal.environment_id, policy_id=data_retention_policy_id
    )
    await gateway.space_write(command, DataRetentionPolicyWritten)
    return SUCCESS


ROUTES = [list_policies, create_policy, get_policy, update_policy, delete_policy]
