"""Apps and their stored constraints: the pure rules, then `SpaceApplication` on fakes (unit).

Creation checks (name, type, limits, blueprint decoded as workbook configs with the path of what
is wrong), stored constraints that must name one of the app's validators, unique validators,
versions on every constraint update, and environments that never see each other's apps.
"""

from __future__ import annotations

from typing import Any

import pytest

from space_service.domain import app as domain
from space_service.testing import World, world
from spaceport.contracts.space import (
    AppCreated,
    AppFields,
    AppUpdated,
    Authenticate,
    ConstraintCreated,
    ConstraintDeleted,
    ConstraintFields,
    ConstraintUpdated,
    CreateApp,
    CreateConstraint,
    CreateEnvironment,
    DeleteApp,
    DeleteConstraint,
    GetApp,
    GetConstraint,
    GetConstraintVersion,
    ListApps,
    ListConstraints,
    ListConstraintVersions,
    Principal,
    UpdateApp,
    UpdateConstraint,
)
from spaceport.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
    ValidationFailedError,
)

pytestmark = pytest.mark.unit

APP = "us_app_1"


def sheet(*constraints: dict[str, Any], name: str = "Contacts") -> dict[str, Any]:
    field = {"key": "phone", "type": "string", "constraints": list(constraints)}
    return {"name": name, "fields": [field]}


def stored(validator: str) -> dict[str, Any]:
    return {"type": "stored", "validator": validator}


def created(**fields: Any) -> domain.AppState:
    event = domain.create(
        domain.initial(),
        APP,
        environment_id="us_env_1",
        app_type="CUSTOM",
        fields=AppFields(name="Loads", **fields),
        created_by="us_key_1",
    )
    return fold(domain.initial(), event)


def fold(state: domain.AppState, events: list[Any]) -> domain.AppState:
    for event in events:
        state = domain.evolve(state, event)
    return state


def with_constraint(state: domain.AppState, validator: str, constraint_id: str = "us_cn_1") -> domain.AppState:
    return fold(state, domain.create_constraint(state, APP, constraint_id, ConstraintFields(validator=validator)))


# ---- pure rules ---------------------------------------------------------------------------


def test_create_fills_namespace_and_normalises_the_blueprint() -> None:
    [event] = domain.create(
        domain.initial(),
        APP,
        environment_id="us_env_1",
        app_type="PORTAL",
        fields=AppFields(name="Nightly Loads", blueprint=[{"name": "WB", "sheets": [sheet(name="My Contacts")]}]),
        created_by="us_key_1",
    )
    assert isinstance(event, AppCreated)
    assert (event.namespace, event.app_type, event.entity) == ("nightly-loads", "PORTAL", "")
    assert event.blueprint is not None
    assert event.blueprint[0]["sheets"][0]["slug"] == "my-contacts"


@pytest.mark.parametrize(
    ("fields", "app_type", "key"),
    [
        (AppFields(), "CUSTOM", "name"),
        (AppFields(name="  "), "CUSTOM", "name"),
        (AppFields(name="a"), "BOGUS", "type"),
        (AppFields(name="a", namespace="n" * 256), "CUSTOM", "namespace"),
        (AppFields(name="a", entity="e" * 256), "CUSTOM", "entity"),
        (AppFields(name="a", entity_plural="e" * 256), "CUSTOM", "entityPlural"),
        (AppFields(name="a", icon="<svg>" * 20000), "CUSTOM", "icon"),
        (AppFields(name="a", metadata={"x": "y" * 70000}), "CUSTOM", "metadata"),
    ],
)
def test_create_refuses_bad_fields(fields: AppFields, app_type: str, key: str) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        domain.create(
            domain.initial(), APP, environment_id="us_env_1", app_type=app_type, fields=fields, created_by="k"
        )
    assert refused.value.key == key


@pytest.mark.parametrize(
    ("blueprint", "key"),
    [
        ([{"sheets": []}], "blueprint[0].name"),
        ([{"name": "WB"}], "blueprint[0].sheets"),
        ([{"name": "WB", "sheets": "no"}], "blueprint[0].sheets"),
        (
            [{"name": "WB", "sheets": [{"name": "S", "fields": [{"key": "k", "type": "colour"}]}]}],
            "blueprint[0].sheets[0].fields[0].type",
        ),
        ([{"name": "WB", "sheets": [sheet(), sheet()]}], "blueprint[0].sheets.slug"),
        ([{"name": "WB", "sheets": [{"name": "", "fields": []}]}], "blueprint[0].sheets[0].name"),
        (
            [{"name": "WB", "sheets": [sheet(stored("UsPhone"))]}],
            "blueprint[0].sheets[0].fields[0].constraints[0].validator",
        ),
        ([{"name": "WB", "sheets": []}, {"name": " ", "sheets": []}], "blueprint[1].name"),
    ],
)
def test_a_bad_blueprint_is_refused_naming_its_path(blueprint: list[dict[str, Any]], key: str) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        domain.blueprint(blueprint, set())
    assert refused.value.key == key


