"""Cell validation and the pure decisions of a write (no servers)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from record_service.application.query import bounded
from record_service.domain import records as domain
from record_service.domain.validation import compile_schema, parse_date
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.record import MAX_RECORDS_PER_EVENT, CommitCreated, Message, RecordsDeleted, StoredRecord
from spaceport.errors import UnprocessableError, ValidationFailedError

pytestmark = pytest.mark.unit
NOW = datetime(2026, 1, 2, tzinfo=UTC)
CONFIG = msgspec.convert(
    {
        "name": "People",
        "constraints": [{"type": "unique", "name": "person", "fields": ["name", "born"]}],
        "fields": [
            {"key": "name", "type": "string", "constraints": [{"type": "required"}]},
            {"key": "email", "type": "string", "constraints": [{"type": "unique"}]},
            {"key": "age", "type": "number"},
            {"key": "ok", "type": "boolean"},
            {"key": "born", "type": "date"},
            {"key": "tier", "type": "enum", "config": {"options": [{"value": "gold", "label": "Gold tier"}]}},
            {"key": "tags", "type": "string-list"},
            {"key": "colors", "type": "enum-list", "config": {"options": [{"value": "red"}, {"value": "blue"}]}},
        ],
    },
    SheetConfig,
)
SCHEMA = compile_schema(CONFIG)


def cell(key: str, value: Any) -> tuple[Any, list[str]]:
    built = domain.make_cell(SCHEMA, key, domain.InCell(value=value), None, NOW)
    return built.value, [m.source for m in built.messages]


@pytest.mark.parametrize(
    ("key", "given", "stored", "sources"),
    [
        ("age", "42", 42, []),
        ("age", "1,234.5", 1234.5, []),
        ("age", "abc", "abc", ["type-cast"]),
        ("age", True, True, ["type-cast"]),
        ("ok", "Yes", True, []),
        ("ok", 0, False, []),
        ("ok", "maybe", "maybe", ["type-cast"]),
        ("born", "2024-02-29", "2024-02-29", []),
        ("born", "2024-03-04T10:00:00Z", "2024-03-04", []),
        ("born", "31/12/2024", "2024-12-31", []),
        ("born", "12/31/2024", "2024-12-31", []),
        ("born", "03/04/2024", "03/04/2024", ["type-cast"]),
        ("born", "2023-02-30", "2023-02-30", ["type-cast"]),
        ("tier", "GOLD", "gold", []),
        ("tier", "gold tier", "gold", []),
        ("tier", "silver", "silver", ["invalid-option"]),
        ("tags", "a, b", ["a", "b"], []),
        ("tags", ["x", 1], ["x", "1"], []),
        ("colors", ["Red", "green"], ["red", "green"], ["invalid-option"]),
        ("name", "", "", ["required-constraint"]),
        ("name", 12, "12", []),
    ],
)
def test_coercion_keeps_bad_values_with_a_message(key: str, given: Any, stored: Any, sources: list[str]) -> None:
    assert cell(key, given) == (stored, sources)


def test_dates_are_only_normalised_when_unambiguous() -> None:
    assert parse_date("2024/01/05")[0] is not None
    assert parse_date("05/05/2024")[0] is not None  # same either way
    assert parse_date("01/05/2024")[0] is None


def test_client_messages_survive_until_replaced_and_decide_validity() -> None:
    hook = msgspec.convert({"message": "looks fake"}, Message)
    first = domain.make_cell(SCHEMA, "email", domain.InCell(value="a@b", messages=[hook]), None, NOW)
    assert first.valid is False
    assert first.messages[0].source == "custom-logic"
    kept = domain.make_cell(SCHEMA, "email", domain.InCell(value="c@d"), first, NOW)
    assert [m.message for m in kept.messages] == ["looks fake"]
    cleared = domain.make_cell(SCHEMA, "email", domain.InCell(messages=[]), kept, NOW)
    assert cleared.valid is True
    assert cleared.value == "c@d"


def test_inserts_fill_required_fields_and_refuse_unknown_keys() -> None:
    (record,) = domain.build_inserts(SCHEMA, [{"age": domain.InCell(value=3)}], NOW)
    assert record.valid is False
    assert record.error_fields == ["name"]
    with pytest.raises(ValidationFailedError):
        domain.build_inserts(SCHEMA, [{"nope": domain.InCell(value=1)}], NOW)
    with pytest.raises(ValidationFailedError):
        domain.build_inserts(SCHEMA, [{"name": domain.InCell(value="x" * 70_000)}], NOW)


def test_first_holder_of_a_unique_value_wins() -> None:
    rows: list[dict[str, domain.CellInput]] = [
        {"name": "a", "email": "X@y"},
        {"name": "b", "email": "x@Y"},
        {"name": "c", "email": "held@y"},
    ]
    built = domain.build_inserts(SCHEMA, rows, NOW)
    checked = domain.apply_uniques(
        SCHEMA.uniques, built, lambda name: {"held@y": "us_rc_other"} if name == "email" else {}
    )
    assert [r.valid for r in checked] == [True, False, False]
    assert checked[0].claims["email"] == "x@y"
    assert "email" not in checked[1].claims
    assert checked[1].values["email"].messages[-1].source == "unique-constraint"


def test_composite_unique_constraint() -> None:
    rows: list[dict[str, domain.CellInput]] = [{"name": "a", "born": "2020-01-01"}, {"name": "A", "born": "2020-01-01"}]
    checked = domain.apply_uniques(SCHEMA.uniques, domain.build_inserts(SCHEMA, rows, NOW), lambda _: {})
    assert [r.valid for r in checked] == [True, False]
    assert set(checked[1].error_fields) == {"name", "born"}


def test_duplicates_record_what_they_wait_for_and_heal_when_freed() -> None:
    rows: list[dict[str, domain.CellInput]] = [{"name": "a", "email": "x@y"}, {"name": "b", "email": "X@y"}]
    holder, waiter = domain.apply_uniques(SCHEMA.uniques, domain.build_inserts(SCHEMA, rows, NOW), lambda _: {})
    assert waiter.waits == {"email": "x@y"}
    assert holder.waits == {}
    # holder changes its email: its claim is freed; an unchanged claim is not
    moved = domain.build_updates(
        SCHEMA, [domain.UpdateItem(id=holder.id, values={"email": "new@y"})], {holder.id: holder}, NOW
    )[0]
    held = [(holder.id, "email", "x@y"), (holder.id, "constraint:person", "a\x1f")]
    assert domain.released_claims(SCHEMA.uniques, held, [moved]) == [("email", "x@y")]
    assert domain.released_claims(SCHEMA.uniques, held, []) == sorted(
        [("email", "x@y"), ("constraint:person", "a\x1f")]
    )
    stripped = domain.strip_uniques(waiter)
    assert stripped.valid and stripped.waits == {}
    assert stripped.values["email"].messages == []
    healed = domain.apply_uniques(SCHEMA.uniques, [stripped], lambda _: {})[0]
    assert healed.valid and healed.claims["email"] == "x@y"


def test_a_commit_is_record_events_of_bounded_size_then_commit_created() -> None:
    records = [StoredRecord(id=f"us_rc_{i}", values={}) for i in range(2_500)]
    scope = {"sheet_id": "us_sh_1", "workbook_id": "us_wb_1", "space_id": "us_sp_1", "commit_id": "us_vr_1"}
    events = domain.commit_events("insert", scope, records, created_by="me")
    assert [len(e.records) for e in events[:-1]] == [MAX_RECORDS_PER_EVENT, MAX_RECORDS_PER_EVENT, 500]  # type: ignore[attr-defined]
    commit = events[-1]
    assert isinstance(commit, CommitCreated)
    assert (commit.events, commit.record_count) == (3, 2_500)
    big = [b"x" * 200_000] * 5
    assert [len(g) for g in domain.chunks(big)] == [2, 2, 1]
    deleted = domain.commit_events("delete", scope, deleted=["us_rc_1"], created_by="me")
    assert isinstance(deleted[0], RecordsDeleted)


async def test_a_scan_that_runs_too_long_is_answered_422() -> None:
    async def slow() -> int:
        raise TimeoutError

    with pytest.raises(UnprocessableError, match="narrow it"):
        await bounded(slow())
