"""Data retention: the policies of one environment (one aggregate) and the expiry of a space; pure.

At most one live policy per (environment, type): two `lastActivity` policies of different
periods would only mean the shorter one. The environment's policies share one stream, so the
check is one decision under optimistic concurrency.
"""

from __future__ import annotations

import msgspec

from spaceport.contracts.space import (
    RETENTION_TYPES,
    DataRetentionPolicyCreated,
    DataRetentionPolicyDeleted,
    DataRetentionPolicyUpdated,
    SpaceCreated,
    SpaceDeleted,
    SpaceExpired,
    SpaceUpdated,
)
from spaceport.errors import ConflictError, NotFoundError, ValidationFailedError
from spaceport.events import Event

MAX_PERIOD = 36_500  # days: a hundred years


class Policy(msgspec.Struct, frozen=True, kw_only=True):
    type: str
    period: int


class PoliciesState(msgspec.Struct, frozen=True, kw_only=True):
    """The environment's live policies by id."""

    policies: dict[str, Policy] = msgspec.field(default_factory=dict)


def initial() -> PoliciesState:
    return PoliciesState()


def evolve(state: PoliciesState, event: Event) -> PoliciesState:
    match event:
        case DataRetentionPolicyCreated() | DataRetentionPolicyUpdated() as e:
            policy = Policy(type=e.policy_type, period=e.period)
            return PoliciesState(policies={**state.policies, e.policy_id: policy})
        case DataRetentionPolicyDeleted(policy_id=policy_id):
            return PoliciesState(policies={k: v for k, v in state.policies.items() if k != policy_id})
    return state


def check(policy_type: str, period: int) -> None:
    if policy_type not in RETENTION_TYPES:
        raise ValidationFailedError(f"type must be one of {', '.join(RETENTION_TYPES)}", key="type")
    if isinstance(period, bool) or not 1 <= period <= MAX_PERIOD:
        raise ValidationFailedError(f"period must be a whole number of days from 1 to {MAX_PERIOD}", key="period")


def _require_free(state: PoliciesState, policy_type: str, except_id: str | None = None) -> None:
    for policy_id, policy in state.policies.items():
        if policy.type == policy_type and policy_id != except_id:
            raise ConflictError(f"the environment already has a {policy_type} policy ({policy_id})", key="type")


def create(state: PoliciesState, policy_id: str, environment_id: str, policy_type: str, period: int) -> list[Event]:
    check(policy_type, period)
    if policy_id in state.policies:  # a retried create with the same idempotency key
        return []
    _require_free(state, policy_type)
    return [
        DataRetentionPolicyCreated(
            policy_id=policy_id, environment_id=environment_id, policy_type=policy_type, period=period
        )
    ]


def require(state: PoliciesState, policy_id: str) -> Policy:
    policy = state.policies.get(policy_id)
    if policy is None:
        raise NotFoundError(f"data retention policy {policy_id} not found", key="id")
    return policy


def update(state: PoliciesState, policy_id: str, policy_type: str, period: int) -> list[Event]:
    current = require(state, policy_id)
    check(policy_type, period)
    _require_free(state, policy_type, except_id=policy_id)
    if current == Policy(type=policy_type, period=period):
        return []
    return [DataRetentionPolicyUpdated(policy_id=policy_id, policy_type=policy_type, period=period)]


def delete(state: PoliciesState, policy_id: str) -> list[Event]:
    require(state, policy_id)
    return [DataRetentionPolicyDeleted(policy_id=policy_id)]


# ---- expiry of one space (folded from the space's own events) ---------------------------------


class ExpiryState(msgspec.Struct, frozen=True, kw_only=True):
    exists: bool = False
    deleted: bool = False
    expired: bool = False
    namespace: str | None = None  # carried by `SpaceExpired` (the feed's `namespaces` after erasure)
    app_id: str | None = None


def expiry_initial() -> ExpiryState:
    return ExpiryState()


def expiry_evolve(state: ExpiryState, event: Event) -> ExpiryState:
    match event:
        case SpaceCreated(namespace=namespace, app_id=app_id):
            return ExpiryState(exists=True, namespace=namespace, app_id=app_id)
        case SpaceUpdated(namespace=str() as namespace):
            return msgspec.structs.replace(state, namespace=namespace)
        case SpaceExpired():
            return msgspec.structs.replace(state, expired=True)
        case SpaceDeleted():
            return msgspec.structs.replace(state, deleted=True)
    return state


def expire(state: ExpiryState, space_id: str, policy_id: str, policy: Policy) -> list[Event]:
    """Once per space: nothing when it is gone or already expired (a sweep that crashed after it)."""
    if not state.exists or state.deleted or state.expired:
        return []
    return [
        SpaceExpired(
            space_id=space_id,
            policy_id=policy_id,
            policy_type=policy.type,
            period=policy.period,
            namespace=state.namespace or None,
            app_id=state.app_id,
        )
    ]