def test_a_huge_blueprint_is_too_large() -> None:
    sheets = [sheet(name=f"S{i}") | {"description": "d" * 10_000} for i in range(60)]
    with pytest.raises(PayloadTooLargeError):
        domain.blueprint([{"name": "WB", "sheets": sheets}], set())


def test_stored_constraints_must_name_one_of_the_apps_validators() -> None:
    state = created()
    bad = AppFields(blueprint=[{"name": "WB", "sheets": [sheet(stored("UsPhone"))]}])
    with pytest.raises(ValidationFailedError):
        domain.update(state, APP, bad)
    state = with_constraint(state, "UsPhone")
    [event] = domain.update(state, APP, bad)
    assert isinstance(event, AppUpdated) and event.blueprint is not None
    state = fold(state, [event])
    with pytest.raises(ConflictError):  # still used by the blueprint
        domain.delete_constraint(state, APP, "us_cn_1")
    state = fold(state, domain.update(state, APP, AppFields(blueprint=[])))
    assert isinstance(domain.delete_constraint(state, APP, "us_cn_1")[0], ConstraintDeleted)


def test_validators_are_unique_per_app_and_required() -> None:
    state = with_constraint(created(), "UsPhone")
    with pytest.raises(ConflictError):
        domain.create_constraint(state, APP, "us_cn_2", ConstraintFields(validator="UsPhone"))
    for bad in (None, "", "has space", "v" * 256):
        with pytest.raises(ValidationFailedError):
            domain.create_constraint(state, APP, "us_cn_2", ConstraintFields(validator=bad))


def test_a_constraint_update_is_a_new_version_carrying_unset_fields() -> None:
    state = fold(
        created(),
        domain.create_constraint(created(), APP, "us_cn_1", ConstraintFields(validator="V", label="L", function="f1")),
    )
    [event] = domain.update_constraint(state, APP, "us_cn_1", ConstraintFields(function="f2"))
    assert isinstance(event, ConstraintUpdated)
    assert (event.version, event.label, event.function) == (2, "L", "f2")
    state = fold(state, [event])
    [again] = domain.update_constraint(state, APP, "us_cn_1", ConstraintFields(description="d"))
    assert isinstance(again, ConstraintUpdated) and again.version == 3
    with pytest.raises(ValidationFailedError):
        domain.update_constraint(state, APP, "us_cn_1", ConstraintFields(validator="Other"))
    with pytest.raises(NotFoundError):
        domain.update_constraint(state, APP, "us_cn_9", ConstraintFields(label="x"))


def test_a_deleted_app_is_not_found_and_an_empty_update_changes_nothing() -> None:
    state = created()
    assert domain.update(state, APP, AppFields()) == []
    state = fold(state, domain.delete(state, APP))
    with pytest.raises(NotFoundError):
        domain.delete(state, APP)
    with pytest.raises(NotFoundError):
        domain.update(state, APP, AppFields(name="x"))
    with pytest.raises(NotFoundError):
        domain.create_constraint(state, APP, "us_cn_1", ConstraintFields(validator="V"))
    with pytest.raises(NotFoundError):  # never created
        domain.delete(domain.initial(), APP)


# ---- through the application ------------------------------------------------------------


async def environment(w: World, name: str = "dev") -> Principal:
    reply = await w.app.environments.create(CreateEnvironment(name=name))
    return await w.app.auth.authenticate(Authenticate(token=reply.secret_key or ""))


async def new_app(w: World, who: Principal, **fields: Any) -> str:
    cmd = CreateApp(
        principal=who, environment_id=who.environment_id, type="CUSTOM", fields=AppFields(name="A", **fields)
    )
    return (await w.app.apps.create(cmd)).app_id


async def test_apps_are_created_read_updated_and_deleted_in_their_environment() -> None:
    w = world()
    who = await environment(w)
    app_id = await new_app(w, who, namespace="nightly", environment_filters={"type": ["PROD"]})
    view = await w.app.apps.get(GetApp(environment_id=who.environment_id, app_id=app_id))
    assert (view.name, view.namespace, view.environment_filters) == ("A", "nightly", {"type": ["PROD"]})
    update = UpdateApp(
        principal=who, environment_id=who.environment_id, app_id=app_id, fields=AppFields(name="B", entity="Sync")
    )
    await w.app.apps.update(update)
    [listed] = await w.app.apps.list_apps(ListApps(environment_id=who.environment_id))
    assert (listed.id, listed.name, listed.entity, listed.namespace) == (app_id, "B", "Sync", "nightly")
    await w.app.apps.delete(DeleteApp(principal=who, environment_id=who.environment_id, app_id=app_id))
    assert await w.app.apps.list_apps(ListApps(environment_id=who.environment_id)) == []
    with pytest.raises(NotFoundError):
        await w.app.apps.get(GetApp(environment_id=who.environment_id, app_id=app_id))
    with pytest.raises(NotFoundError):
        await w.app.apps.delete(DeleteApp(principal=who, environment_id=who.environment_id, app_id=app_id))


