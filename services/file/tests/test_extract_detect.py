"""Format detection and header handling."""

from __future__ import annotations

from pathlib import Path

import pytest

from file_service.extract import ExtractionError, Format, detect
from file_service.extract._headers import find_header_row, normalize_headers

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("head", "filename", "mimetype", "expected"),
    [
        (b"a,b\n1,2\n", "x.csv", "application/vnd.ms-excel", Format.CSV),  # browsers' CSV mimetype is ignored
        (b"a\tb\n1\t2\n", "x.tsv", None, Format.TSV),
        (b"a|b\n", "x.psv", None, Format.PSV),
        (b"a,b\n", None, "text/tab-separated-values", Format.TSV),
        (b"a,b\n", "notes.weird", None, Format.CSV),
        (b'[{"a": 1}]', "x.csv", None, Format.JSON),  # content wins over the name
        (b'{"a": 1}\n{"a": 2}\n', None, None, Format.JSONL),
        (b'{"a": 1}', "x.ndjson", None, Format.JSONL),
        (b'{"a": 1}', "x.json", None, Format.JSON),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", None, Format.XLS),
        (
            b"PK\x03\x04" + b"\x00" * 26 + b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet",
            None,
            None,
            Format.ODS,
        ),
        (b"PK\x03\x04" + b"\x00" * 100, "book.xlsb", None, Format.XLSB),
        (b"PK\x03\x04" + b"\x00" * 100, None, None, Format.XLSX),
        ("\ufeffid,name\n".encode("utf-16"), "x.csv", None, Format.CSV),
    ],
)
def test_detect_from_head_bytes(head: bytes, filename: str | None, mimetype: str | None, expected: Format) -> None:
    assert detect(head, filename, mimetype) is expected


def test_detect_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "data.tsv"
    path.write_bytes(b"a\tb\n")
    assert detect(path) is Format.TSV
    assert detect(str(path)) is Format.TSV


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"%PDF-1.4", "PDF"),
        (b"\x1f\x8b\x08\x00", "gzip"),
        (b"\x00\x01\x02", "binary"),
    ],
)
def test_detect_refuses_what_is_no_table(head: bytes, message: str) -> None:
    with pytest.raises(ExtractionError, match=message):
        detect(head, "x.csv")


def test_error_says_where() -> None:
    error = ExtractionError("a cell is too large", row=7, column="note", sheet="Orders")
    assert str(error) == "a cell is too large (sheet 'Orders', row 7, column 'note')"
    assert (error.message, error.row, error.column, error.sheet) == ("a cell is too large", 7, "note", "Orders")


def test_header_row_is_the_first_row_usually() -> None:
    assert find_header_row([["id", "name"], ["1", "Ann"], ["2", "Bob"]]) == 0


def test_header_row_skips_titles_and_blank_rows() -> None:
    rows = [["Report", "", ""], [], ["Generated 2024", "", ""], ["a", "b", "c"], ["1", "2", "3"], ["4", "5", ""]]
    assert find_header_row(rows) == 3


def test_numeric_first_row_is_still_the_header_when_nothing_better() -> None:
    assert find_header_row([["1", "2"], ["3", "4"]]) == 0


def test_normalize_headers() -> None:
    assert normalize_headers([" name ", "name", "", "name_2", "name", "  "]) == [
        "name",
        "name_3",
        "column_3",
        "name_2",
        "name_4",
        "column_6",
    ]
