"""Blueprint validation: every field type, limits, keys, slugs and sheet constraints (no servers)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from spaceport.contracts.blueprint import SheetConfig
from spaceport.errors import ValidationFailedError
from workbook_service.domain.blueprint import check_sheet, check_workbook, slugify, with_slug

pytestmark = pytest.mark.unit


def sheet(fields: list[dict[str, Any]], **extra: Any) -> SheetConfig:
    raw = {"name": "Contacts", "slug": "contacts", "fields": fields, **extra}
    return msgspec.json.decode(msgspec.json.encode(raw), type=SheetConfig)


def options(n: int) -> dict[str, Any]:
    return {"options": [{"value": f"v{i}"} for i in range(n)]}


EVERY_TYPE: list[dict[str, Any]] = [
    {"key": "name", "type": "string", "config": {"size": "long"}, "constraints": [{"type": "required"}]},
    {"key": "age", "type": "number", "config": {"decimalPlaces": 0}},
    {"key": "active", "type": "boolean", "config": {"allowIndeterminate": True}},
    {"key": "born", "type": "date"},
    {"key": "tier", "type": "enum", "config": options(3)},
    {"key": "friend", "type": "reference", "config": {"ref": "contacts", "key": "name", "relationship": "has-one"}},
    {"key": "friends", "type": "reference-list", "config": {"ref": "contacts", "key": "name"}},
    {"key": "tags", "type": "string-list"},
    {"key": "colors", "type": "enum-list", "config": options(2)},
    {"key": "score", "type": "number", "readonly": True, "constraints": [{"type": "computed"}]},
]


def test_every_field_type_is_accepted() -> None:
    config = sheet(EVERY_TYPE, constraints=[{"type": "unique", "name": "u", "fields": ["name", "born"]}])
    check_sheet(config, "sheets[0]")
    check_workbook([config])


def test_unknown_field_type_does_not_decode() -> None:
    with pytest.raises(msgspec.ValidationError):
        sheet([{"key": "x", "type": "money"}])


@pytest.mark.parametrize(
    ("fields", "extra", "message"),
    [
        ([{"key": "a", "type": "string"}, {"key": "a", "type": "number"}], {}, "appears twice"),
        ([{"key": "", "type": "string"}], {}, "field key"),
        ([{"key": "e", "type": "enum", "config": options(101)}], {}, "at most 100"),
        ([{"key": "e", "type": "enum", "config": {"options": [{"value": 1}, {"value": 1}]}}], {}, "twice"),
        ([{"key": "s", "type": "string", "constraints": [{"type": "required"}] * 11}], {}, "at most 10"),
        (
            [{"key": "s", "type": "string", "constraints": [{"type": "external", "validator": "v"}] * 2}],
            {},
            "same validator",
        ),
        (
            [{"key": "a", "type": "string"}],
            {"constraints": [{"type": "unique", "name": "u", "fields": ["b"]}]},
            "unknown",
        ),
        ([{"key": "a", "type": "string"}], {"mappingConfidenceThreshold": 2}, "between 0 and 1"),
        ([{"key": "a", "type": "string"}], {"access": ["everything"]}, "access"),
        ([{"key": "a", "type": "string"}], {"slug": "has space"}, "slug"),
        ([{"key": "a", "type": "string"}], {"name": "n" * 256}, "longer"),
    ],
)
def test_bad_sheets_are_refused(fields: list[dict[str, Any]], extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationFailedError, match=message):
        check_sheet(sheet(fields, **extra), "sheets[0]")


def test_duplicate_slugs_and_dangling_references_are_refused_at_workbook_level() -> None:
    one = sheet([{"key": "a", "type": "string"}])
    with pytest.raises(ValidationFailedError, match="slug"):
        check_workbook([one, one])
    dangling = sheet([{"key": "r", "type": "reference", "config": {"ref": "nowhere", "key": "a"}}])
    with pytest.raises(ValidationFailedError, match="not in this workbook"):
        check_workbook([dangling])


def test_slugs_derive_from_names() -> None:
    assert slugify("My Contacts (2024)") == "my-contacts-2024"
    assert slugify("***") == "sheet"
    assert with_slug(SheetConfig(name="Deals", fields=[])).slug == "deals"
    assert with_slug(SheetConfig(name="Deals", slug="d", fields=[])).slug == "d"


def test_attribute_and_event_size_limits() -> None:
    from spaceport.errors import PayloadTooLargeError  # noqa: PLC0415 - only here
    from workbook_service.domain.blueprint import check_attributes, check_size  # noqa: PLC0415

    check_attributes(["a"], metadata={"k": 1}, settings=None)
    with pytest.raises(ValidationFailedError, match="labels"):
        check_attributes(["x"] * 101)
    with pytest.raises(ValidationFailedError, match="metadata"):
        check_attributes(None, metadata={"k": "x" * 70_000})
    long = {"options": [{"value": f"v{i}", "label": "x" * 100} for i in range(100)]}
    huge = sheet([{"key": f"f{i}", "type": "enum", "config": long} for i in range(100)])
    with pytest.raises(PayloadTooLargeError):
        check_size(huge)
