"""The access API on fakes: extra API keys and their revocation, roles and guest roles, workbook
grants in the principal, and allowedDomains on email changes and role grants."""

from __future__ import annotations

import pytest

from space_service.domain import environment as env_domain
from space_service.domain import guest as guest_domain
from space_service.testing import World, world
from spaceport.contracts.space import (
    ApiKeyIssued,
    ApiKeyRevoked,
    AssignGuestRole,
    Authenticate,
    AuthInvalidated,
    CreateApiKey,
    CreateEnvironment,
    CreateSpace,
    DeleteGuest,
    DeleteGuestRole,
    EnvironmentCreated,
    GuestCreated,
    GuestDeleted,
    GuestGrant,
    GuestSpec,
    GuestUpdated,
    InviteGuests,
    IssueGuestToken,
    ListApiKeys,
    ListGuestRoles,
    ListRoles,
    Principal,
    RevokeApiKey,
    SpaceFields,
    UpdateGuest,
    actor_role_id,
    role_id,
)
from spaceport.errors import ForbiddenError, NotFoundError, UnauthorizedError, ValidationFailedError

pytestmark = pytest.mark.unit


async def setup(w: World, *fields: SpaceFields) -> tuple[str, list[str], Principal]:
    reply = await w.app.environments.create(CreateEnvironment(name="dev"))
    who = await w.app.auth.authenticate(Authenticate(token=reply.secret_key or ""))
    env_id = reply.environment.id
    spaces = [
        (await w.app.spaces.create(CreateSpace(principal=who, environment_id=env_id, fields=f))).space_id
        for f in fields or (SpaceFields(),)
    ]
    return env_id, spaces, who


async def invite(w: World, env_id: str, who: Principal, email: str, *grants: GuestGrant) -> str:
    spec = GuestSpec(email=email, name="g", spaces=list(grants))
    written = await w.app.guests.invite(InviteGuests(principal=who, environment_id=env_id, guests=[spec]))
    return written.guest_ids[0]


async def guest_principal(w: World, env_id: str, who: Principal, guest_id: str, space_id: str) -> Principal:
    issued = await w.app.guests.token(
        IssueGuestToken(principal=who, environment_id=env_id, guest_id=guest_id, space_id=space_id)
    )
    return await w.app.auth.authenticate(Authenticate(token=issued.token))


# ---- the environment aggregate's keys (pure) ---------------------------------------------------


def _issued(key_id: str, kind: str) -> ApiKeyIssued:
    return ApiKeyIssued(key_id=key_id, kind=kind, key_hash=key_id + "-hash", hint="abcd")  # type: ignore[arg-type]


def _env(*keys: ApiKeyIssued) -> env_domain.EnvironmentState:
    state = env_domain.evolve(env_domain.initial(), EnvironmentCreated(environment_id="us_env_1", name="dev"))
    for key in keys:
        state = env_domain.evolve(state, key)
    return state


def test_a_key_is_revoked_unless_it_is_the_last_secret_key() -> None:
    state = _env(_issued("k1", "secret"), _issued("k2", "publishable"))
    with pytest.raises(ValidationFailedError) as last:
        env_domain.revoke(state, "us_env_1", "k1")
    assert last.value.key == "key" and "last secret key" in last.value.message
    assert env_domain.revoke(state, "us_env_1", "k2") == [ApiKeyRevoked(key_id="k2")]
    with pytest.raises(NotFoundError):
        env_domain.revoke(state, "us_env_1", "k9")
    two = env_domain.evolve(state, _issued("k3", "secret"))
    assert env_domain.revoke(two, "us_env_1", "k1") == [ApiKeyRevoked(key_id="k1")]
    after = env_domain.evolve(two, ApiKeyRevoked(key_id="k1"))
    assert after.keys == (("k2", "publishable"), ("k3", "secret"))


def test_an_environment_holds_a_bounded_number_of_keys() -> None:
    state = _env(*(_issued(f"k{n}", "secret") for n in range(env_domain.MAX_KEYS)))
    with pytest.raises(ValidationFailedError):
        env_domain.issue(state, "us_env_1", _issued("one-more", "secret"))
    deleted = env_domain.evolve(state, env_domain.delete(state, "us_env_1")[0])
    with pytest.raises(NotFoundError):
        env_domain.issue(deleted, "us_env_1", _issued("late", "secret"))


# ---- keys through the application ---------------------------------------------------------


