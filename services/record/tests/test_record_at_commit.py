"""`at_commit`: a commit's records selected in Python with the SQL selection's meaning."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from record_service.application import at_commit
from spaceport.contracts.record import RecordQuery

pytestmark = pytest.mark.unit

ROWS: list[tuple[str, bool, list[str], bytes]] = [
    ("r1", True, [], msgspec.json.encode({"name": {"value": "Ada"}, "age": {"value": 36}})),
    ("r2", False, ["name"], msgspec.json.encode({"name": {"value": None, "messages": [{"type": "error"}]}})),
    ("r3", True, [], msgspec.json.encode({"name": {"value": "adam"}, "age": {"value": 5}, "ok": {"value": True}})),
]


def picked(**query: Any) -> list[str]:
    found = at_commit.select(ROWS, RecordQuery(**query), [], True)
    return [ROWS[index][0] for index, _ in found]


def test_search_is_a_substring_in_any_case_or_exact_when_quoted() -> None:
    assert picked(search_value="AD") == ["r1", "r3"]
    assert picked(search_value='"Ada"') == ["r1"]
    assert picked(search_value="5", search_field="age") == ["r3"]
    assert picked(search_value="36", search_field="name") == []
    assert picked(search_value="true") == ["r3"]  # non-strings as their JSON text, as ->> gives them


def test_filters_per_record_and_per_field() -> None:
    assert picked(filter="error") == ["r2"]
    assert picked(filter="valid") == ["r1", "r3"]
    assert picked(filter="error", filter_field="age") == []
    assert picked(filter="valid", filter_field="name") == ["r1", "r3"]
    assert picked(filter="all") == ["r1", "r2", "r3"]


def test_ids_select_alone_and_exclude_with_a_filter_or_search() -> None:
    assert picked(ids=["r3", "r1"]) == ["r1", "r3"]
    assert picked(ids=["r1"], filter="all") == ["r2", "r3"]
    assert picked(ids=["r1"], search_value="ad") == ["r3"]


def test_fields_and_messages_shape_the_cells() -> None:
    [(_, cells)] = at_commit.select(ROWS[1:2], RecordQuery(), ["name"], False)
    assert cells == {"name": {"value": None}}
    [(_, cells)] = at_commit.select(ROWS[:1], RecordQuery(), ["age"], True)
    assert cells == {"age": {"value": 36}}
