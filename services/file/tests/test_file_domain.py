"""The file aggregate as given-when-then over plain lists."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from file_service.domain import file as domain
from spaceport.contracts.file import CreateFile, FileCreated, FileDeleted, FileUpdated, UpdateFile
from spaceport.contracts.space import Principal
from spaceport.errors import ConflictError, NotFoundError, ValidationFailedError
from spaceport.events import Event

pytestmark = pytest.mark.unit
ENV = "us_env_a"
SPACE = "us_sp_a"
FILE = "us_fl_a"
KEY = f"{SPACE}/{FILE}/people.csv"
WHO = Principal(environment_id=ENV, kind="secret", actor="us_key_a")


def create_cmd(**changes: object) -> CreateFile:
    base: dict[str, object] = {
        "principal": WHO,
        "environment_id": ENV,
        "space_id": SPACE,
        "file_id": FILE,
        "object_key": KEY,
        "name": "people.csv",
        "size": 12,
        "mimetype": "text/csv",
    }
    return CreateFile(**{**base, **changes})  # type: ignore[arg-type]


def given_events(*events: Event) -> domain.FileState:
    state = domain.initial()
    for event in events:
        state = domain.evolve(state, event)
    return state


def created() -> FileCreated:
    (event,) = domain.create(domain.initial(), create_cmd())
    assert isinstance(event, FileCreated)
    return event


def test_create_records_the_upload() -> None:
    event = created()
    assert event.size == 12
    assert event.status == "complete"
    assert event.mode == "import"
    assert event.object_key == KEY
    assert event.created_by == WHO.actor


def test_create_twice_conflicts() -> None:
    with pytest.raises(ConflictError):
        domain.create(given_events(created()), create_cmd())


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"name": ""}, "name"),
        ({"name": "a/b.csv"}, "name"),
        ({"name": "x" * 300}, "name"),
        ({"mode": "sideways"}, "mode"),
        ({"origin": "ftp"}, "origin"),
        ({"object_key": "us_sp_other/us_fl_a/x"}, "objectKey"),
        ({"size": -1}, "size"),
        ({"actions": [{"label": "x" * 300_000}]}, "actions"),
    ],
)
def test_create_refuses_bad_input(changes: dict[str, object], key: str) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        domain.create(domain.initial(), create_cmd(**changes))
    assert refused.value.key == key


def test_update_sets_only_what_it_names() -> None:
    cmd = UpdateFile(principal=WHO, file_id=FILE, status="failed", workbook_id="us_wb_a")
    assert domain.update(given_events(created()), cmd) == [
        FileUpdated(file_id=FILE, status="failed", workbook_id="us_wb_a")
    ]


@pytest.mark.parametrize(
    "cmd",
    [
        UpdateFile(principal=WHO, file_id=FILE, status="done"),
        UpdateFile(principal=WHO, file_id=FILE, mode="both"),
        UpdateFile(principal=WHO, file_id=FILE, workbook_id="a.b"),
        UpdateFile(principal=WHO, file_id=FILE, name=" "),
    ],
)
def test_update_refuses_bad_values(cmd: UpdateFile) -> None:
    with pytest.raises(ValidationFailedError):
        domain.update(given_events(created()), cmd)


def test_delete_then_the_file_is_gone() -> None:
    state = given_events(created(), *domain.delete(given_events(created()), FILE, WHO))
    assert state.deleted
    with pytest.raises(NotFoundError):
        domain.delete(state, FILE, WHO)
    with pytest.raises(NotFoundError):
        domain.update(state, UpdateFile(principal=WHO, file_id=FILE, name="x.csv"))


@pytest.mark.parametrize(
    "who",
    [
        Principal(environment_id="us_env_b", kind="secret", actor="us_key_b"),
        Principal(environment_id=ENV, kind="guest", actor="us_g_a", space_id="us_sp_other", role="admin"),
    ],
)
def test_a_file_is_invisible_outside_its_environment_and_space(who: Principal) -> None:
    with pytest.raises(NotFoundError):
        domain.delete(given_events(created()), FILE, who)


def test_a_guest_of_the_space_may_change_it() -> None:
    guest = Principal(environment_id=ENV, kind="guest", actor="us_g_a", space_id=SPACE, role="editor")
    assert domain.delete(given_events(created()), FILE, guest) == [FileDeleted(file_id=FILE)]


def test_unknown_file_is_not_found() -> None:
    with pytest.raises(NotFoundError):
        domain.update(domain.initial(), UpdateFile(principal=WHO, file_id=FILE, name="x.csv"))


@given(st.text(min_size=1, max_size=300))
def test_object_keys_stay_under_the_file_and_key_safe(name: str) -> None:
    key = domain.object_key(SPACE, FILE, name)
    head, _, tail = key.rpartition("/")
    assert head == f"{SPACE}/{FILE}"
    assert tail
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in tail)
    assert not tail.startswith(".")


@given(st.lists(st.sampled_from(["update", "delete"]), max_size=6))
def test_folding_keeps_the_files_place(steps: list[str]) -> None:
    events: list[Event] = [created()]
    for step in steps:
        state = given_events(*events)
        if state.deleted:
            break
        if step == "update":
            events += domain.update(state, UpdateFile(principal=WHO, file_id=FILE, status="archived"))
        else:
            events += domain.delete(state, FILE, WHO)
    state = given_events(*events)
    assert (state.space_id, state.environment_id, state.object_key) == (SPACE, ENV, KEY)
    assert state.deleted == ("delete" in steps)
