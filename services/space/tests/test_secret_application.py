"""Secrets through `SpaceApplication` on fakes (unit), and their read model on Postgres.

Upserts by (name, scope) on one derived aggregate, overrides by scope, refusals, the 503 without a
key, and that neither the event log nor the read model ever holds a value in clear text.
"""

from __future__ import annotations

import asyncio
import base64

import asyncpg
import msgspec
import pytest

from space_service.application import secretbox
from space_service.application.secretbox import SecretBox
from space_service.application.secrets import SECRETS, ref
from space_service.domain import secret as domain
from space_service.projections.directory import SpaceDirectory
from space_service.projections.queries import DirectoryQueries
from space_service.testing import World, world
from space_service.testing.directory import FoldedDirectory
from spaceport import readmodel
from spaceport.contracts.space import (
    Authenticate,
    ChangeSpaceLifecycle,
    CreateEnvironment,
    CreateSpace,
    DeleteSecret,
    ListSecrets,
    Principal,
    SecretCreated,
    SecretDeleted,
    SecretUpdated,
    SpaceFields,
    UpsertSecret,
)
from spaceport.errors import ForbiddenError, NotFoundError, ServiceUnavailableError, ValidationFailedError
from spaceport.ports import AggregateRef
from spaceport.settings import Settings
from spaceport.testing import scratch
from spaceport.testing.infra import InfraUrls

PLAIN = "Sup3r-secret-value-that-must-not-leak"


async def environment(w: World, name: str = "dev") -> tuple[str, Principal]:
    reply = await w.app.environments.create(CreateEnvironment(name=name))
    who = await w.app.auth.authenticate(Authenticate(token=reply.secret_key or ""))
    return reply.environment.id, who


async def space(w: World, env: str, who: Principal) -> str:
    written = await w.app.spaces.create(CreateSpace(principal=who, environment_id=env, fields=SpaceFields(name="S")))
    return written.space_id


def upsert(who: Principal, name: str, value: str, **scope: str | None) -> UpsertSecret:
    return UpsertSecret(principal=who, environment_id=who.environment_id, name=name, value=value, **scope)


async def listed(w: World, who: Principal, **scope: str | None) -> dict[str, str]:
    found = await w.app.secrets.list_secrets(ListSecrets(principal=who, environment_id=who.environment_id, **scope))  # type: ignore[arg-type]
    return {s.name: s.value for s in found}


# ---- domain ------------------------------------------------------------------------------


@pytest.mark.unit
def test_the_first_upsert_creates_and_later_ones_update() -> None:
    scope = domain.Scope(environment_id="us_env_a")
    sid = domain.secret_id(scope, "API_KEY")
    created = domain.upsert(domain.initial(), sid, scope, "API_KEY", "c1")
    assert [type(e) for e in created] == [SecretCreated]
    state = domain.evolve(domain.initial(), created[0])
    assert [type(e) for e in domain.upsert(state, sid, scope, "API_KEY", "c2")] == [SecretUpdated]
    gone = domain.evolve(state, domain.delete(state, sid, "us_env_a")[0])
    assert [type(e) for e in domain.upsert(gone, sid, scope, "API_KEY", "c3")] == [SecretCreated]
    with pytest.raises(NotFoundError):
        domain.delete(gone, sid, "us_env_a")
    with pytest.raises(NotFoundError):
        domain.delete(state, sid, "us_env_other")


@pytest.mark.unit
def test_ids_derive_from_scope_and_name() -> None:
    env = domain.Scope(environment_id="us_env_a")
    in_space = domain.Scope(environment_id="us_env_a", space_id="us_sp_b")
    assert domain.secret_id(env, "X") == domain.secret_id(env, "X")
    assert len({domain.secret_id(env, "X"), domain.secret_id(env, "x"), domain.secret_id(in_space, "X")}) == 3
    assert domain.secret_id(env, "X").startswith("us_sec_")


