"""Data retention policies (aggregate `retention`, one per environment: its stream holds every
policy of the environment, so one decision sees them all) and the expiry of spaces they cause.

A policy `{type: lastActivity|sinceCreated, period: days}` makes the space service's retention
sweeper delete the environment's spaces whose last activity (or creation) is older than `period`
days: it appends `SpaceExpired` to the space, then deletes it through the normal path
(`SpaceDeleted`). Add fields with defaults only; never change a recorded shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import msgspec

from spaceport.contracts.space.common import Wire
from spaceport.contracts.space.principal import Principal
from spaceport.events import Event

RetentionType = Literal["lastActivity", "sinceCreated"]
RETENTION_TYPES: tuple[str, ...] = ("lastActivity", "sinceCreated")
AGGREGATE = "retention"

# ---- events ----------------------------------------------------------------------------


class DataRetentionPolicyCreated(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = AGGREGATE
    policy_id: str
    environment_id: str
    policy_type: str  # lastActivity | sinceCreated (`type` is the event tag)
    period: int  # days


class DataRetentionPolicyUpdated(Event, frozen=True, kw_only=True):
    """The policy's whole new configuration (Flatfile's update sends every field)."""

    aggregate: ClassVar[str] = AGGREGATE
    policy_id: str
    policy_type: str
    period: int


class DataRetentionPolicyDeleted(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = AGGREGATE
    policy_id: str


class SpaceExpired(Event, frozen=True, kw_only=True):
    """A policy expired the space; its `SpaceDeleted` follows (Flatfile topic `space:expired`)."""

    aggregate: ClassVar[str] = "space"
    space_id: str
    policy_id: str
    policy_type: str
    period: int
    namespace: str | None = None  # as `SpaceDeleted`: for the `namespaces` of `space:expired`
    app_id: str | None = None


RETENTION_EVENTS: tuple[type[Event], ...] = (
    DataRetentionPolicyCreated,
    DataRetentionPolicyUpdated,
    DataRetentionPolicyDeleted,
    SpaceExpired,
)

# ---- views (wire shapes) ---------------------------------------------------------------


class DataRetentionPolicyView(Wire, frozen=True, kw_only=True):
    """Flatfile's `DataRetentionPolicy`."""

    id: str
    environment_id: str
    type: str
    period: int
    created_at: datetime
    updated_at: datetime


# ---- commands and queries (secret keys of the environment only) ---------------------------


class CreateDataRetentionPolicy(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    type: str
    period: int
    idempotency_key: str | None = None


class UpdateDataRetentionPolicy(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    policy_id: str
    type: str
    period: int


class DeleteDataRetentionPolicy(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    policy_id: str


class DataRetentionPolicyWritten(msgspec.Struct, frozen=True, kw_only=True):
    policy_id: str
    position: int


class GetDataRetentionPolicy(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    policy_id: str
    min_position: int = 0


class ListDataRetentionPolicies(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    min_position: int = 0


class SweepRetention(msgspec.Struct, frozen=True, kw_only=True):
    """Operators and tests: run one expiry sweep now, as if the time were `now` (None: the clock).

    Internal (NATS only, never on the HTTP API); waits for the sweeper's lock."""

    now: datetime | None = None


class RetentionSwept(msgspec.Struct, frozen=True, kw_only=True):
    """The spaces this sweep expired, and where its last event landed."""

    expired: list[str]
    position: int
