"""One contract for the space read model, passed by the fake (`FoldedDirectory`) and by
`DirectoryQueries` on Postgres.

The events come from the real handlers on the in-memory store; the Postgres variant folds them
through the real projection (`SpaceDirectory`) into a scratch schema first. The last test asks
both every query of the scenario and wants the same views, timestamps included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from space_service.application import keys
from space_service.application.ports import Directory
from space_service.projections.directory import SpaceDirectory
from space_service.projections.queries import DirectoryQueries
from space_service.testing import World, world
from space_service.testing.directory import FoldedDirectory
from spaceport import readmodel
from spaceport.contracts.space import (
    AppFields,
    Authenticate,
    ChangeSpaceLifecycle,
    ConstraintFields,
    CreateApp,
    CreateConstraint,
    CreateDocument,
    CreateEnvironment,
    CreateSpace,
    DeleteApp,
    DeleteConstraint,
    DeleteDocument,
    DeleteEnvironment,
    DeleteGuest,
    DocumentFields,
    GuestGrant,
    GuestSpec,
    InviteGuests,
    ListSpaces,
    Principal,
    RotateKeys,
    SortDirection,
    SpaceFields,
    SpaceSortField,
    SpaceTransition,
    UpdateApp,
    UpdateConstraint,
    UpdateDocument,
    UpdateSpace,
)
from spaceport.contracts.workbook import WorkbookCreated
from spaceport.ports import AggregateRef
from spaceport.testing import scratch
from spaceport.testing.infra import InfraUrls

Project = Callable[[World], Awaitable[Directory]]
SORTED_BY: tuple[SpaceSortField, ...] = ("name", "createdAt", "lastActivityAt", "workbooksCount")
DIRECTIONS: tuple[SortDirection, ...] = ("asc", "desc")


@dataclass(frozen=True)
class Scenario:
    world: World
    env: str
    gone_env: str
    secret: str  # hash of env's live secret key
    rotated_out: str  # hash of env's old publishable key
    gone_secret: str  # hash of gone_env's secret key
    live: str  # spaces of env: live, archived, deleted, then two more live ones (one renamed)
    archived: str
    deleted: str
    later: tuple[str, str]
    doc: str  # documents of `live`: kept (renamed), deleted
    gone_doc: str
    guest: str  # admin of `live`, editor of `archived` and `deleted`
    gone_guest: str


@pytest.fixture
async def scenario() -> Scenario:
    w = world()
    created = await w.app.environments.create(CreateEnvironment(name="main"))
    env, secret = created.environment.id, created.secret_key or ""
    who = await w.app.auth.authenticate(Authenticate(token=secret))
    gone = await w.app.environments.create(CreateEnvironment(name="gone"))
    await w.app.environments.delete(DeleteEnvironment(actor="us_key_x", environment_id=gone.environment.id))
    await w.app.environments.rotate(RotateKeys(actor=who.actor, environment_id=env, kinds=["publishable"]))
    live, archived, deleted = [await _space(w, who, name) for name in ("Alpha", "beta", "Gamma")]
    doc, gone_doc = [await _document(w, who, live, title) for title in ("kept", "gone")]
    await w.app.documents.update(
        UpdateDocument(
            principal=who, environment_id=env, space_id=live, document_id=doc, fields=DocumentFields(title="renamed")
        )
    )
    await w.app.documents.delete(DeleteDocument(principal=who, environment_id=env, space_id=live, document_id=gone_doc))
    grants = [GuestGrant(space_id=live, role="admin"), *(GuestGrant(space_id=s) for s in (archived, deleted))]
    specs = [
        GuestSpec(email="a@example.com", name="A", spaces=grants),
        GuestSpec(email="b@example.com", name="B", spaces=grants),
    ]
    guest, gone_guest = (
        await w.app.guests.invite(InviteGuests(principal=who, environment_id=env, guests=specs))
    ).guest_ids
    await w.app.guests.delete(DeleteGuest(principal=who, environment_id=env, guest_id=gone_guest))
    await _lifecycle(w, who, archived, "archive")
    await _lifecycle(w, who, deleted, "delete")
    await _workbook_created(w, env, live)
    later = (await _space(w, who, "Delta0"), await _space(w, who, "epsilon"))
    await w.app.spaces.update(
        UpdateSpace(principal=who, environment_id=env, space_id=later[0], fields=SpaceFields(name="delta"))
    )
    return Scenario(
        world=w,
        env=env,
        gone_env=gone.environment.id,
        secret=keys.hash_key(secret),
        rotated_out=keys.hash_key(created.publishable_key or ""),
        gone_secret=keys.hash_key(gone.secret_key or ""),
        live=live,
        archived=archived,
        deleted=deleted,
        later=later,
        doc=doc,
        gone_doc=gone_doc,
        guest=guest,
        gone_guest=gone_guest,
    )


async def _space(w: World, who: Principal, name: str) -> str:
    fields = SpaceFields(name=name, namespace="ns", labels=[name])
    return (
        await w.app.spaces.create(CreateSpace(principal=who, environment_id=who.environment_id, fields=fields))
    ).space_id


async def _document(w: World, who: Principal, space_id: str, title: str) -> str:
    cmd = CreateDocument(principal=who, environment_id=who.environment_id, space_id=space_id, title=title, body="b")
    return (await w.app.documents.create(cmd)).document_id


async def _lifecycle(w: World, who: Principal, space_id: str, change: SpaceTransition) -> None:
    cmd = ChangeSpaceLifecycle(
        principal=who, environment_id=who.environment_id, space_ids=[space_id], transition=change
    )
    await w.app.spaces.change_lifecycle(cmd)


async def _workbook_created(w: World, env: str, space_id: str) -> None:
    """What the workbook service would append: the directory counts it."""
    ref = AggregateRef(environment_id=env, space_id=space_id, aggregate="workbook", aggregate_id="us_wb_1")
    created = WorkbookCreated(workbook_id="us_wb_1", space_id=space_id, environment_id=env, name="wb")
    await w.store.append(ref, [created], expected_version=0)


async def _postgres(infra: InfraUrls, schema: str) -> tuple[asyncpg.Pool[Any], Project]:
    pool = await readmodel.create_pool(infra.database_url, schema)

    async def project(w: World) -> Directory:
        async with pool.acquire() as conn:
            await scratch.project(conn, w.store, SpaceDirectory(w.store.prefix, name=schema), schema)
        return DirectoryQueries(lambda: pool)

    return pool, project


@pytest.fixture(params=[pytest.param("folded", marks=pytest.mark.unit), "postgres"])
async def project(request: pytest.FixtureRequest, unique_name: str) -> AsyncIterator[Project]:
    """Turns a world's events into the `Directory` under test."""
    if request.param == "folded":

        async def folded(w: World) -> Directory:
            return FoldedDirectory(w.store)

        yield folded
        return
    pool, postgres = await _postgres(request.getfixturevalue("infra"), unique_name)
    try:
        yield postgres
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {unique_name} CASCADE")
        await pool.close()


