"""Data retention policies and space expiry as given-when-then over plain event lists."""

from __future__ import annotations

import pytest

from space_service.domain import retention as domain
from spaceport.contracts.space import (
    DataRetentionPolicyCreated,
    DataRetentionPolicyDeleted,
    DataRetentionPolicyUpdated,
    SpaceCreated,
    SpaceDeleted,
    SpaceExpired,
)
from spaceport.errors import ConflictError, NotFoundError, ValidationFailedError
from spaceport.events import Event

pytestmark = pytest.mark.unit
ENV = "us_env_a"
POLICY = domain.Policy(type="lastActivity", period=3)


def policies(*events: Event) -> domain.PoliciesState:
    state = domain.initial()
    for event in events:
        state = domain.evolve(state, event)
    return state


def created(policy_id: str = "us_drp_a", policy_type: str = "lastActivity", period: int = 3) -> Event:
    return DataRetentionPolicyCreated(policy_id=policy_id, environment_id=ENV, policy_type=policy_type, period=period)


@pytest.mark.parametrize(("policy_type", "period", "key"), [("never", 3, "type"), ("lastActivity", 0, "period")])
def test_bad_configs_are_refused(policy_type: str, period: int, key: str) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        domain.create(policies(), "us_drp_a", ENV, policy_type, period)
    assert refused.value.key == key


def test_one_policy_per_type_and_an_update_may_not_take_anothers_type() -> None:
    given = policies(created(), created("us_drp_b", "sinceCreated", 9))
    with pytest.raises(ConflictError):
        domain.create(given, "us_drp_c", ENV, "lastActivity", 5)
    with pytest.raises(ConflictError):
        domain.update(given, "us_drp_b", "lastActivity", 9)
    assert domain.update(given, "us_drp_a", "lastActivity", 3) == []  # unchanged
    assert domain.update(given, "us_drp_a", "lastActivity", 4) == [
        DataRetentionPolicyUpdated(policy_id="us_drp_a", policy_type="lastActivity", period=4)
    ]


def test_a_deleted_policy_is_gone_and_frees_its_type() -> None:
    given = policies(created(), DataRetentionPolicyDeleted(policy_id="us_drp_a"))
    with pytest.raises(NotFoundError):
        domain.delete(given, "us_drp_a")
    assert domain.create(given, "us_drp_b", ENV, "lastActivity", 1) == [created("us_drp_b", period=1)]


def expiry(*events: Event) -> domain.ExpiryState:
    state = domain.expiry_initial()
    for event in events:
        state = domain.expiry_evolve(state, event)
    return state


def test_a_space_expires_once() -> None:
    space = SpaceCreated(space_id="us_sp_a", environment_id=ENV)
    marker = SpaceExpired(space_id="us_sp_a", policy_id="us_drp_a", policy_type="lastActivity", period=3)
    assert domain.expire(expiry(space), "us_sp_a", "us_drp_a", POLICY) == [marker]
    assert domain.expire(expiry(space, marker), "us_sp_a", "us_drp_a", POLICY) == []
    assert domain.expire(expiry(space, SpaceDeleted(space_id="us_sp_a")), "us_sp_a", "us_drp_a", POLICY) == []
    assert domain.expire(expiry(), "us_sp_a", "us_drp_a", POLICY) == []
