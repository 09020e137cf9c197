"""Given events, when a command is decided, then these events (or this error): pure, no servers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import pytest

from space_service.domain import document, environment, guest, space
from spaceport.contracts.space import (
    ApiKeyIssued,
    ApiKeyRevoked,
    CreateDocument,
    CreateEnvironment,
    CreateSpace,
    DocumentDeleted,
    DocumentFields,
    DocumentUpdated,
    EnvironmentCreated,
    EnvironmentDeleted,
    GuestCreated,
    GuestDeleted,
    GuestGrant,
    GuestSpec,
    GuestUpdated,
    Principal,
    SpaceArchived,
    SpaceCreated,
    SpaceDeleted,
    SpaceFields,
    SpaceUnarchived,
    SpaceUpdated,
    UpdateEnvironment,
)
from spaceport.errors import ConflictError, NotFoundError, ValidationFailedError
from spaceport.events import Event

pytestmark = pytest.mark.unit

S = TypeVar("S")
ENV = "us_env_a"
SP = "us_sp_a"
WHO = Principal(environment_id=ENV, kind="secret", actor="us_key_a")


def given(initial: Callable[[], S], evolve: Callable[[S, Event], S], events: Sequence[Event]) -> S:
    state = initial()
    for event in events:
        state = evolve(state, event)
    return state


def a_space(*events: Event) -> space.SpaceState:
    return given(space.initial, space.evolve, [SpaceCreated(space_id=SP, environment_id=ENV, name="s"), *events])


# ---- environments --------------------------------------------------------------------


def test_an_environment_is_created_with_its_keys() -> None:
    key = ApiKeyIssued(key_id="us_key_1", kind="secret", key_hash="h", hint="abcd")
    events = environment.create(environment.initial(), ENV, CreateEnvironment(name="dev"), [key])
    assert events == [EnvironmentCreated(environment_id=ENV, name="dev"), key]


def test_an_environment_cannot_be_created_twice_or_nameless() -> None:
    state = given(environment.initial, environment.evolve, [EnvironmentCreated(environment_id=ENV, name="dev")])
    with pytest.raises(ConflictError):
        environment.create(state, ENV, CreateEnvironment(name="dev"), [])
    with pytest.raises(ValidationFailedError):
        environment.create(environment.initial(), ENV, CreateEnvironment(name="  "), [])


def test_rotation_revokes_the_active_keys_of_the_rotated_kinds_only() -> None:
    state = given(
        environment.initial,
        environment.evolve,
        [
            EnvironmentCreated(environment_id=ENV, name="dev"),
            ApiKeyIssued(key_id="us_key_s", kind="secret", key_hash="1", hint="1"),
            ApiKeyIssued(key_id="us_key_p", kind="publishable", key_hash="2", hint="2"),
        ],
    )
    fresh = ApiKeyIssued(key_id="us_key_s2", kind="secret", key_hash="3", hint="3")
    assert environment.rotate(state, ENV, [fresh]) == [ApiKeyRevoked(key_id="us_key_s"), fresh]
    after = given(lambda: state, environment.evolve, environment.rotate(state, ENV, [fresh]))
    assert after.keys == (("us_key_p", "publishable"), ("us_key_s2", "secret"))


def test_a_deleted_environment_is_not_found() -> None:
    state = given(
        environment.initial,
        environment.evolve,
        [EnvironmentCreated(environment_id=ENV, name="dev"), EnvironmentDeleted(environment_id=ENV)],
    )
    with pytest.raises(NotFoundError):
        environment.update(state, UpdateEnvironment(actor="x", environment_id=ENV, name="new"))
    with pytest.raises(NotFoundError):
        environment.delete(state, ENV)


# ---- spaces ----------------------------------------------------------------------------


def test_a_space_is_created_with_normalised_allowed_domains() -> None:
    cmd = CreateSpace(
        principal=WHO, environment_id=ENV, fields=SpaceFields(name="s", allowed_domains=["@Customer.com"])
    )
    [created] = space.create(space.initial(), SP, cmd)
    assert isinstance(created, SpaceCreated)
    assert created.allowed_domains == ["customer.com"]
    assert created.created_by == "us_key_a"


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        (SpaceFields(name="x" * 256), "name"),
        (SpaceFields(metadata={"blob": "x" * 70_000}), "metadata"),
        (SpaceFields(labels=["x"] * 101), "labels"),
        (SpaceFields(access=["all"]), "access"),
        (SpaceFields(guest_authentication=["password"]), "guestAuthentication"),
    ],
)
def test_space_fields_over_the_limits_are_refused(fields: SpaceFields, key: str) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        space.create(space.initial(), SP, CreateSpace(principal=WHO, environment_id=ENV, fields=fields))
    assert refused.value.key == key


def test_an_update_carries_only_what_changed_and_nothing_is_no_event() -> None:
    assert space.update(a_space(), SP, ENV, SpaceFields(name="n")) == [SpaceUpdated(space_id=SP, name="n")]
    assert space.update(a_space(), SP, ENV, SpaceFields()) == []


def test_another_environment_or_a_deleted_space_is_not_found() -> None:
    with pytest.raises(NotFoundError):
        space.update(a_space(), SP, "us_env_other", SpaceFields(name="n"))
    with pytest.raises(NotFoundError):
        space.transition(a_space(SpaceDeleted(space_id=SP)), SP, ENV, "archive")


def test_archive_and_unarchive_are_idempotent() -> None:
    assert space.transition(a_space(), SP, ENV, "archive") == [SpaceArchived(space_id=SP)]
    assert space.transition(a_space(SpaceArchived(space_id=SP)), SP, ENV, "archive") == []
    assert space.transition(a_space(SpaceArchived(space_id=SP)), SP, ENV, "unarchive") == [SpaceUnarchived(space_id=SP)]
    assert space.transition(a_space(), SP, ENV, "unarchive") == []


def test_allowed_domains_follow_updates() -> None:
    state = a_space(SpaceUpdated(space_id=SP, allowed_domains=["customer.com"]))
    assert space.email_allowed(state, "a@customer.com")
    assert not space.email_allowed(state, "a@other.com")
    assert space.email_allowed(a_space(), "anyone@anywhere.org")


# ---- documents -------------------------------------------------------------------------


def test_document_lifecycle() -> None:
    cmd = CreateDocument(principal=WHO, environment_id=ENV, space_id=SP, title="T", body="B")
    created = document.create(document.initial(), "us_dc_1", cmd)
    state = given(document.initial, document.evolve, created)
    assert document.update(state, "us_dc_1", SP, DocumentFields(title="T2")) == [
        DocumentUpdated(document_id="us_dc_1", title="T2")
    ]
    assert document.delete(state, "us_dc_1", SP) == [DocumentDeleted(document_id="us_dc_1")]
    with pytest.raises(NotFoundError):
        document.update(state, "us_dc_1", "us_sp_other", DocumentFields(title="x"))
    gone = given(lambda: state, document.evolve, [DocumentDeleted(document_id="us_dc_1")])
    with pytest.raises(NotFoundError):
        document.delete(gone, "us_dc_1", SP)


def test_a_document_needs_a_title() -> None:
    cmd = CreateDocument(principal=WHO, environment_id=ENV, space_id=SP, title="", body="B")
    with pytest.raises(ValidationFailedError):
        document.create(document.initial(), "us_dc_1", cmd)


# ---- guests ----------------------------------------------------------------------------


def test_inviting_creates_then_merges_grants() -> None:
    viewer = GuestSpec(email="A@X.com", name="A", spaces=[GuestGrant(space_id=SP, role="viewer")])
    [created] = guest.invite(guest.initial(), "us_g_1", ENV, viewer)
    assert created == GuestCreated(
        guest_id="us_g_1", environment_id=ENV, email="a@x.com", name="A", spaces=viewer.spaces
    )
    state = given(guest.initial, guest.evolve, [created])
    assert guest.invite(state, "us_g_1", ENV, viewer) == []  # inviting twice changes nothing
    admin = GuestSpec(email="a@x.com", name="A", spaces=[GuestGrant(space_id=SP, role="admin")])
    [updated] = guest.invite(state, "us_g_1", ENV, admin)
    assert updated == GuestUpdated(guest_id="us_g_1", spaces=[GuestGrant(space_id=SP, role="admin")])


def test_removing_the_last_grant_deletes_the_guest() -> None:
    two = [GuestGrant(space_id=SP), GuestGrant(space_id="us_sp_b")]
    state = given(
        guest.initial,
        guest.evolve,
        [GuestCreated(guest_id="us_g_1", environment_id=ENV, email="a@x.com", name="A", spaces=two)],
    )
    assert guest.remove(state, "us_g_1", ENV, SP) == [GuestUpdated(guest_id="us_g_1", spaces=[two[1]])]
    one = given(lambda: state, guest.evolve, guest.remove(state, "us_g_1", ENV, SP))
    assert guest.remove(one, "us_g_1", ENV, "us_sp_b") == [GuestDeleted(guest_id="us_g_1")]
    with pytest.raises(NotFoundError):
        guest.remove(state, "us_g_1", "us_env_other", None)


@pytest.mark.parametrize(
    "spec",
    [
        GuestSpec(email="nope", name="A", spaces=[GuestGrant(space_id=SP)]),
        GuestSpec(email="a@x.com", name="", spaces=[GuestGrant(space_id=SP)]),
        GuestSpec(email="a@x.com", name="A", spaces=[]),
        GuestSpec(email="a@x.com", name="A", spaces=[GuestGrant(space_id=SP), GuestGrant(space_id=SP)]),
    ],
)
def test_bad_invitations_are_refused(spec: GuestSpec) -> None:
    with pytest.raises(ValidationFailedError):
        guest.invite(guest.initial(), "us_g_1", ENV, spec)