# ---- the contract ------------------------------------------------------------------------


async def test_only_live_environments_are_read(project: Project, scenario: Scenario) -> None:
    directory = await project(scenario.world)
    found = await directory.environment(scenario.env)
    assert found is not None and found.name == "main"
    assert await directory.environment(scenario.gone_env) is None
    page, total = await directory.environments(10, 1)
    assert ([e.id for e in page], total) == ([scenario.env], 1)
    assert await directory.environments(10, 2) == ([], 1)


async def test_a_key_holds_until_it_is_rotated_out_or_its_environment_deleted(
    project: Project, scenario: Scenario
) -> None:
    directory = await project(scenario.world)
    holder = await directory.key_holder(scenario.secret)
    assert holder is not None and (holder.environment_id, holder.kind) == (scenario.env, "secret")
    assert await directory.key_holder(scenario.rotated_out) is None
    assert await directory.key_holder(scenario.gone_secret) is None
    assert await directory.key_holder(keys.hash_key("sk_unknown")) is None


async def test_spaces_are_found_until_deleted_and_listed_by_filter(project: Project, scenario: Scenario) -> None:
    s, directory = scenario, await project(scenario.world)
    live = await directory.space(s.env, s.live)
    assert live is not None and (live.name, live.workbooks_count, live.archived_at) == ("Alpha", 1, None)
    assert (await directory.space(s.env, s.archived) or live).archived_at is not None
    assert await directory.space(s.env, s.deleted) is None
    assert await directory.space(s.gone_env, s.live) is None
    assert [await directory.space_exists(s.env, x) for x in (s.live, s.archived, s.deleted)] == [True, True, False]
    newest_first = [s.later[1], s.later[0], s.live]
    assert await _listed(directory, ListSpaces(environment_id=s.env)) == (newest_first, 3)
    by_name = ListSpaces(environment_id=s.env, sort_field="name", sort_direction="asc", page_size=2, page_number=2)
    assert await _listed(directory, by_name) == ([s.later[1]], 3)
    assert await _listed(directory, ListSpaces(environment_id=s.env, archived=True)) == ([s.archived], 1)
    assert await _listed(directory, ListSpaces(environment_id=s.env, search="ALP")) == ([s.live], 1)
    assert await _listed(directory, ListSpaces(environment_id=s.env, namespace="other")) == ([], 0)


