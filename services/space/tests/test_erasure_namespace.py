"""`SpaceDeleted` and `SpaceExpired` carry the space's namespace and app (in clear, as the ids), for
the `namespaces` of `space:deleted` / `space:expired` once the space's other events are erased."""

from __future__ import annotations

import pytest

from space_service.domain import retention, space
from spaceport.contracts.space import SpaceCreated, SpaceDeleted, SpaceExpired, SpaceUpdated
from spaceport.events import Event

pytestmark = pytest.mark.unit
ENV, SP, APP = "us_env_a", "us_sp_a", "us_app_a"
CREATED = SpaceCreated(space_id=SP, environment_id=ENV, namespace="red", app_id=APP)


def folded(*events: Event) -> space.SpaceState:
    state = space.initial()
    for event in events:
        state = space.evolve(state, event)
    return state


def test_a_deletion_names_the_namespace_the_space_had_then() -> None:
    assert space.transition(folded(CREATED), SP, ENV, "delete") == [
        SpaceDeleted(space_id=SP, namespace="red", app_id=APP)
    ]
    renamed = folded(CREATED, SpaceUpdated(space_id=SP, namespace="blue"), SpaceUpdated(space_id=SP, name="x"))
    assert space.transition(renamed, SP, ENV, "delete") == [SpaceDeleted(space_id=SP, namespace="blue", app_id=APP)]
    plain = folded(SpaceCreated(space_id=SP, environment_id=ENV))
    assert space.transition(plain, SP, ENV, "delete") == [SpaceDeleted(space_id=SP)]


def test_an_expiry_names_the_namespace_the_space_had_then() -> None:
    state = retention.expiry_initial()
    for event in (CREATED, SpaceUpdated(space_id=SP, namespace="blue")):
        state = retention.expiry_evolve(state, event)
    policy = retention.Policy(type="sinceCreated", period=7)
    (expired,) = retention.expire(state, SP, "us_drp_a", policy)
    assert isinstance(expired, SpaceExpired) and (expired.namespace, expired.app_id) == ("blue", APP)
