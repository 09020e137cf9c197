"""JSON arrays of objects and JSON Lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from file_service.extract import ExtractionError, Format, Limits, Table, detect, extract

pytestmark = pytest.mark.unit


def _write(tmp_path: Path, text: str | bytes, name: str = "people.json") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def _rows(table: Table) -> list[dict[str, str | None]]:
    return [row for batch in table.batches() for row in batch.to_pylist()]


def test_array_of_objects_keeps_exact_numbers_and_nested_json(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[{"id": 1, "price": 1.10, "tags": ["a", 2.50], "ok": true},\n'
        ' {"id": 123456789012345678901234, "extra": {"k": null}, "price": null}]',
    )
    assert detect(path) is Format.JSON
    (table,) = list(extract(path))
    assert table.name == "people"
    assert table.headers == ["id", "price", "tags", "ok", "extra"]  # every key, in order of first appearance
    assert _rows(table) == [
        {"id": "1", "price": "1.10", "tags": '["a",2.50]', "ok": "true", "extra": None},
        {"id": "123456789012345678901234", "price": None, "tags": None, "ok": None, "extra": '{"k":null}'},
    ]


def test_array_is_streamed_across_chunk_boundaries(tmp_path: Path) -> None:
    records = [{"n": i, "text": "x" * (i % 97), "v": i / 7} for i in range(30_000)]
    path = _write(tmp_path, json.dumps(records, indent=1))
    assert path.stat().st_size > 2 << 20  # several 1 MiB chunks
    (table,) = list(extract(path, batch_rows=7_000))
    assert [b.num_rows for b in table.batches()] == [7_000] * 4 + [2_000]
    rows = _rows(table)
    assert rows[29_999]["n"] == "29999"
    assert rows[12_345]["v"] == repr(12_345 / 7)


def test_json_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, b'\xef\xbb\xbf{"a": 1}\n\n{"b": "x", "a": 2}\n', "events.jsonl")
    assert detect(path) is Format.JSONL
    (table,) = list(extract(path))
    assert table.name == "events"
    assert _rows(table) == [{"a": "1", "b": None}, {"a": "2", "b": "x"}]


def test_json_lines_are_detected_by_content(tmp_path: Path) -> None:
    assert detect(_write(tmp_path, '{"a": 1}\n{"a": 2}\n', "upload.txt")) is Format.JSONL


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1}', "is an object; expected a JSON array of objects"),
        ('"hello"', "not an array"),
        ("[1, 2, 3]", "must be a JSON object, this one is int"),
        ('[{"a": 1}, [1]]', "must be a JSON object, this one is array"),
        ("[]", "has no records"),
        ('[{"a": 1}, {"a": 2', "not valid JSON"),
        ('[{"a": 1} {"a": 2}]', "expected ',' or ']'"),
        ('[{"a": 1}] trailing', "data after the end"),
    ],
)
def test_json_that_is_not_an_array_of_objects_is_an_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ExtractionError, match=message):
        list(extract(_write(tmp_path, text), format=Format.JSON))


def test_bad_element_reports_its_row(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError) as caught:
        list(extract(_write(tmp_path, '[{"a": 1}, {"a": 2}, "three"]')))
    assert caught.value.row == 3


def test_bad_json_line_reports_its_line(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="not valid JSON Lines") as caught:
        list(extract(_write(tmp_path, '{"a": 1}\n{"a": 2}\n{"a": \n', "x.jsonl")))
    assert caught.value.row == 3


def test_empty_json_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="is empty"):
        list(extract(_write(tmp_path, ""), format=Format.JSON))


def test_oversized_record_and_value_are_errors(tmp_path: Path) -> None:
    path = _write(tmp_path, json.dumps([{"a": "small"}, {"a": "x" * 5_000}]))
    with pytest.raises(ExtractionError, match="larger than 1000 bytes") as caught:
        list(extract(path, limits=Limits(max_json_record_bytes=1_000)))
    assert caught.value.row == 2
    (table,) = list(extract(path, limits=Limits(max_cell_bytes=1_000)))
    with pytest.raises(ExtractionError, match="larger than the limit") as caught:
        list(table.batches())
    assert (caught.value.row, caught.value.column) == (2, "a")


def test_too_many_keys_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, json.dumps([{f"k{i}": i for i in range(20)}]))
    with pytest.raises(ExtractionError, match="more than 10 distinct keys"):
        list(extract(path, limits=Limits(max_columns=10)))


def test_invalid_utf8_json_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="not valid UTF-8"):
        list(extract(_write(tmp_path, b'[{"a": "caf\xe9"}]')))
