"""GetSpace's in-process cache against the real projection: changes of any kind reach the
answers, and a standby replica never answers from a cache it cannot keep right.

The service runs in-process on its own stream, subject prefix, command prefix and schema.
"""

from __future__ import annotations

import asyncio

import pytest

from space_service.application.app import SpaceApplication
from space_service.bootstrap import build
from space_service.projections.cache import SpaceCache
from spaceport.contracts.space import (
    CreateEnvironment,
    CreateSpace,
    GetSpace,
    Principal,
    SpaceFields,
    SpaceWritten,
    UpdateSpace,
)
from spaceport.contracts.workbook import WorkbookCreated
from spaceport.eventstore import AggregateRef
from spaceport.projection import ProjectionRunner
from spaceport.runtime import ServiceRuntime
from spaceport.settings import Settings
from spaceport.testing.infra import InfraUrls


@pytest.fixture
def settings(infra: InfraUrls, unique_name: str) -> Settings:
    return Settings(
        service_name=unique_name,
        nats_url=infra.nats_url,
        database_url=infra.database_url,
        event_stream=f"T_{unique_name.upper()}",
        event_prefix=f"e{unique_name}",
        command_prefix=f"c{unique_name}",
        otel_exporter="none",
    )


async def _started(settings: Settings) -> tuple[ServiceRuntime, SpaceApplication]:
    rt, app = build(settings)
    await rt.start()
    return rt, app


def _cache(app: SpaceApplication) -> SpaceCache:
    views = app.spaces.views
    assert isinstance(views, SpaceCache)
    return views


def _runner(rt: ServiceRuntime, settings: Settings) -> ProjectionRunner:
    return rt.single_runner(settings.service_name)


async def _holding(rt: ServiceRuntime, settings: Settings, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not _runner(rt, settings).holding:
        assert asyncio.get_running_loop().time() < deadline, "the runner never took the lease"
        await asyncio.sleep(0.05)


async def _space(app: SpaceApplication) -> tuple[Principal, str]:
    env = await app.create_environment(CreateEnvironment(name="cached"))
    who = Principal(environment_id=env.environment.id, kind="secret", actor="us_key_test")
    written = await app.spaces.create(
        CreateSpace(principal=who, environment_id=who.environment_id, fields=SpaceFields(name="first"))
    )
    await app.caught_up(written.position)
    return who, written.space_id


async def _rename(app: SpaceApplication, who: Principal, space_id: str, name: str) -> SpaceWritten:
    fields = SpaceFields(name=name)
    return await app.spaces.update(
        UpdateSpace(principal=who, environment_id=who.environment_id, space_id=space_id, fields=fields)
    )


async def test_every_kind_of_change_reaches_the_cached_answer(settings: Settings) -> None:
    rt, app = await _started(settings)
    try:
        await _holding(rt, settings)
        cache = _cache(app)
        who, space_id = await _space(app)
        query = GetSpace(environment_id=who.environment_id, space_id=space_id)
        first = await app.spaces.get(query)
        assert await app.spaces.get(query) == first
        assert cache.hits >= 1 and len(cache) == 1
        # Another environment's caller is not answered from the cache.
        with pytest.raises(Exception, match="not found"):
            await app.spaces.get(GetSpace(environment_id="us_env_other", space_id=space_id))

        # Its own update, read with the write's position (what the gateway sends) and without.
        updated = await _rename(app, who, space_id, "2")
        read = GetSpace(environment_id=who.environment_id, space_id=space_id, min_position=updated.position)
        assert (await app.spaces.get(read)).name == "2"
        assert (await app.spaces.get(query)).name == "2"

        # Another service's event (a workbook created in the space) moves its counts.
        env_id = who.environment_id
        ref = AggregateRef(environment_id=env_id, space_id=space_id, aggregate="workbook", aggregate_id="us_wb_c1")
        created = WorkbookCreated(workbook_id="us_wb_c1", space_id=space_id, environment_id=env_id, name="w")
        appended = await rt.store.append(ref, [created], expected_version=0)
        await rt.wait_for(appended.last_seq)
        again = await app.spaces.get(query)
        assert again.workbooks_count == first.workbooks_count + 1
        assert again.last_activity_at is not None and again.last_activity_at > first.last_activity_at  # type: ignore[operator]
        assert await app.spaces.get(query) == again
    finally:
        await rt.stop()


async def test_a_standby_replica_reads_the_read_model_and_caches_once_it_projects(settings: Settings) -> None:
    active, active_app = await _started(settings)
    standby, active_stopped = None, False
    try:
        await _holding(active, settings)
        who, space_id = await _space(active_app)
        standby, standby_app = await _started(settings)
        assert not _runner(standby, settings).holding
        query = GetSpace(environment_id=who.environment_id, space_id=space_id)
        assert (await standby_app.spaces.get(query)).name == "first"
        assert len(_cache(standby_app)) == 0  # it does not project: nothing kept
        updated = await _rename(active_app, who, space_id, "b")
        read = GetSpace(environment_id=who.environment_id, space_id=space_id, min_position=updated.position)
        assert (await standby_app.spaces.get(read)).name == "b"
        assert (await standby_app.spaces.get(query)).name == "b"

        await active.stop()  # the standby takes the lease over and may cache from then on
        active_stopped = True
        await _holding(standby, settings)
        assert (await standby_app.spaces.get(query)).name == "b"
        assert (await standby_app.spaces.get(query)).name == "b"
        assert len(_cache(standby_app)) == 1
        renamed = await _rename(standby_app, who, space_id, "c")
        await standby_app.caught_up(renamed.position)
        assert (await standby_app.spaces.get(query)).name == "c"
    finally:
        if not active_stopped:
            await active.stop()
        if standby is not None:
            await standby.stop()
