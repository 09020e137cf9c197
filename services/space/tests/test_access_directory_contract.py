"""The access reads of the space read model (API keys, guest grants as ActorRoles, a guest's grant
for Authenticate), held to one contract by the fake (`FoldedDirectory`) and by Postgres.

The scenario's events come from the real handlers on the in-memory store; the Postgres variant
projects them through `SpaceDirectory` into a scratch schema. Timestamps must match too: a grant
keeps its createdAt across changes, and its updatedAt while it is unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from space_service.application.ports import Directory
from space_service.projections.directory import SpaceDirectory
from space_service.projections.queries import DirectoryQueries
from space_service.testing import World, world
from space_service.testing.directory import FoldedDirectory
from spaceport import readmodel
from spaceport.contracts.space import (
    AssignGuestRole,
    Authenticate,
    ChangeSpaceLifecycle,
    CreateApiKey,
    CreateEnvironment,
    CreateSpace,
    DeleteEnvironment,
    GuestGrant,
    GuestSpec,
    InviteGuests,
    Principal,
    RevokeApiKey,
    SpaceFields,
    UpdateGuest,
    role_id,
)
from spaceport.testing import scratch

Project = Callable[[World], Awaitable[Directory]]


@dataclass(frozen=True)
class Scenario:
    world: World
    env: str
    gone_env: str
    spaces: tuple[str, str, str]  # kept (role changed), untouched, deleted
    guest: str
    revoked: str  # a key id


async def _space(w: World, who: Principal, name: str) -> str:
    cmd = CreateSpace(principal=who, environment_id=who.environment_id, fields=SpaceFields(name=name))
    return (await w.app.spaces.create(cmd)).space_id


@pytest.fixture
async def scenario() -> Scenario:
    w = world()
    created = await w.app.environments.create(CreateEnvironment(name="main"))
    env = created.environment.id
    who = await w.app.auth.authenticate(Authenticate(token=created.secret_key or ""))
    gone = await w.app.environments.create(CreateEnvironment(name="gone"))
    await w.app.environments.delete(DeleteEnvironment(actor="x", environment_id=gone.environment.id))
    extra = await w.app.environments.create_key(CreateApiKey(actor=who.actor, environment_id=env, kind="secret"))
    await w.app.environments.create_key(CreateApiKey(actor=who.actor, environment_id=env, kind="publishable"))
    await w.app.environments.revoke_key(RevokeApiKey(actor=who.actor, environment_id=env, key_id=extra.key.id))
    kept, untouched, deleted = [await _space(w, who, n) for n in ("kept", "untouched", "deleted")]
    grants = [GuestGrant(space_id=kept, workbook_ids=["us_wb_1"]), GuestGrant(space_id=untouched)]
    spec = GuestSpec(email="a@example.com", name="A", spaces=[*grants, GuestGrant(space_id=deleted)])
    [guest] = (await w.app.guests.invite(InviteGuests(principal=who, environment_id=env, guests=[spec]))).guest_ids
    await w.app.guests.assign_role(
        AssignGuestRole(principal=who, environment_id=env, guest_id=guest, role_id=role_id("admin"), resource_id=kept)
    )
    change = ChangeSpaceLifecycle(principal=who, environment_id=env, space_ids=[deleted], transition="delete")
    await w.app.spaces.change_lifecycle(change)
    await w.app.guests.update(UpdateGuest(principal=who, environment_id=env, guest_id=guest, name="renamed"))
    return Scenario(
        world=w,
        env=env,
        gone_env=gone.environment.id,
        spaces=(kept, untouched, deleted),
        guest=guest,
        revoked=extra.key.id,
    )


@pytest.fixture(params=[pytest.param("folded", marks=pytest.mark.unit), "postgres"])
async def project(request: pytest.FixtureRequest, unique_name: str) -> AsyncIterator[Project]:
    if request.param == "folded":

        async def folded(w: World) -> Directory:
            return FoldedDirectory(w.store)

        yield folded
        return
    pool = await readmodel.create_pool(request.getfixturevalue("infra").database_url, unique_name)

    async def postgres(w: World) -> Directory:
        async with pool.acquire() as conn:
            await scratch.project(conn, w.store, SpaceDirectory(w.store.prefix, name=unique_name), unique_name)
        return DirectoryQueries(lambda: pool)

    try:
        yield postgres
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {unique_name} CASCADE")
        await pool.close()


async def test_live_keys_are_listed_oldest_first(project: Project, scenario: Scenario) -> None:
    s, directory = scenario, await project(scenario.world)
    found = await directory.api_keys(s.env)
    assert sorted(k.type for k in found) == ["PUBLISHABLE", "PUBLISHABLE", "SECRET"]
    assert s.revoked not in [k.id for k in found]
    assert [k.created_at for k in found] == sorted(k.created_at for k in found)
    assert await directory.api_keys(s.gone_env) == []


async def test_grants_read_as_actor_roles_and_for_authentication(project: Project, scenario: Scenario) -> None:
    s, directory = scenario, await project(scenario.world)
    kept, untouched, deleted = s.spaces
    roles = {r.resource_id: r for r in await directory.guest_roles(s.env, s.guest)}
    assert sorted(roles) == sorted([kept, untouched])
    assert (roles[kept].role_id, roles[untouched].role_id) == (role_id("admin"), role_id("editor"))
    assert roles[kept].updated_at > roles[kept].created_at == roles[untouched].created_at
    assert roles[untouched].updated_at == roles[untouched].created_at  # unchanged by the role change elsewhere
    assert await directory.guest_roles(s.gone_env, s.guest) == []
    grant = await directory.guest_grant(s.guest, kept, s.env)
    assert grant == GuestGrant(space_id=kept, role="admin", workbook_ids=["us_wb_1"])
    assert await directory.guest_grant(s.guest, deleted, s.env) is None
    assert await directory.guest_role(s.guest, untouched, s.env) == "editor"


async def test_the_fake_answers_the_access_reads_as_postgres_does(
    request: pytest.FixtureRequest, unique_name: str, scenario: Scenario
) -> None:
    s = scenario
    pool = await readmodel.create_pool(request.getfixturevalue("infra").database_url, unique_name)
    try:
        async with pool.acquire() as conn:
            await scratch.project(
                conn, s.world.store, SpaceDirectory(s.world.store.prefix, name=unique_name), unique_name
            )
        answers = []
        for directory in (FoldedDirectory(s.world.store), DirectoryQueries(lambda: pool)):
            answers.append(
                [
                    await directory.api_keys(s.env),
                    await directory.guest_roles(s.env, s.guest),
                    *[await directory.guest_grant(s.guest, space, s.env) for space in s.spaces],
                ]
            )
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {unique_name} CASCADE")
        await pool.close()
    folded, real = answers
    assert folded == real
