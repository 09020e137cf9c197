"""Spaces of apps and spaces copied from templates: the merge rules (pure) and `SpaceCreation` on fakes.

The fakes: the in-memory event store, the folded read model and `FakeWorkbooks` for the
workbook service (which can be told to refuse a workbook, to drive the undo path).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from space_service.application.app import SpaceApplication
from space_service.application.templates import SpaceCreation
from space_service.domain import template
from space_service.testing import REGISTRY, TOKENS, Broadcasts
from space_service.testing.directory import FoldedDirectory
from space_service.testing.workbooks import FakeWorkbooks
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.space import (
    AppFields,
    AppView,
    Authenticate,
    CreateApp,
    CreateDocument,
    CreateEnvironment,
    CreateSpace,
    DeleteApp,
    GetApp,
    ListDocuments,
    ListSpaces,
    Principal,
    SpaceCreated,
    SpaceDeleted,
    SpaceFields,
    SpaceView,
    UpdateSpace,
)
from spaceport.contracts.workbook import CreateWorkbook, WorkbookView
from spaceport.errors import ConflictError, NotFoundError, ServiceUnavailableError, ValidationFailedError
from spaceport.events import Event
from spaceport.memstore import InMemoryEventStore

pytestmark = pytest.mark.unit

CONTACTS: dict[str, Any] = {
    "name": "Contacts",
    "slug": "contacts",
    "fields": [{"key": "email", "type": "string", "label": "Email"}, {"key": "age", "type": "number"}],
}
BLUEPRINT: list[dict[str, Any]] = [
    {"name": "CRM", "labels": ["crm"], "metadata": {"v": 1}, "sheets": [CONTACTS]},
    {"name": "Extra", "sheets": []},
]


# ---- merge rules (pure) ------------------------------------------------------------------


def test_deep_merge_lets_the_request_win_per_key_and_merges_nested_objects() -> None:
    base = {"theme": {"root": {"primaryColor": "red", "font": "x"}, "logo": "a.png"}, "keep": 1, "list": [1, 2]}
    over = {"theme": {"root": {"primaryColor": "blue"}}, "list": [3], "new": {"a": 1}}
    merged = template.deep_merge(base, over)
    assert merged == {
        "theme": {"root": {"primaryColor": "blue", "font": "x"}, "logo": "a.png"},
        "keep": 1,
        "list": [3],
        "new": {"a": 1},
    }
    assert base["theme"] == {"root": {"primaryColor": "red", "font": "x"}, "logo": "a.png"}  # inputs untouched


def test_deep_merge_replaces_an_object_with_a_scalar_and_back() -> None:
    assert template.deep_merge({"a": {"b": 1}}, {"a": 2}) == {"a": 2}
    assert template.deep_merge({"a": 2}, {"a": {"b": 1}}) == {"a": {"b": 1}}


def test_merged_fields_keep_the_template_unless_the_request_gives_a_field() -> None:
    inherited = SpaceFields(
        name="Template",
        namespace="tpl",
        labels=["a"],
        metadata={"theme": {"x": 1, "y": 2}},
        settings={"sidebarConfig": {"showSidebar": True}},
        access=["*"],
    )
    requested = SpaceFields(labels=["b"], metadata={"theme": {"y": 3}}, is_app_template=True, display_order=4)
    merged = template.merged_fields(inherited, requested)
    assert merged.name == "Template" and merged.namespace == "tpl" and merged.access == ["*"]
    assert merged.labels == ["b"]
    assert merged.metadata == {"theme": {"x": 1, "y": 3}}
    assert merged.settings == {"sidebarConfig": {"showSidebar": True}}
    assert merged.is_app_template is True and merged.display_order == 4


def test_merged_fields_never_inherit_template_status_or_primary_workbook() -> None:
    view = _space_view(primary_workbook_id="us_wb_template", is_app_template=True)
    made = template.from_space(view, [], [])
    assert made.fields.is_app_template is None and made.fields.primary_workbook_id is None
    assert template.merged_fields(made.fields, SpaceFields()).is_app_template is None


def test_a_blueprint_of_the_wrong_shape_is_refused_naming_the_app() -> None:
    app = _app_view([{"name": "CRM", "sheets": [{"name": "no fields"}]}])
    with pytest.raises(ValidationFailedError, match="us_app_bad") as refused:
        template.from_blueprint(app)
    assert refused.value.key == "appId"


def test_a_blueprint_breaking_a_sheet_rule_is_refused_before_anything_is_written() -> None:
    twice = {"name": "S", "fields": [{"key": "a", "type": "string"}, {"key": "a", "type": "string"}]}
    with pytest.raises(ValidationFailedError, match=r"us_app_bad.*workbook 0 \('CRM'\) at sheets\[0\]") as refused:
        template.from_blueprint(_app_view([{"name": "CRM", "sheets": [twice]}]))
    assert refused.value.key == "appId"


def test_a_template_space_lists_its_workbooks_oldest_first_and_maps_its_primary_workbook() -> None:
    older, newer = _workbook_view("us_wb_old", "Old", 1), _workbook_view("us_wb_new", "New", 2)
    made = template.from_space(_space_view(primary_workbook_id="us_wb_new"), [newer, older], [])
    assert [w.name for w in made.workbooks] == ["Old", "New"]
    assert made.primary_index == 1
    assert made.source_id == "us_sp_template"


# ---- SpaceCreation on fakes ----------------------------------------------------------------


@dataclass
class Copying:
    store: InMemoryEventStore
    directory: FoldedDirectory
    workbooks: FakeWorkbooks
    app: SpaceApplication
    env: str
    who: Principal

    async def events(self, aggregate: str = "*") -> list[Event]:
        found = self.store.read(f"{self.store.prefix}.*.{aggregate}.>")
        return [s.event async for s in found if s.event is not None]

    async def space(self, space_id: str) -> SpaceView | None:
        return await self.directory.space(self.env, space_id)

    async def create(self, **fields: Any) -> str:
        app_id, template_id = fields.pop("app_id", None), fields.pop("template_id", None)
        key = fields.pop("idempotency_key", None)
        cmd = CreateSpace(
            principal=self.who,
            environment_id=self.env,
            fields=SpaceFields(**fields),
            app_id=app_id,
            template_id=template_id,
            idempotency_key=key,
        )
        return (await self.app.creation.create(cmd)).space_id

    async def new_app(self, blueprint: list[dict[str, Any]] | None = None) -> str:
        fields = AppFields(name="Onboarding", blueprint=blueprint)
        cmd = CreateApp(principal=self.who, environment_id=self.env, type="CUSTOM", fields=fields)
        return (await self.app.apps.create(cmd)).app_id

    async def workbook(self, space_id: str, name: str, sheets: list[dict[str, Any]]) -> None:
        configs = msgspec.convert(sheets, list[SheetConfig])
        await self.workbooks.create(CreateWorkbook(principal=self.who, space_id=space_id, name=name, sheets=configs))

    async def document(self, space_id: str, title: str) -> None:
        create = CreateDocument(
            principal=self.who, environment_id=self.env, space_id=space_id, title=title, body=f"<p>{title}</p>"
        )
        await self.app.documents.create(create)

    async def listed(self, **filters: Any) -> list[str]:
        found, _ = await self.directory.spaces(ListSpaces(environment_id=self.env, page_size=100, **filters))
        return [v.id for v in found]


async def copying() -> Copying:
    store = InMemoryEventStore(REGISTRY)
    directory = FoldedDirectory(store)
    workbooks = FakeWorkbooks()
    app = SpaceApplication(store, directory, directory.caught_up, Broadcasts(), TOKENS, workbooks=workbooks)
    reply = await app.environments.create(CreateEnvironment(name="dev"))
    assert reply.secret_key is not None
    who = await app.auth.authenticate(Authenticate(token=reply.secret_key))
    return Copying(store, directory, workbooks, app, reply.environment.id, who)


async def test_a_space_copies_its_template_space_by_value() -> None:
    c = await copying()
    tpl = await c.create(name="Template", metadata={"theme": {"a": 1, "b": 2}}, settings={"sidebarConfig": {"x": 1}})
    await c.workbook(tpl, "CRM", [CONTACTS])
    await c.document(tpl, "Welcome")
    copy = await c.create(template_id=tpl, name="Copy", metadata={"theme": {"b": 3}, "own": True})
    view = await c.space(copy)
    assert view is not None and view.template_id == tpl and view.name == "Copy"
    assert view.metadata == {"theme": {"a": 1, "b": 3}, "own": True}
    assert view.settings == {"sidebarConfig": {"x": 1}}
    copied = await c.workbooks.workbooks(c.env, copy)
    assert [(w.name, [s.config for s in w.sheets or []]) for w in copied] == [
        ("CRM", [msgspec.convert(CONTACTS, SheetConfig)])
    ]
    docs = await c.app.documents.list_documents(ListDocuments(environment_id=c.env, space_id=copy))
    assert [(d.title, d.body) for d in docs] == [("Welcome", "<p>Welcome</p>")]
    # by value: a later change of the template reaches no copy
    await c.app.spaces.update(
        UpdateSpace(principal=c.who, environment_id=c.env, space_id=tpl, fields=SpaceFields(metadata={"theme": {}}))
    )
    await c.document(tpl, "Later")
    after = await c.space(copy)
    assert after is not None and after.metadata == {"theme": {"a": 1, "b": 3}, "own": True}
    assert len(await c.app.documents.list_documents(ListDocuments(environment_id=c.env, space_id=copy))) == 1


async def test_an_app_without_a_template_space_gives_its_blueprint() -> None:
    c = await copying()
    app_id = await c.new_app(BLUEPRINT)
    space_id = await c.create(app_id=app_id, name="From blueprint")
    view = await c.space(space_id)
    assert view is not None and (view.app_id, view.template_id, view.is_app_template) == (app_id, app_id, False)
    made = await c.workbooks.workbooks(c.env, space_id)
    assert [(w.name, w.labels, w.metadata) for w in made] == [("CRM", ["crm"], {"v": 1}), ("Extra", [], {})]
    assert [s.slug for s in made[0].sheets or []] == ["contacts"]
    keys = [cmd.idempotency_key for cmd in c.workbooks.creates]
    assert keys == [f"template:{space_id}:workbook:0", f"template:{space_id}:workbook:1"]


async def test_an_app_with_template_spaces_gives_the_newest_live_one() -> None:
    c = await copying()
    app_id = await c.new_app(BLUEPRINT)
    old = await c.create(app_id=app_id, is_app_template=True, name="old template")
    new = await c.create(app_id=app_id, is_app_template=True, name="new template", metadata={"t": "new"})
    await c.document(new, "From the new template")
    space_id = await c.create(app_id=app_id, name="Project")
    view = await c.space(space_id)
    assert view is not None and view.template_id == new and view.metadata == {"t": "new"}
    assert view.is_app_template is False
    docs = await c.app.documents.list_documents(ListDocuments(environment_id=c.env, space_id=space_id))
    assert [d.title for d in docs] == ["From the new template"]
    assert set(await c.listed(app_id=app_id, is_app_template=True)) == {old, new}
    assert await c.listed(app_id=app_id, is_app_template=False) == [space_id]
    assert set(await c.listed(app_id=app_id)) == {old, new, space_id}


async def test_the_template_primary_workbook_becomes_the_copy_of_it() -> None:
    c = await copying()
    tpl = await c.create(name="Template")
    await c.workbook(tpl, "First", [])
    await c.workbook(tpl, "Primary", [CONTACTS])
    primary = next(w.id for w in await c.workbooks.workbooks(c.env, tpl) if w.name == "Primary")
    fields = SpaceFields(primary_workbook_id=primary)
    await c.app.spaces.update(UpdateSpace(principal=c.who, environment_id=c.env, space_id=tpl, fields=fields))
    copy = await c.create(template_id=tpl)
    view = await c.space(copy)
    copied = {w.name: w.id for w in await c.workbooks.workbooks(c.env, copy)}
    assert view is not None and view.primary_workbook_id == copied["Primary"] != primary


@pytest.mark.parametrize("which", ["unknown", "deleted", "other environment", "malformed"])
async def test_an_app_that_is_not_there_answers_404_and_writes_nothing(which: str) -> None:
    c = await copying()
    app_id = "us_app_nothere" if which != "malformed" else "not an app"
    if which == "deleted":
        app_id = await c.new_app()
        await c.app.apps.delete(DeleteApp(principal=c.who, environment_id=c.env, app_id=app_id))
    if which == "other environment":
        other = await c.app.environments.create(CreateEnvironment(name="other"))
        assert other.secret_key is not None
        them = await c.app.auth.authenticate(Authenticate(token=other.secret_key))
        made = await c.app.apps.create(
            CreateApp(principal=them, environment_id=them.environment_id, type="CUSTOM", fields=AppFields(name="x"))
        )
        app_id = made.app_id
    before = await c.events("space")
    with pytest.raises(NotFoundError) as refused:
        await c.create(app_id=app_id, name="nope")
    assert refused.value.key == "appId"
    assert await c.events("space") == before and c.workbooks.creates == []


async def test_a_template_space_of_another_environment_or_deleted_answers_404() -> None:
    c = await copying()
    other = await c.app.environments.create(CreateEnvironment(name="other"))
    assert other.secret_key is not None
    them = await c.app.auth.authenticate(Authenticate(token=other.secret_key))
    theirs = await c.app.creation.create(
        CreateSpace(principal=them, environment_id=them.environment_id, fields=SpaceFields(name="theirs"))
    )
    for template_id in (theirs.space_id, "us_sp_nothere", "garbage"):
        with pytest.raises(NotFoundError) as refused:
            await c.create(template_id=template_id)
        assert refused.value.key == "templateId"
    assert await c.listed() == []


async def test_is_app_template_needs_an_app() -> None:
    c = await copying()
    with pytest.raises(ValidationFailedError) as refused:
        await c.create(name="x", is_app_template=True)
    assert refused.value.key == "isAppTemplate"
    plain = await c.create(name="plain")
    update = UpdateSpace(
        principal=c.who, environment_id=c.env, space_id=plain, fields=SpaceFields(is_app_template=True)
    )
    with pytest.raises(ValidationFailedError):
        await c.app.spaces.update(update)
    app_id = await c.new_app()
    of_app = await c.create(app_id=app_id)
    update = UpdateSpace(
        principal=c.who, environment_id=c.env, space_id=of_app, fields=SpaceFields(is_app_template=True)
    )
    await c.app.spaces.update(update)
    assert await c.listed(is_app_template=True) == [of_app]


async def test_a_workbook_the_workbook_service_refuses_undoes_the_whole_space() -> None:
    c = await copying()
    app_id = await c.new_app(BLUEPRINT)
    c.workbooks.refuse["Extra"] = ValidationFailedError("not today", key="sheets")
    with pytest.raises(ValidationFailedError, match=rf"{app_id}.*workbook 1 \('Extra'\).*not today") as refused:
        await c.create(app_id=app_id, name="half")
    assert refused.value.key == "appId"
    assert c.workbooks.live == {}  # the first workbook was deleted again
    created = [e for e in await c.events("space") if isinstance(e, SpaceCreated)]
    deleted = [e for e in await c.events("space") if isinstance(e, SpaceDeleted)]
    assert len(deleted) == 1 and created == []  # created, deleted again: erased with its key (spaceport.crypto)
    assert await c.listed() == []


async def test_an_unavailable_workbook_service_undoes_and_the_same_key_then_conflicts() -> None:
    c = await copying()
    app_id = await c.new_app(BLUEPRINT)
    c.workbooks.refuse["CRM"] = ServiceUnavailableError("down")
    with pytest.raises(ServiceUnavailableError):
        await c.create(app_id=app_id, idempotency_key="k1")
    del c.workbooks.refuse["CRM"]
    with pytest.raises(ConflictError, match="rolled back"):
        await c.create(app_id=app_id, idempotency_key="k1")
    assert await c.listed() == []
    assert await c.create(app_id=app_id, idempotency_key="k2") in await c.listed()


async def test_a_retried_copy_with_the_same_key_duplicates_nothing() -> None:
    c = await copying()
    tpl = await c.create(name="Template")
    await c.workbook(tpl, "CRM", [CONTACTS])
    await c.document(tpl, "Welcome")
    first = await c.create(template_id=tpl, idempotency_key="again")
    second = await c.create(template_id=tpl, idempotency_key="again")
    assert first == second
    assert len(await c.workbooks.workbooks(c.env, first)) == 1
    assert len(await c.app.documents.list_documents(ListDocuments(environment_id=c.env, space_id=first))) == 1
    assert len([e for e in await c.events("space") if isinstance(e, SpaceCreated)]) == 2


async def test_a_blueprint_that_does_not_validate_is_refused_before_the_space_exists() -> None:
    c = await copying()
    bad = _app_view([{"name": "CRM", "sheets": [{"name": "S", "fields": [{"key": "a", "type": "nope"}]}]}], c.env)

    async def lookup(query: GetApp) -> AppView:
        return bad

    creation = SpaceCreation(c.app.spaces, c.app.documents, c.workbooks, lookup)
    with pytest.raises(ValidationFailedError, match="us_app_bad"):
        await creation.create(
            CreateSpace(principal=c.who, environment_id=c.env, app_id="us_app_bad", fields=SpaceFields())
        )
    assert await c.events("space") == [] and c.workbooks.creates == []


async def test_bad_fields_of_the_request_are_refused_before_any_lookup() -> None:
    c = await copying()
    with pytest.raises(ValidationFailedError) as refused:
        await c.create(app_id="us_app_nothere", access=["everything"])
    assert refused.value.key == "access"


# ---- helpers -------------------------------------------------------------------------------

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _app_view(blueprint: list[dict[str, Any]], environment_id: str = "us_env_x") -> AppView:
    return AppView(
        id="us_app_bad",
        name="bad",
        namespace="bad",
        type="CUSTOM",
        entity="",
        entity_plural="",
        environment_id=environment_id,
        created_at=AT,
        updated_at=AT,
        blueprint=blueprint,
    )


def _space_view(**changes: Any) -> SpaceView:
    view = SpaceView(
        id="us_sp_template",
        environment_id="us_env_x",
        name="Template",
        created_at=AT,
        updated_at=AT,
        guest_authentication=["magic_link"],
    )
    return msgspec.structs.replace(view, **changes)


def _workbook_view(workbook_id: str, name: str, minute: int) -> WorkbookView:
    at = AT.replace(minute=minute)
    return WorkbookView(
        id=workbook_id, name=name, space_id="us_sp_template", environment_id="us_env_x", created_at=at, updated_at=at
    )
