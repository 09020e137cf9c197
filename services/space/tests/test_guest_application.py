"""Guests, their grants and tokens through `SpaceApplication` on fakes: no servers, milliseconds."""

from __future__ import annotations

import pytest

from space_service.application.guests import guest_id_for
from space_service.testing import World, world
from spaceport.contracts.space import (
    Authenticate,
    AuthInvalidated,
    ChangeSpaceLifecycle,
    CreateEnvironment,
    CreateSpace,
    DeleteGuest,
    GetGuest,
    GuestCreated,
    GuestDeleted,
    GuestGrant,
    GuestRole,
    GuestSpec,
    GuestUpdated,
    InviteGuests,
    IssueGuestToken,
    ListGuests,
    Principal,
    SpaceFields,
    UpdateGuest,
)
from spaceport.errors import ForbiddenError, NotFoundError, UnauthorizedError

pytestmark = pytest.mark.unit


async def with_spaces(w: World, *fields: SpaceFields) -> tuple[str, list[str], Principal]:
    """An environment and its spaces: (environment id, space ids, the secret key's principal)."""
    reply = await w.app.environments.create(CreateEnvironment(name="dev"))
    who = await w.app.auth.authenticate(Authenticate(token=reply.secret_key or ""))
    env_id = reply.environment.id
    space_ids = [
        (await w.app.spaces.create(CreateSpace(principal=who, environment_id=env_id, fields=f))).space_id
        for f in fields or (SpaceFields(),)
    ]
    return env_id, space_ids, who


def spec(email: str, *space_ids: str, role: GuestRole = "editor") -> GuestSpec:
    grants = [GuestGrant(space_id=s, role=role) for s in space_ids]
    return GuestSpec(email=email, name=email.partition("@")[0], spaces=grants)


async def invited(w: World, env_id: str, who: Principal, *specs: GuestSpec) -> list[str]:
    return (await w.app.guests.invite(InviteGuests(principal=who, environment_id=env_id, guests=list(specs)))).guest_ids


async def test_inviting_creates_one_guest_per_email_and_lists_them_in_the_space() -> None:
    w = world()
    env_id, [space_id], who = await with_spaces(w)
    ids = await invited(w, env_id, who, spec("A@Example.com", space_id), spec("b@example.com", space_id))
    assert ids == [guest_id_for(env_id, "a@example.com"), guest_id_for(env_id, "b@example.com")]
    events = await w.events("guest")
    assert [(type(e), getattr(e, "email", None)) for e in events] == [
        (GuestCreated, "a@example.com"),
        (GuestCreated, "b@example.com"),
    ]
    listed = await w.app.guests.list_guests(ListGuests(environment_id=env_id, space_id=space_id))
    assert [g.id for g in listed] == ids


async def test_inviting_the_same_email_again_merges_its_grants() -> None:
    w = world()
    env_id, [one, two], who = await with_spaces(w, SpaceFields(name="one"), SpaceFields(name="two"))
    [guest_id] = await invited(w, env_id, who, spec("a@example.com", one))
    await invited(w, env_id, who, spec("a@example.com", two, role="admin"))
    await invited(w, env_id, who, spec("a@example.com", two, role="admin"))  # nothing new: nothing appended
    merged = [GuestGrant(space_id=one, role="editor"), GuestGrant(space_id=two, role="admin")]
    assert (await w.events("guest"))[1:] == [GuestUpdated(guest_id=guest_id, spaces=merged)]
    view = await w.app.guests.get(GetGuest(principal=who, environment_id=env_id, guest_id=guest_id))
    assert [(s.id, s.role) for s in view.spaces] == sorted([(one, "editor"), (two, "admin")])


async def test_a_space_with_allowed_domains_refuses_other_emails_before_anything_is_written() -> None:
    w = world()
    env_id, [space_id], who = await with_spaces(w, SpaceFields(allowed_domains=["@Customer.com"]))
    with pytest.raises(ForbiddenError) as refused:
        await invited(w, env_id, who, spec("a@customer.com", space_id), spec("b@elsewhere.com", space_id))
    assert refused.value.key == "email"
    assert await w.events("guest") == []


