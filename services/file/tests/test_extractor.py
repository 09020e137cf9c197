"""The `file:extract` worker's pure parts: field keys, sheet slugs and the records body."""

from __future__ import annotations

import json

import pyarrow as pa

from file_service.entrypoints.extractor import field_keys, records_body, sheet_slugs


def test_field_keys_are_safe_unique_slugs_of_the_headers() -> None:
    headers = ["First Name", "first-name", "E-mail", "  ", "Ünïcode", "a", "a_2", "A"]
    assert field_keys(headers) == ["first_name", "first_name_2", "e_mail", "field", "n_code", "a", "a_2", "a_3"]


def test_sheet_slugs_are_unique() -> None:
    assert sheet_slugs(["People", "people", "!!"]) == ["people", "people-2", "sheet"]


def test_records_body_wraps_every_cell_in_a_value() -> None:
    batch = pa.record_batch({"First Name": ["Ada", "Grace"], "Note": ["x\ny", None]})
    body = json.loads(records_body(batch, ["first_name", "note"]))
    assert body == [
        {"first_name": {"value": "Ada"}, "note": {"value": "x\ny"}},
        {"first_name": {"value": "Grace"}, "note": {"value": None}},
    ]