@pytest.mark.unit
@pytest.mark.parametrize("name", ["", "a b", "x" * 256, "naïve", "a/b"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationFailedError):
        domain.check_name(name)


@pytest.mark.unit
def test_the_box_seals_with_a_fresh_nonce_and_binds_the_secret_id() -> None:
    box = SecretBox(bytes(32))
    one, two = box.seal(PLAIN, "us_sec_a"), box.seal(PLAIN, "us_sec_a")
    assert one != two and PLAIN not in one
    assert box.open(one, "us_sec_a") == PLAIN
    with pytest.raises(ServiceUnavailableError):
        box.open(one, "us_sec_b")
    with pytest.raises(ServiceUnavailableError):
        SecretBox(bytes([1] * 32)).open(one, "us_sec_a")


@pytest.mark.unit
def test_the_key_comes_from_settings_or_the_dev_key() -> None:
    key = bytes(range(32))
    assert secretbox.key_of(Settings(secrets_key=base64.b64encode(key).decode())) == key
    derived = secretbox.key_of(Settings(dev_secret_key="sk_dev"))
    assert derived is not None and len(derived) == 32 and derived == secretbox.key_of(Settings(dev_secret_key="sk_dev"))
    assert secretbox.key_of(Settings()) is None
    with pytest.raises(ValueError, match="32 bytes"):
        secretbox.key_of(Settings(secrets_key=base64.b64encode(b"short").decode()))


# ---- application ---------------------------------------------------------------------------


@pytest.mark.unit
async def test_upsert_creates_then_updates_one_aggregate() -> None:
    w = world()
    env, who = await environment(w)
    first = await w.app.secrets.upsert(upsert(who, "API_KEY", "one"))
    second = await w.app.secrets.upsert(upsert(who, "API_KEY", "two"))
    assert first.secret is not None and second.secret is not None
    assert first.secret.id == second.secret.id and first.secret.id.startswith("us_sec_")
    assert (second.secret.value, second.secret.environment_id, second.secret.space_id) == ("two", env, None)
    assert [type(e) for e in await w.events("secret")] == [SecretCreated, SecretUpdated]
    assert await listed(w, who) == {"API_KEY": "two"}


@pytest.mark.unit
async def test_space_and_actor_secrets_override_the_environments() -> None:
    w = world()
    env, who = await environment(w)
    sp = await space(w, env, who)
    await w.app.secrets.upsert(upsert(who, "A", "env"))
    await w.app.secrets.upsert(upsert(who, "B", "env-b"))
    await w.app.secrets.upsert(upsert(who, "A", "space", space_id=sp))
    await w.app.secrets.upsert(upsert(who, "A", "actor", actor_id="us_usr_1"))
    await w.app.secrets.upsert(upsert(who, "C", "space-only", space_id=sp))
    assert await listed(w, who) == {"A": "env", "B": "env-b"}
    assert await listed(w, who, space_id=sp) == {"A": "space", "B": "env-b", "C": "space-only"}
    assert await listed(w, who, actor_id="us_usr_1") == {"A": "actor", "B": "env-b"}
    assert await listed(w, who, space_id=sp, actor_id="us_usr_1") == {"A": "actor", "B": "env-b", "C": "space-only"}
    assert await listed(w, who, actor_id="us_usr_2") == {"A": "env", "B": "env-b"}


@pytest.mark.unit
async def test_concurrent_first_upserts_make_one_secret() -> None:
    w = world()
    _, who = await environment(w)
    await asyncio.gather(
        *(w.app.secrets.upsert(upsert(who, "RACE", f"v{i}")) for i in range(5))
    )  # within the retry budget (5 attempts)
    events = await w.events("secret")
    assert [type(e) for e in events] == [SecretCreated] + [SecretUpdated] * 4
    assert len({e.secret_id for e in events if isinstance(e, SecretCreated | SecretUpdated)}) == 1
    assert len(await listed(w, who)) == 1


@pytest.mark.unit
async def test_delete_then_recreate() -> None:
    w = world()
    _, who = await environment(w)
    written = await w.app.secrets.upsert(upsert(who, "GONE", "x"))
    assert written.secret is not None
    sid = written.secret.id
    await w.app.secrets.delete(DeleteSecret(principal=who, environment_id=who.environment_id, secret_id=sid))
    assert await listed(w, who) == {}
    with pytest.raises(NotFoundError):
        await w.app.secrets.delete(DeleteSecret(principal=who, environment_id=who.environment_id, secret_id=sid))
    again = await w.app.secrets.upsert(upsert(who, "GONE", "y"))
    assert again.secret is not None and again.secret.id == sid
    assert [type(e) for e in await w.events("secret")] == [SecretCreated, SecretDeleted, SecretCreated]
    assert await listed(w, who) == {"GONE": "y"}


@pytest.mark.unit
async def test_refusals() -> None:
    w = world()
    env, who = await environment(w)
    other_env, other = await environment(w, "other")
    other_space = await space(w, other_env, other)
    publishable = Principal(environment_id=env, kind="publishable", actor="us_key_p")
    guest = Principal(environment_id=env, kind="guest", actor="us_g_1", space_id="us_sp_x", role="admin")
    for caller in (publishable, guest):
        with pytest.raises(ForbiddenError):
            await w.app.secrets.upsert(upsert(caller, "A", "v"))
        with pytest.raises(ForbiddenError):
            await w.app.secrets.list_secrets(ListSecrets(principal=caller, environment_id=env))
    with pytest.raises(NotFoundError):
        await w.app.secrets.upsert(UpsertSecret(principal=who, environment_id=other_env, name="A", value="v"))
    with pytest.raises(NotFoundError):  # a space of another environment
        await w.app.secrets.upsert(upsert(who, "A", "v", space_id=other_space))
    with pytest.raises(NotFoundError):
        await w.app.secrets.list_secrets(ListSecrets(principal=who, environment_id=env, space_id=other_space))
    with pytest.raises(NotFoundError):
        await w.app.secrets.upsert(upsert(who, "A", "v", space_id="us_sp_nothere"))
    with pytest.raises(ValidationFailedError):
        await w.app.secrets.upsert(upsert(who, "bad name", "v"))
    with pytest.raises(ValidationFailedError):
        await w.app.secrets.upsert(upsert(who, "BIG", "x" * (64 * 1024 + 1)))
    with pytest.raises(ValidationFailedError):
        await w.app.secrets.upsert(upsert(who, "A", "v", actor_id="not an id"))
    theirs = await w.app.secrets.upsert(upsert(other, "THEIRS", "v"))
    assert theirs.secret is not None
    with pytest.raises(NotFoundError):  # another environment's secret is not found
        await w.app.secrets.delete(DeleteSecret(principal=who, environment_id=env, secret_id=theirs.secret.id))
    with pytest.raises(NotFoundError):
        await w.app.secrets.delete(DeleteSecret(principal=who, environment_id=env, secret_id="us_sec_nothere"))
    assert [e.secret_id for e in await w.events("secret") if isinstance(e, SecretCreated)] == [theirs.secret.id]


@pytest.mark.unit
async def test_an_archived_space_keeps_its_secrets() -> None:
    w = world()
    env, who = await environment(w)
    sp = await space(w, env, who)
    await w.app.spaces.change_lifecycle(
        ChangeSpaceLifecycle(principal=who, environment_id=env, space_ids=[sp], transition="archive")
    )
    await w.app.secrets.upsert(upsert(who, "A", "v", space_id=sp))
    assert await listed(w, who, space_id=sp) == {"A": "v"}


@pytest.mark.unit
async def test_without_a_key_writes_answer_503_and_nothing_is_written() -> None:
    w = world(secrets_key=None)
    _, who = await environment(w)
    with pytest.raises(ServiceUnavailableError, match="SPACEPORT_SECRETS_KEY"):
        await w.app.secrets.upsert(upsert(who, "A", "v"))
    assert await w.events("secret") == []
    assert await listed(w, who) == {}


@pytest.mark.unit
async def test_the_event_log_holds_no_plaintext() -> None:
    w = world()
    _, who = await environment(w)
    await w.app.secrets.upsert(upsert(who, "TOKEN", PLAIN))
    await w.app.secrets.upsert(upsert(who, "TOKEN", PLAIN + "-2"))
    raw = [m.data async for m in w.store.read_raw(f"{w.store.prefix}.>")]
    assert raw and not any(PLAIN.encode() in data for data in raw)
    events = await w.events("secret")
    assert all(PLAIN not in msgspec.json.encode(e).decode() for e in events)
    assert SECRETS.fold(await w.store.load(_ref(events[0]))).live


def _ref(event: object) -> AggregateRef:
    assert isinstance(event, SecretCreated)
    scope = domain.Scope(environment_id=event.environment_id, space_id=event.space_id, actor_id=event.actor_id)
    return ref(scope, event.secret_id)


# ---- read model on Postgres ------------------------------------------------------------------


async def test_the_read_model_holds_only_ciphertext_and_answers_as_the_fake(infra: InfraUrls, unique_name: str) -> None:
    w = world()
    env, who = await environment(w)
    sp = await space(w, env, who)
    other_env, other = await environment(w, "other")
    await w.app.secrets.upsert(upsert(who, "A", PLAIN))
    await w.app.secrets.upsert(upsert(who, "A", PLAIN + "-again"))
    await w.app.secrets.upsert(upsert(who, "A", PLAIN + "-space", space_id=sp))
    await w.app.secrets.upsert(upsert(who, "B", PLAIN + "-actor", actor_id="us_usr_1"))
    gone = await w.app.secrets.upsert(upsert(who, "GONE", PLAIN))
    assert gone.secret is not None
    await w.app.secrets.delete(DeleteSecret(principal=who, environment_id=env, secret_id=gone.secret.id))
    await w.app.secrets.upsert(upsert(other, "A", PLAIN))
    pool: asyncpg.Pool = await readmodel.create_pool(infra.database_url, unique_name)
    try:
        async with pool.acquire() as conn:
            await scratch.project(conn, w.store, SpaceDirectory(w.store.prefix, name=unique_name), unique_name)
            dumped = await conn.fetch("SELECT * FROM secret")
        assert len(dumped) == 4
        assert not any(PLAIN in str(value) for row in dumped for value in row.values())
        real, fake = DirectoryQueries(lambda: pool), FoldedDirectory(w.store)
        for scope in ((None, None), (sp, None), (None, "us_usr_1"), (sp, "us_usr_1")):
            assert await real.secrets(env, *scope) == await fake.secrets(env, *scope)
        assert await real.secret(env, gone.secret.id) is None
        assert await real.secret(other_env, gone.secret.id) is None
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {unique_name} CASCADE")
        await pool.close()