async def test_another_environment_never_finds_an_app_and_only_secret_keys_write() -> None:
    w = world()
    who, other = await environment(w, "a"), await environment(w, "b")
    app_id = await new_app(w, who)
    with pytest.raises(NotFoundError):
        await w.app.apps.get(GetApp(environment_id=other.environment_id, app_id=app_id))
    with pytest.raises(NotFoundError):
        await w.app.apps.update(
            UpdateApp(principal=other, environment_id=other.environment_id, app_id=app_id, fields=AppFields(name="x"))
        )
    with pytest.raises(NotFoundError):
        await w.app.apps.list_constraints(ListConstraints(environment_id=other.environment_id, app_id=app_id))
    with pytest.raises(NotFoundError):  # a caller naming an environment not its own
        await w.app.apps.delete(DeleteApp(principal=other, environment_id=who.environment_id, app_id=app_id))
    guest = Principal(environment_id=who.environment_id, kind="guest", actor="us_g_1", space_id="us_sp_1", role="admin")
    with pytest.raises(ForbiddenError):
        await w.app.apps.delete(DeleteApp(principal=guest, environment_id=who.environment_id, app_id=app_id))
    with pytest.raises(NotFoundError):  # not even an app id
        await w.app.apps.get(GetApp(environment_id=who.environment_id, app_id="../etc"))
    assert [a.id for a in await w.app.apps.list_apps(ListApps(environment_id=who.environment_id))] == [app_id]
    assert await w.app.apps.list_apps(ListApps(environment_id=other.environment_id)) == []


async def test_constraints_keep_every_version() -> None:
    w = world()
    who = await environment(w)
    env = who.environment_id
    app_id = await new_app(w, who)
    fields = ConstraintFields(validator="UsPhone", label="US phone", options={"allowEmpty": False})
    written = await w.app.apps.create_constraint(
        CreateConstraint(principal=who, environment_id=env, app_id=app_id, fields=fields)
    )
    cn = written.constraint_id
    await w.app.apps.update_constraint(
        UpdateConstraint(
            principal=who, environment_id=env, app_id=app_id, constraint_id=cn, fields=ConstraintFields(label="v2")
        )
    )
    got = await w.app.apps.get_constraint(GetConstraint(environment_id=env, app_id=app_id, constraint_id=cn))
    assert (got.version, got.label, got.options, got.validator) == (2, "v2", {"allowEmpty": False}, "UsPhone")
    versions = await w.app.apps.list_versions(
        ListConstraintVersions(environment_id=env, app_id=app_id, constraint_id=cn)
    )
    assert [(v.version, v.label) for v in versions.data] == [(1, "US phone"), (2, "v2")]
    first = await w.app.apps.get_version(
        GetConstraintVersion(environment_id=env, app_id=app_id, constraint_id=cn, version=1)
    )
    assert first.label == "US phone"
    with pytest.raises(NotFoundError):
        await w.app.apps.get_version(
            GetConstraintVersion(environment_id=env, app_id=app_id, constraint_id=cn, version=3)
        )
    with pytest.raises(ConflictError):
        await w.app.apps.create_constraint(
            CreateConstraint(
                principal=who, environment_id=env, app_id=app_id, fields=ConstraintFields(validator="UsPhone")
            )
        )
    blueprint = [{"name": "WB", "sheets": [sheet(stored("UsPhone"))]}]
    await w.app.apps.update(
        UpdateApp(principal=who, environment_id=env, app_id=app_id, fields=AppFields(blueprint=blueprint))
    )
    assert (await w.app.apps.get(GetApp(environment_id=env, app_id=app_id))).blueprint == [
        {"name": "WB", "sheets": [sheet(stored("UsPhone")) | {"slug": "contacts"}]}
    ]
    await w.app.apps.update(UpdateApp(principal=who, environment_id=env, app_id=app_id, fields=AppFields(blueprint=[])))
    await w.app.apps.delete_constraint(
        DeleteConstraint(principal=who, environment_id=env, app_id=app_id, constraint_id=cn)
    )
    assert (await w.app.apps.list_constraints(ListConstraints(environment_id=env, app_id=app_id))).data == []
    with pytest.raises(NotFoundError):
        await w.app.apps.list_versions(ListConstraintVersions(environment_id=env, app_id=app_id, constraint_id=cn))
    kinds = [type(e) for e in await w.events("app")]
    assert kinds == [AppCreated, ConstraintCreated, ConstraintUpdated, AppUpdated, AppUpdated, ConstraintDeleted]