async def _listed(directory: Directory, query: ListSpaces) -> tuple[list[str], int]:
    found, total = await directory.spaces(query)
    return [v.id for v in found], total


async def test_documents_are_read_while_they_and_their_space_live(project: Project, scenario: Scenario) -> None:
    s, directory = scenario, await project(scenario.world)
    doc = await directory.document(s.env, s.live, s.doc)
    assert doc is not None and (doc.title, doc.body) == ("renamed", "b")
    assert await directory.document(s.env, s.live, s.gone_doc) is None
    assert await directory.document(s.gone_env, s.live, s.doc) is None
    assert [d.id for d in await directory.documents(s.live)] == [s.doc]


async def test_guests_keep_their_grants_on_spaces_that_are_not_deleted(project: Project, scenario: Scenario) -> None:
    s, directory = scenario, await project(scenario.world)
    [guest] = await directory.guests(s.env, [s.guest, s.gone_guest])
    assert sorted((g.id, g.role) for g in guest.spaces) == sorted([(s.live, "admin"), (s.archived, "editor")])
    assert await directory.guests(s.gone_env, [s.guest]) == []
    assert await directory.guest_ids_in_space(s.live, None) == [s.guest]
    assert await directory.guest_ids_in_space(s.live, "b@example.com") == []
    assert await directory.guest_ids_in_space(s.deleted, None) == []
    roles = [await directory.guest_role(s.guest, space, s.env) for space in (s.live, s.archived, s.deleted)]
    assert roles == ["admin", "editor", None]
    assert await directory.guest_role(s.gone_guest, s.live, s.env) is None


async def test_the_fake_answers_every_query_as_postgres_does(
    infra: InfraUrls, unique_name: str, scenario: Scenario
) -> None:
    s = scenario
    pool, postgres = await _postgres(infra, unique_name)
    try:
        answers = [await _every_answer(d, s) for d in (FoldedDirectory(s.world.store), await postgres(s.world))]
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {unique_name} CASCADE")
        await pool.close()
    folded, real = answers
    assert folded == real


async def _every_answer(directory: Directory, s: Scenario) -> list[object]:
    sorts = [
        ListSpaces(environment_id=s.env, archived=archived, sort_field=field, sort_direction=direction)
        for archived in (None, True)
        for field in SORTED_BY
        for direction in DIRECTIONS
    ]
    return [
        await directory.environment(s.env),
        await directory.environments(10, 1),
        *[await directory.space(s.env, x) for x in (s.live, s.archived, s.deleted)],
        *[await directory.spaces(q) for q in sorts],
        await directory.document(s.env, s.live, s.doc),
        await directory.documents(s.live),
        await directory.guests(s.env, [s.guest, s.gone_guest]),
        await directory.guest_ids_in_space(s.archived, "a@example.com"),
        await directory.key_holder(s.secret),
        await directory.guest_role(s.guest, s.live, s.env),
    ]


# ---- apps and their constraints ----------------------------------------------------------


@dataclass(frozen=True)
class AppScenario:
    world: World
    env: str
    other_env: str
    app: str  # live: a constraint kept (updated twice), one deleted; a blueprint using the kept one
    gone_app: str  # deleted
    other_app: str  # of other_env
    kept: str
    gone: str