async def test_an_added_key_authenticates_and_a_revoked_one_stops_and_is_announced() -> None:
    w = world()
    env_id, _, who = await setup(w)
    created = await w.app.environments.create_key(CreateApiKey(actor=who.actor, environment_id=env_id, kind="secret"))
    assert created.key.raw_key.startswith("sk_") and created.key.type == "SECRET"
    holder = await w.app.auth.authenticate(Authenticate(token=created.key.raw_key))
    assert (holder.environment_id, holder.kind, holder.actor) == (env_id, "secret", created.key.id)
    listed = await w.app.environments.list_keys(ListApiKeys(environment_id=env_id))
    # the environment's first two keys share a creation time (one event batch): their order is by id
    assert sorted(k.type for k in listed) == ["PUBLISHABLE", "SECRET", "SECRET"] and listed[-1].id == created.key.id
    assert "raw_key" not in type(listed[0]).__struct_fields__
    await w.app.environments.revoke_key(RevokeApiKey(actor=who.actor, environment_id=env_id, key_id=created.key.id))
    with pytest.raises(UnauthorizedError):
        await w.app.auth.authenticate(Authenticate(token=created.key.raw_key))
    assert w.broadcasts.sent[-1] == AuthInvalidated(reason="keys_rotated", environment_id=env_id)
    assert isinstance((await w.events("environment"))[-1], ApiKeyRevoked)
    publishable = await w.app.environments.list_keys(ListApiKeys(environment_id=env_id, kind="publishable"))
    assert [k.type for k in publishable] == ["PUBLISHABLE"]


async def test_keys_of_a_deleted_or_unknown_environment_are_not_found() -> None:
    w = world()
    with pytest.raises(NotFoundError):
        await w.app.environments.list_keys(ListApiKeys(environment_id="us_env_nothing000"))
    with pytest.raises(NotFoundError):
        await w.app.environments.create_key(CreateApiKey(actor="a", environment_id="us_env_nothing000", kind="secret"))


# ---- roles and guest roles ------------------------------------------------------------------


async def test_the_built_in_roles_have_stable_ids() -> None:
    roles = await world().app.guests.list_roles(ListRoles())
    assert [(r.id, r.name) for r in roles] == [
        (role_id("admin"), "Guest Admin"),
        (role_id("editor"), "Guest Editor"),
        (role_id("viewer"), "Guest Viewer"),
    ]
    with pytest.raises(ValidationFailedError) as unknown:
        guest_domain.role_named("us_rol_nothing000")
    assert unknown.value.key == "roleId"


async def test_assigning_a_role_grants_or_changes_a_space_and_keeps_its_workbooks() -> None:
    w = world()
    env_id, [one, two], who = await setup(w, SpaceFields(name="one"), SpaceFields(name="two"))
    guest_id = await invite(w, env_id, who, "a@example.com", GuestGrant(space_id=one, workbook_ids=["us_wb_1"]))
    changed = await w.app.guests.assign_role(
        AssignGuestRole(
            principal=who, environment_id=env_id, guest_id=guest_id, role_id=role_id("viewer"), resource_id=one
        )
    )
    assert (changed.actor_role.id, changed.actor_role.role_id) == (actor_role_id(guest_id, one), role_id("viewer"))
    added = AssignGuestRole(
        principal=who, environment_id=env_id, guest_id=guest_id, role_id=role_id("admin"), resource_id=two
    )
    await w.app.guests.assign_role(added)
    await w.app.guests.assign_role(added)  # the same role again: nothing appended
    updates = [e for e in await w.events("guest") if isinstance(e, GuestUpdated)]
    assert [sorted((g.space_id, g.role, tuple(g.workbook_ids)) for g in e.spaces or []) for e in updates] == [
        [(one, "viewer", ("us_wb_1",))],
        sorted([(one, "viewer", ("us_wb_1",)), (two, "admin", ())]),
    ]
    assert [b.reason for b in w.broadcasts.sent[-2:]] == ["guest_changed", "guest_changed"]
    roles = await w.app.guests.guest_roles(ListGuestRoles(principal=who, environment_id=env_id, guest_id=guest_id))
    assert [(r.resource_id, r.role_id) for r in roles] == sorted([(one, role_id("viewer")), (two, role_id("admin"))])


async def test_a_role_needs_a_live_space_of_the_environment() -> None:
    w = world()
    env_id, [space], who = await setup(w)
    other_env, [foreign], _ = await setup(w)
    guest_id = await invite(w, env_id, who, "a@example.com", GuestGrant(space_id=space))
    for resource in (foreign, "us_sp_nothing000", "garbage"):
        command = AssignGuestRole(
            principal=who, environment_id=env_id, guest_id=guest_id, role_id=role_id("admin"), resource_id=resource
        )
        with pytest.raises(NotFoundError) as missing:
            await w.app.guests.assign_role(command)
        assert missing.value.key == "resourceId"
    assert other_env != env_id


async def test_deleting_an_actor_role_removes_that_grant_and_the_guest_with_its_last() -> None:
    w = world()
    env_id, [one, two], who = await setup(w, SpaceFields(name="one"), SpaceFields(name="two"))
    guest_id = await invite(w, env_id, who, "a@example.com", GuestGrant(space_id=one), GuestGrant(space_id=two))

    def delete(space: str) -> DeleteGuestRole:
        return DeleteGuestRole(
            principal=who, environment_id=env_id, guest_id=guest_id, actor_role_id=actor_role_id(guest_id, space)
        )

    await w.app.guests.delete_role(delete(two))
    assert (await w.events("guest"))[-1] == GuestUpdated(guest_id=guest_id, spaces=[GuestGrant(space_id=one)])
    with pytest.raises(NotFoundError) as again:
        await w.app.guests.delete_role(delete(two))
    assert again.value.key == "actorRoleId"
    await w.app.guests.delete_role(delete(one))
    assert isinstance((await w.events("guest"))[-1], GuestDeleted)


