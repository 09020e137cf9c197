"""The read model's app columns of a space (`appId`, `isAppTemplate`, `templateId`) and the
`ListSpaces` filters on them: the fake (`FoldedDirectory`) and Postgres (`DirectoryQueries` over
the real projection, migration 005) give the same answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

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
    CreateApp,
    CreateEnvironment,
    CreateSpace,
    ListSpaces,
    Principal,
    SpaceFields,
    UpdateSpace,
)
from spaceport.testing import scratch
from spaceport.testing.infra import InfraUrls

Project = Callable[[World], Awaitable[Directory]]


@dataclass(frozen=True)
class AppSpaces:
    world: World
    env: str
    app: str
    other_app: str
    template: str  # of `app`, made a template by an update
    copy: str  # of `app`, copied from `template`
    plain: str  # no app
    of_other: str  # of `other_app`
    gone_template: str  # of `app`, a template, deleted


async def _space(w: World, who: Principal, name: str, **extra: Any) -> str:
    copied_from = extra.pop("copied_from", None)
    fields = SpaceFields(name=name, is_app_template=extra.pop("is_app_template", None))
    cmd = CreateSpace(principal=who, environment_id=who.environment_id, fields=fields, **extra)
    return (await w.app.spaces.create(cmd, copied_from=copied_from)).space_id


@pytest.fixture
async def spaces() -> AppSpaces:
    w = world()
    created = await w.app.environments.create(CreateEnvironment(name="main"))
    who = await w.app.auth.authenticate(Authenticate(token=created.secret_key or ""))
    env = who.environment_id
    app, other_app = [
        (
            await w.app.apps.create(
                CreateApp(principal=who, environment_id=env, type="CUSTOM", fields=AppFields(name=n))
            )
        ).app_id
        for n in ("one", "two")
    ]
    template = await _space(w, who, "template", app_id=app, copied_from=app)
    fields = SpaceFields(is_app_template=True)
    await w.app.spaces.update(UpdateSpace(principal=who, environment_id=env, space_id=template, fields=fields))
    copy = await _space(w, who, "copy", app_id=app, copied_from=template)
    plain = await _space(w, who, "plain")
    of_other = await _space(w, who, "other", app_id=other_app)
    gone = await _space(w, who, "gone", app_id=app, is_app_template=True)
    await w.app.spaces.change_lifecycle(
        ChangeSpaceLifecycle(principal=who, environment_id=env, space_ids=[gone], transition="delete")
    )
    return AppSpaces(
        world=w,
        env=env,
        app=app,
        other_app=other_app,
        template=template,
        copy=copy,
        plain=plain,
        of_other=of_other,
        gone_template=gone,
    )


@pytest.fixture(params=[pytest.param("folded", marks=pytest.mark.unit), "postgres"])
async def project(request: pytest.FixtureRequest, unique_name: str) -> AsyncIterator[Project]:
    if request.param == "folded":

        async def folded(w: World) -> Directory:
            return FoldedDirectory(w.store)

        yield folded
        return
    infra: InfraUrls = request.getfixturevalue("infra")
    pool: asyncpg.Pool[Any] = await readmodel.create_pool(infra.database_url, unique_name)

    async def postgres(w: World) -> Directory:
        async with pool.acquire() as conn:
            await scratch.project(conn, w.store, SpaceDirectory(w.store.prefix, name=unique_name), unique_name)
        return DirectoryQueries(lambda: pool)

    try:
        yield postgres
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {unique_name} CASCADE")
        await pool.close()


async def _ids(directory: Directory, **filters: Any) -> list[str]:
    found, total = await directory.spaces(ListSpaces(page_size=100, sort_field="name", sort_direction="asc", **filters))
    assert total == len(found)
    return [v.id for v in found]


async def test_a_space_shows_its_app_template_status_and_origin(project: Project, spaces: AppSpaces) -> None:
    s = spaces
    directory = await project(s.world)
    template, copy, plain = [await directory.space(s.env, x) for x in (s.template, s.copy, s.plain)]
    assert template is not None and (template.app_id, template.is_app_template, template.template_id) == (
        s.app,
        True,
        s.app,
    )
    assert copy is not None and (copy.app_id, copy.is_app_template, copy.template_id) == (s.app, False, s.template)
    assert plain is not None and (plain.app_id, plain.is_app_template, plain.template_id) == (None, False, None)


async def test_spaces_are_listed_by_app_and_template_status(project: Project, spaces: AppSpaces) -> None:
    s = spaces
    directory = await project(s.world)
    assert await _ids(directory, environment_id=s.env, app_id=s.app) == [s.copy, s.template]
    assert await _ids(directory, environment_id=s.env, app_id=s.app, is_app_template=True) == [s.template]
    assert await _ids(directory, environment_id=s.env, app_id=s.app, is_app_template=False) == [s.copy]
    assert await _ids(directory, environment_id=s.env, is_app_template=False) == [s.copy, s.of_other, s.plain]
    assert await _ids(directory, environment_id=s.env, app_id=s.other_app) == [s.of_other]
    assert await _ids(directory, environment_id=s.env, app_id="us_app_none") == []


async def test_the_fake_answers_app_space_queries_as_postgres_does(
    infra: InfraUrls, unique_name: str, spaces: AppSpaces
) -> None:
    s = spaces
    pool: asyncpg.Pool[Any] = await readmodel.create_pool(infra.database_url, unique_name)
    try:
        async with pool.acquire() as conn:
            await scratch.project(
                conn, s.world.store, SpaceDirectory(s.world.store.prefix, name=unique_name), unique_name
            )
        answers = [await _answers(d, s) for d in (FoldedDirectory(s.world.store), DirectoryQueries(lambda: pool))]
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {unique_name} CASCADE")
        await pool.close()
    assert answers[0] == answers[1]


async def _answers(directory: Directory, s: AppSpaces) -> list[object]:
    queries = [
        ListSpaces(environment_id=s.env, app_id=app_id, is_app_template=flag)
        for app_id in (None, s.app, s.other_app)
        for flag in (None, True, False)
    ]
    return [
        *[await directory.space(s.env, x) for x in (s.template, s.copy, s.plain, s.of_other, s.gone_template)],
        *[await directory.spaces(q) for q in queries],
    ]