async def test_inviting_to_an_unknown_space_is_not_found() -> None:
    w = world()
    env_id, _, who = await with_spaces(w)
    with pytest.raises(NotFoundError) as refused:
        await invited(w, env_id, who, spec("a@example.com", "us_sp_unknown"))
    assert refused.value.key == "spaceId"


async def test_a_guest_admin_manages_only_its_own_space() -> None:
    w = world()
    env_id, [mine, other], who = await with_spaces(w, SpaceFields(name="mine"), SpaceFields(name="other"))
    [admin_id, outsider_id] = await invited(
        w, env_id, who, spec("admin@example.com", mine, role="admin"), spec("out@example.com", other)
    )
    admin = Principal(environment_id=env_id, kind="guest", actor=admin_id, space_id=mine, role="admin")
    with pytest.raises(ForbiddenError):
        await invited(w, env_id, admin, spec("c@example.com", other))
    with pytest.raises(NotFoundError):
        await w.app.guests.get(GetGuest(principal=admin, environment_id=env_id, guest_id=outsider_id))
    with pytest.raises(NotFoundError):
        await w.app.guests.delete(DeleteGuest(principal=admin, environment_id=env_id, guest_id=outsider_id))


async def test_a_guest_token_authenticates_until_the_guest_is_removed() -> None:
    w = world()
    env_id, [space_id], who = await with_spaces(w)
    [guest_id] = await invited(w, env_id, who, spec("a@example.com", space_id, role="admin"))
    issued = await w.app.guests.token(
        IssueGuestToken(principal=who, environment_id=env_id, guest_id=guest_id, space_id="")
    )
    guest = await w.app.auth.authenticate(Authenticate(token=issued.token))
    assert guest == Principal(environment_id=env_id, kind="guest", actor=guest_id, space_id=space_id, role="admin")
    await w.app.guests.delete(DeleteGuest(principal=who, environment_id=env_id, guest_id=guest_id))
    assert (await w.events("guest"))[-1] == GuestDeleted(guest_id=guest_id)
    assert w.broadcasts.sent == [AuthInvalidated(reason="guest_removed", environment_id=env_id, guest_id=guest_id)]
    with pytest.raises(UnauthorizedError):
        await w.app.auth.authenticate(Authenticate(token=issued.token))


async def test_a_token_dies_with_its_space_and_a_forged_one_never_works() -> None:
    w = world()
    env_id, [space_id], who = await with_spaces(w)
    [guest_id] = await invited(w, env_id, who, spec("a@example.com", space_id))
    issued = await w.app.guests.token(
        IssueGuestToken(principal=who, environment_id=env_id, guest_id=guest_id, space_id=space_id)
    )
    with pytest.raises(UnauthorizedError):
        await w.app.auth.authenticate(Authenticate(token=issued.token[:-2] + "xx"))
    delete = ChangeSpaceLifecycle(principal=who, environment_id=env_id, space_ids=[space_id], transition="delete")
    await w.app.spaces.change_lifecycle(delete)
    with pytest.raises(UnauthorizedError):
        await w.app.auth.authenticate(Authenticate(token=issued.token))


async def test_changing_a_guests_spaces_tells_the_gateways() -> None:
    w = world()
    env_id, [one, two], who = await with_spaces(w, SpaceFields(name="one"), SpaceFields(name="two"))
    [guest_id] = await invited(w, env_id, who, spec("a@example.com", one))
    await w.app.guests.update(UpdateGuest(principal=who, environment_id=env_id, guest_id=guest_id, name="Renamed"))
    grants = [GuestGrant(space_id=two, role="viewer")]
    await w.app.guests.update(UpdateGuest(principal=who, environment_id=env_id, guest_id=guest_id, spaces=grants))
    assert (await w.events("guest"))[-1] == GuestUpdated(guest_id=guest_id, spaces=grants)
    assert w.broadcasts.sent == [AuthInvalidated(reason="guest_changed", environment_id=env_id, guest_id=guest_id)]
    assert await w.app.guests.list_guests(ListGuests(environment_id=env_id, space_id=one)) == []