@pytest.fixture
async def apps() -> AppScenario:
    w = world()
    who, other = [
        await w.app.auth.authenticate(
            Authenticate(token=(await w.app.environments.create(CreateEnvironment(name=n))).secret_key or "")
        )
        for n in ("main", "other")
    ]
    env = who.environment_id
    app, gone_app = [await _app(w, who, name) for name in ("Loads", "Gone")]
    other_app = await _app(w, other, "Theirs")
    kept, gone = [await _constraint(w, who, app, v) for v in ("UsPhone", "Email")]
    for label in ("two", "three"):
        cmd = UpdateConstraint(
            principal=who, environment_id=env, app_id=app, constraint_id=kept, fields=ConstraintFields(label=label)
        )
        await w.app.apps.update_constraint(cmd)
    await w.app.apps.delete_constraint(
        DeleteConstraint(principal=who, environment_id=env, app_id=app, constraint_id=gone)
    )
    field = {"key": "phone", "type": "string", "constraints": [{"type": "stored", "validator": "UsPhone"}]}
    blueprint = [{"name": "WB", "sheets": [{"name": "Contacts", "fields": [field]}]}]
    fields = AppFields(blueprint=blueprint, entity="Sync", activated_at=datetime(2024, 1, 1, tzinfo=UTC))
    await w.app.apps.update(UpdateApp(principal=who, environment_id=env, app_id=app, fields=fields))
    await w.app.apps.delete(DeleteApp(principal=who, environment_id=env, app_id=gone_app))
    return AppScenario(
        world=w,
        env=env,
        other_env=other.environment_id,
        app=app,
        gone_app=gone_app,
        other_app=other_app,
        kept=kept,
        gone=gone,
    )


async def _app(w: World, who: Principal, name: str) -> str:
    fields = AppFields(name=name, metadata={"n": name}, environment_filters={"type": ["PROD"]}, icon="<svg/>")
    cmd = CreateApp(principal=who, environment_id=who.environment_id, type="PORTAL", fields=fields)
    return (await w.app.apps.create(cmd)).app_id


async def _constraint(w: World, who: Principal, app_id: str, validator: str) -> str:
    fields = ConstraintFields(validator=validator, label="one", function="f()", options={"a": 1})
    cmd = CreateConstraint(principal=who, environment_id=who.environment_id, app_id=app_id, fields=fields)
    return (await w.app.apps.create_constraint(cmd)).constraint_id


async def test_apps_are_read_while_live_in_their_environment(project: Project, apps: AppScenario) -> None:
    s, directory = apps, await project(apps.world)
    found = await directory.app(s.env, s.app)
    assert found is not None and (found.name, found.type, found.entity, found.icon) == (
        "Loads",
        "PORTAL",
        "Sync",
        "<svg/>",
    )
    assert found.blueprint is not None and found.blueprint[0]["sheets"][0]["slug"] == "contacts"
    assert found.activated_at == datetime(2024, 1, 1, tzinfo=UTC)
    assert await directory.app(s.env, s.gone_app) is None
    assert await directory.app(s.env, s.other_app) is None
    assert [a.id for a in await directory.apps(s.env)] == [s.app]
    assert [a.id for a in await directory.apps(s.other_env)] == [s.other_app]


async def test_constraints_keep_their_versions_until_deleted(project: Project, apps: AppScenario) -> None:
    s, directory = apps, await project(apps.world)
    [kept] = await directory.constraints(s.app)
    assert (kept.id, kept.version, kept.label, kept.options) == (s.kept, 3, "three", {"a": 1})
    assert kept.created_at < kept.updated_at
    versions = await directory.constraint_versions(s.app, s.kept)
    assert [(v.version, v.label, v.function) for v in versions] == [
        (1, "one", "f()"),
        (2, "two", "f()"),
        (3, "three", "f()"),
    ]
    assert await directory.constraint_versions(s.app, s.gone) == []
    assert await directory.constraint_versions(s.other_app, s.kept) == []
    assert await directory.constraints(s.other_app) == []


async def test_the_fake_answers_app_queries_as_postgres_does(
    infra: InfraUrls, unique_name: str, apps: AppScenario
) -> None:
    s = apps
    pool, postgres = await _postgres(infra, unique_name)
    try:
        answers = [await _app_answers(d, s) for d in (FoldedDirectory(s.world.store), await postgres(s.world))]
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {unique_name} CASCADE")
        await pool.close()
    folded, real = answers
    assert folded == real


async def _app_answers(directory: Directory, s: AppScenario) -> list[object]:
    return [
        *[await directory.app(s.env, a) for a in (s.app, s.gone_app, s.other_app)],
        await directory.apps(s.env),
        await directory.apps(s.other_env),
        await directory.constraints(s.app),
        *[await directory.constraint_versions(s.app, c) for c in (s.kept, s.gone)],
    ]
