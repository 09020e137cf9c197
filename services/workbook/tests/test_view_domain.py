"""The view aggregate as given-when-then over plain lists of events (no servers)."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spaceport.contracts.space import Principal
from spaceport.contracts.view import CreateView, UpdateView, ViewConfig, ViewCreated, ViewDeleted, ViewUpdated
from spaceport.errors import ConflictError, NotFoundError, ValidationFailedError
from spaceport.events import Event
from workbook_service.domain import view as domain
from workbook_service.domain.view import SheetFacts, ViewState

pytestmark = pytest.mark.unit

ENV = "us_env_a"
ME = Principal(environment_id=ENV, kind="secret", actor="us_key_1")
STRANGER = Principal(environment_id="us_env_b", kind="secret", actor="us_key_2")
SHEET = SheetFacts(
    sheet_id="us_sh_1", workbook_id="us_wb_1", space_id="us_sp_1", environment_id=ENV, field_keys=frozenset({"email"})
)
VIEW = "us_vi_1"


def given_events(*events: Event) -> ViewState:
    state = domain.initial()
    for event in events:
        state = domain.evolve(state, event)
    return state


def created(name: str = "Mine", config: ViewConfig | None = None) -> ViewCreated:
    return ViewCreated(
        view_id=VIEW,
        sheet_id=SHEET.sheet_id,
        workbook_id=SHEET.workbook_id,
        space_id=SHEET.space_id,
        environment_id=ENV,
        name=name,
        config=config or ViewConfig(),
        created_by=ME.actor,
    )


def create(config: ViewConfig, name: str = "Mine", principal: Principal = ME) -> list[Event]:
    cmd = CreateView(principal=principal, sheet_id=SHEET.sheet_id, name=name, config=config)
    return domain.create(domain.initial(), VIEW, SHEET, cmd)


def refusal_key(attempt: Callable[[], object]) -> str | None:
    """The key of the ValidationFailedError `attempt` raises."""
    with pytest.raises(ValidationFailedError) as refused:
        attempt()
    return refused.value.key


# ---- create ------------------------------------------------------------------------------


def test_create_records_the_view_with_its_sheet_and_creator() -> None:
    config = ViewConfig(filter="error", filter_field="email", sort_field="email", sort_direction="desc", q="a")
    assert create(config) == [created(config=config)]


@pytest.mark.parametrize("attribute", ["sort_field", "filter_field", "search_field"])
def test_a_config_naming_a_field_the_sheet_lacks_is_refused_naming_it(attribute: str) -> None:
    config = msgspec.structs.replace(ViewConfig(), **{attribute: "phone"})
    with pytest.raises(ValidationFailedError) as refused:
        create(config)
    wire = domain._camel(attribute)
    assert refused.value.key == f"config.{wire}"
    assert "'phone'" in refused.value.message and "email" in refused.value.message


@pytest.mark.parametrize(
    ("config", "key"),
    [
        (ViewConfig(page_size=0), "config.pageSize"),
        (ViewConfig(page_size=50_001), "config.pageSize"),
        (ViewConfig(page_number=0), "config.pageNumber"),
        (ViewConfig(ids=["us_rc_1"] * 101), "config.ids"),
        (ViewConfig(ids=["us_rc_1", "x.y"]), "config.ids[1]"),
        (ViewConfig(commit_id="us_sh_1"), "config.commitId"),
        (ViewConfig(since_version_id="nope"), "config.sinceVersionId"),
        (ViewConfig(for_="us_vr_1"), "config.for"),
        (ViewConfig(q="x" * 10_001), "config.q"),
        (ViewConfig(search_value="x" * 10_001), "config.searchValue"),
    ],
)
def test_config_limits(config: ViewConfig, key: str) -> None:
    assert refusal_key(lambda: create(config)) == key


def test_ids_and_bounded_values_within_the_limits_pass() -> None:
    config = ViewConfig(
        ids=[f"us_rc_{n}" for n in range(100)], commit_id="us_vr_1", for_="us_evt_1", page_size=10_000, page_number=3
    )
    assert create(config) == [created(config=config)]


@pytest.mark.parametrize("name", ["", "   ", "n" * 256])
def test_a_name_must_be_given_and_bounded(name: str) -> None:
    assert refusal_key(lambda: create(ViewConfig(), name=name)) == "name"


def test_a_sheet_that_is_gone_or_of_another_environment_is_not_found() -> None:
    cmd = CreateView(principal=ME, sheet_id="us_sh_1", name="n", config=ViewConfig())
    with pytest.raises(NotFoundError) as gone:
        domain.create(domain.initial(), VIEW, None, cmd)
    assert gone.value.key == "sheetId"
    with pytest.raises(NotFoundError):
        create(ViewConfig(), principal=STRANGER)


def test_a_view_is_created_once() -> None:
    cmd = CreateView(principal=ME, sheet_id="us_sh_1", name="n", config=ViewConfig())
    with pytest.raises(ConflictError):
        domain.create(given_events(created()), VIEW, SHEET, cmd)


# ---- update and delete -------------------------------------------------------------------


def test_update_records_only_what_changed() -> None:
    state = given_events(created(name="Old", config=ViewConfig(filter="all")))
    renamed = UpdateView(principal=ME, view_id=VIEW, name="New", config=ViewConfig(filter="all"))
    assert domain.update(state, SHEET, renamed) == [ViewUpdated(view_id=VIEW, name="New")]
    reconfigured = UpdateView(principal=ME, view_id=VIEW, config=ViewConfig(filter="valid"))
    assert domain.update(state, SHEET, reconfigured) == [ViewUpdated(view_id=VIEW, config=ViewConfig(filter="valid"))]
    assert domain.update(state, SHEET, UpdateView(principal=ME, view_id=VIEW, name="Old")) == []


def test_update_checks_the_new_config_against_the_sheet_now() -> None:
    state = given_events(created())
    cmd = UpdateView(principal=ME, view_id=VIEW, config=ViewConfig(sort_field="email"))
    narrower = msgspec.structs.replace(SHEET, field_keys=frozenset({"name"}))
    with pytest.raises(ValidationFailedError) as refused:
        domain.update(state, narrower, cmd)
    assert refused.value.key == "config.sortField"


@pytest.mark.parametrize(
    "history",
    [[], [created(), ViewDeleted(view_id=VIEW)]],
    ids=["never created", "deleted"],
)
def test_an_absent_view_is_not_found(history: list[Event]) -> None:
    state = given_events(*history)
    with pytest.raises(NotFoundError):
        domain.update(state, SHEET, UpdateView(principal=ME, view_id=VIEW, name="x"))
    with pytest.raises(NotFoundError):
        domain.delete(state, VIEW, ME)


def test_another_environment_and_a_deleted_sheet_do_not_find_the_view() -> None:
    state = given_events(created())
    with pytest.raises(NotFoundError):
        domain.delete(state, VIEW, STRANGER)
    with pytest.raises(NotFoundError) as gone:
        domain.update(state, None, UpdateView(principal=ME, view_id=VIEW, name="x"))
    assert gone.value.key == "viewId"


def test_delete_records_the_deletion() -> None:
    assert domain.delete(given_events(created()), VIEW, ME) == [ViewDeleted(view_id=VIEW)]


# ---- evolve ------------------------------------------------------------------------------

names = st.text(alphabet="abc", min_size=1, max_size=3)
configs = st.builds(ViewConfig, filter=st.sampled_from([None, "valid", "error", "all"]), q=st.none() | names)
updates = st.builds(ViewUpdated, view_id=st.just(VIEW), name=st.none() | names, config=st.none() | configs)


@given(st.lists(updates, max_size=6))
def test_the_state_holds_the_last_given_name_and_config(changes: list[ViewUpdated]) -> None:
    state = given_events(created(), *changes)
    expected_name = next((c.name for c in reversed(changes) if c.name is not None), "Mine")
    expected_config = next((c.config for c in reversed(changes) if c.config is not None), ViewConfig())
    assert (state.name, state.config, state.exists, state.deleted) == (expected_name, expected_config, True, False)