async def test_a_guest_admin_manages_roles_in_its_space_within_its_workbooks() -> None:
    w = world()
    env_id, [one, two], who = await setup(w, SpaceFields(name="one"), SpaceFields(name="two"))
    admin_id = await invite(
        w, env_id, who, "adm@example.com", GuestGrant(space_id=one, role="admin", workbook_ids=["us_wb_1"])
    )
    admin = await guest_principal(w, env_id, who, admin_id, one)
    assert admin.workbook_ids == ["us_wb_1"]
    other = await invite(w, env_id, who, "o@example.com", GuestGrant(space_id=two))
    with pytest.raises(NotFoundError):  # a guest of another space only: invisible
        await w.app.guests.guest_roles(ListGuestRoles(principal=admin, environment_id=env_id, guest_id=other))
    both = await invite(
        w, env_id, who, "b@example.com", GuestGrant(space_id=one, workbook_ids=["us_wb_1"]), GuestGrant(space_id=two)
    )
    roles = await w.app.guests.guest_roles(ListGuestRoles(principal=admin, environment_id=env_id, guest_id=both))
    assert [r.resource_id for r in roles] == [one]
    with pytest.raises(ForbiddenError):  # another space of a guest it sees
        await w.app.guests.assign_role(
            AssignGuestRole(
                principal=admin, environment_id=env_id, guest_id=both, role_id=role_id("viewer"), resource_id=two
            )
        )
    changed = await w.app.guests.assign_role(
        AssignGuestRole(
            principal=admin, environment_id=env_id, guest_id=both, role_id=role_id("viewer"), resource_id=one
        )
    )
    assert changed.actor_role.role_id == role_id("viewer")
    wide = await invite(w, env_id, who, "w@example.com", GuestGrant(space_id=one))
    with pytest.raises(ForbiddenError):  # its grant reaches beyond the admin's workbooks
        await w.app.guests.assign_role(
            AssignGuestRole(
                principal=admin, environment_id=env_id, guest_id=wide, role_id=role_id("viewer"), resource_id=one
            )
        )
    with pytest.raises(ForbiddenError):  # nor remove it
        await w.app.guests.delete(DeleteGuest(principal=admin, environment_id=env_id, guest_id=wide))
    spec = GuestSpec(email="new@example.com", name="n", spaces=[GuestGrant(space_id=one, workbook_ids=["us_wb_2"])])
    with pytest.raises(ForbiddenError):
        await w.app.guests.invite(InviteGuests(principal=admin, environment_id=env_id, guests=[spec]))


async def test_a_principal_carries_the_workbooks_of_its_grant() -> None:
    w = world()
    env_id, [space], who = await setup(w)
    limited = await invite(w, env_id, who, "l@example.com", GuestGrant(space_id=space, workbook_ids=["us_wb_1"]))
    whole = await invite(w, env_id, who, "w@example.com", GuestGrant(space_id=space))
    assert (await guest_principal(w, env_id, who, limited, space)).workbook_ids == ["us_wb_1"]
    assert (await guest_principal(w, env_id, who, whole, space)).workbook_ids is None
    with pytest.raises(ValidationFailedError):
        await invite(w, env_id, who, "d@example.com", GuestGrant(space_id=space, workbook_ids=["us_wb_1", "us_wb_1"]))
    assert [type(e) for e in await w.events("guest")] == [GuestCreated, GuestCreated]


# ---- allowedDomains ------------------------------------------------------------------------


async def test_allowed_domains_hold_for_a_new_email_and_a_role_grant_but_not_after_the_fact() -> None:
    w = world()
    env_id, [open_space, closed], who = await setup(
        w, SpaceFields(name="open"), SpaceFields(name="c", allowed_domains=["acme.com"])
    )
    member = await invite(w, env_id, who, "m@acme.com", GuestGrant(space_id=open_space), GuestGrant(space_id=closed))
    with pytest.raises(ForbiddenError) as moved:
        await w.app.guests.update(
            UpdateGuest(principal=who, environment_id=env_id, guest_id=member, email="m@other.org")
        )
    assert moved.value.key == "email"
    # Dropping the closed space in the same update lets the new address through.
    kept = [GuestGrant(space_id=open_space)]
    await w.app.guests.update(
        UpdateGuest(principal=who, environment_id=env_id, guest_id=member, email="m@other.org", spaces=kept)
    )
    outsider = await invite(w, env_id, who, "o@other.org", GuestGrant(space_id=open_space))
    with pytest.raises(ForbiddenError):
        await w.app.guests.assign_role(
            AssignGuestRole(
                principal=who, environment_id=env_id, guest_id=outsider, role_id=role_id("viewer"), resource_id=closed
            )
        )
    roles = await w.app.guests.guest_roles(ListGuestRoles(principal=who, environment_id=env_id, guest_id=outsider))
    assert [r.resource_id for r in roles] == [open_space]
