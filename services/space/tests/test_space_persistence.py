"""Space state survives a restart of the service and a rebuild from the event log equals the live read model.

The service runs in-process on its own stream, subject prefix, command prefix and schema, so the
session's platform is untouched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from space_service.application.app import SpaceApplication
from space_service.bootstrap import build
from spaceport.contracts.space import (
    ChangeSpaceLifecycle,
    CreateDocument,
    CreateEnvironment,
    CreateSpace,
    DeleteGuest,
    GetSpace,
    GuestGrant,
    GuestSpec,
    InviteGuests,
    ListSpaces,
    Principal,
    RotateKeys,
    SpaceFields,
    SpacePage,
    UpdateSpace,
)
from spaceport.contracts.workbook import WorkbookCreated, WorkbookDeleted, WorkbookUpdated
from spaceport.eventstore import AggregateRef
from spaceport.runtime import ServiceRuntime
from spaceport.settings import Settings
from spaceport.testing.infra import InfraUrls

TABLES = {
    "environment": "id",
    "api_key": "key_id",
    "space": "id",
    "document": "id",
    "guest": "id",
    "guest_space": "guest_id, space_id",
    "projection_failure": "name, position",
}


@pytest.fixture
def settings(infra: InfraUrls, unique_name: str) -> Settings:
    return Settings(
        service_name=unique_name,  # also the schema and the projection's name
        nats_url=infra.nats_url,
        database_url=infra.database_url,
        event_stream=f"T_{unique_name.upper()}",
        event_prefix=f"e{unique_name}",
        command_prefix=f"c{unique_name}",
        otel_exporter="none",
        dev_secret_key="sk_dev_" + unique_name,
    )


@pytest.fixture
async def db(infra: InfraUrls) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(infra.database_url)
    yield conn
    await conn.close()


async def _started(settings: Settings) -> tuple[ServiceRuntime, SpaceApplication]:
    rt, handlers = build(settings)
    await rt.start()
    return rt, handlers


async def _populate(rt: ServiceRuntime, handlers: SpaceApplication) -> tuple[str, list[str]]:
    env = await handlers.create_environment(CreateEnvironment(name="persist", metadata={"a": 1}))
    env_id = env.environment.id
    who = Principal(environment_id=env_id, kind="secret", actor="us_key_test")
    spaces = []
    for index in range(3):
        fields = SpaceFields(name=f"space {index}", namespace="ns", labels=[str(index)], metadata={"theme": {}})
        written = await handlers.spaces.create(CreateSpace(principal=who, environment_id=env_id, fields=fields))
        spaces.append(written.space_id)
    await handlers.spaces.update(
        UpdateSpace(principal=who, environment_id=env_id, space_id=spaces[0], fields=SpaceFields(name="renamed"))
    )
    await handlers.spaces.change_lifecycle(
        ChangeSpaceLifecycle(principal=who, environment_id=env_id, space_ids=[spaces[1]], transition="archive")
    )
    await handlers.spaces.change_lifecycle(
        ChangeSpaceLifecycle(principal=who, environment_id=env_id, space_ids=[spaces[2]], transition="delete")
    )
    await handlers.documents.create(
        CreateDocument(principal=who, environment_id=env_id, space_id=spaces[0], title="Doc", body="# body")
    )
    grant = GuestGrant(space_id=spaces[0], role="viewer")
    invited = await handlers.guests.invite(
        InviteGuests(
            principal=who,
            environment_id=env_id,
            guests=[
                GuestSpec(email="a@example.com", name="A", spaces=[grant]),
                GuestSpec(email="b@example.com", name="B", spaces=[grant]),
            ],
        )
    )
    await handlers.guests.delete(DeleteGuest(principal=who, environment_id=env_id, guest_id=invited.guest_ids[1]))
    await _workbook_events(rt, env_id, spaces[0])
    rotated = await handlers.environments.rotate(RotateKeys(actor="us_key_test", environment_id=env_id))
    await rt.wait_for(rotated.position)
    return env_id, spaces


async def _workbook_events(rt: ServiceRuntime, env_id: str, space_id: str) -> None:
    """What the workbook service would append: two workbooks created, one renamed, one deleted."""
    for workbook_id in ("us_wb_persist1", "us_wb_persist2"):
        ref = AggregateRef(environment_id=env_id, space_id=space_id, aggregate="workbook", aggregate_id=workbook_id)
        created = WorkbookCreated(workbook_id=workbook_id, space_id=space_id, environment_id=env_id, name="wb")
        await rt.store.append(ref, [created], expected_version=0)
    await rt.store.append(
        ref,
        [WorkbookUpdated(workbook_id="us_wb_persist2", name="x"), WorkbookDeleted(workbook_id="us_wb_persist2")],
        expected_version=None,
    )


async def _snapshot(db: asyncpg.Connection, schema: str) -> dict[str, list[tuple[object, ...]]]:
    return {
        table: [tuple(r) for r in await db.fetch(f'SELECT * FROM "{schema}".{table} ORDER BY {order}')]
        for table, order in TABLES.items()
    }


async def test_spaces_survive_a_restart(settings: Settings) -> None:
    rt, handlers = await _started(settings)
    try:
        env_id, spaces = await _populate(rt, handlers)
        query = ListSpaces(environment_id=env_id, page_size=100, archived=None)
        before: SpacePage = await handlers.spaces.list_spaces(query)
        first = await handlers.spaces.get(GetSpace(environment_id=env_id, space_id=spaces[0]))
    finally:
        await rt.stop()
    rt, handlers = await _started(settings)
    try:
        assert await handlers.spaces.list_spaces(query) == before
        assert await handlers.spaces.get(GetSpace(environment_id=env_id, space_id=spaces[0])) == first
        assert first.name == "renamed"
        assert first.workbooks_count == 1  # two created, one deleted
        assert first.last_activity_at is not None and first.last_activity_at > first.created_at
        assert [s.id for s in before.data] == [spaces[0]]  # 1 archived, 2 deleted
        archived = await handlers.spaces.list_spaces(ListSpaces(environment_id=env_id, archived=True))
        assert [s.id for s in archived.data] == [spaces[1]]
    finally:
        await rt.stop()


async def test_a_rebuild_from_the_event_log_equals_the_live_read_model(
    settings: Settings, db: asyncpg.Connection
) -> None:
    rt, handlers = await _started(settings)
    try:
        await _populate(rt, handlers)
        runner = rt.runner(settings.service_name)
        shadow = await runner.rebuild(swap=False)
        live = await _snapshot(db, settings.service_name)
        rebuilt = await _snapshot(db, shadow)
    finally:
        await rt.stop()
    assert live["space"] and live["document"] and live["guest"] and live["api_key"]
    assert live["projection_failure"] == []
    assert rebuilt == live
