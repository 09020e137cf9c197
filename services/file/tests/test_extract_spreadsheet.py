"""Workbooks through python-calamine. No XLSX writer is installed (no openpyxl/xlsxwriter), so the tests
write the OOXML / OpenDocument parts themselves with ``zipfile``: small, but real files calamine reads."""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from file_service.extract import ExtractionError, Format, Limits, Table, detect, extract
from spaceport.testing.spreadsheets import build_xlsx

pytestmark = pytest.mark.unit


def build_ods(path: Path, sheets: dict[str, list[list[str]]]) -> Path:
    office = "urn:oasis:names:tc:opendocument:xmlns"
    tables = "".join(
        f'<table:table table:name="{escape(name)}">'
        + "".join(
            "<table:table-row>"
            + "".join(
                f'<table:table-cell office:value-type="string"><text:p>{escape(v)}</text:p></table:table-cell>'
                for v in row
            )
            + "</table:table-row>"
            for row in rows
        )
        + "</table:table>"
        for name, rows in sheets.items()
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED)
        z.writestr(
            "META-INF/manifest.xml",
            f'<?xml version="1.0"?><manifest:manifest xmlns:manifest="{office}:manifest:1.0" manifest:version="1.2">'
            '<manifest:file-entry manifest:full-path="/" '
            'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
            '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
            "</manifest:manifest>",
        )
        z.writestr(
            "content.xml",
            f'<?xml version="1.0"?><office:document-content xmlns:office="{office}:office:1.0" '
            f'xmlns:table="{office}:table:1.0" xmlns:text="{office}:text:1.0" office:version="1.2">'
            f"<office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body></office:document-content>",
        )
    return path


def _rows(table: Table) -> list[dict[str, str | None]]:
    return [row for batch in table.batches() for row in batch.to_pylist()]


def test_every_worksheet_is_a_table_with_real_cell_types(tmp_path: Path) -> None:
    path = build_xlsx(
        tmp_path / "book.xlsx",
        {
            "People": [
                ["id", "phone", "born", "score", "ratio", "active", "double", "big"],
                [
                    ("n", "1"),
                    "00441234567890",  # a phone number stored as text keeps its leading zeros
                    ("d", "45322"),  # 2024-01-31
                    ("n", "98765432101234"),  # a long whole number stays whole, every digit
                    ("n", "0.1"),
                    ("b", "1"),
                    ("f", "D2*2", "197530864202468"),  # a formula gives its cached value
                    "123456789012345678901234567890",  # a number stored as text stays text
                ],
            ],
            "Orders": [["order", "total"], ["A-1", ("n", "19.99")], ["A-2", ("n", "-3")]],
        },
    )
    assert detect(path) is Format.XLSX
    tables = list(extract(path))
    assert [t.name for t in tables] == ["People", "Orders"]
    people, orders = tables
    assert people.sheet == "People"
    assert people.header_row == 1
    assert _rows(people) == [
        {
            "id": "1",
            "phone": "00441234567890",
            "born": "2024-01-31",
            "score": "98765432101234",
            "ratio": "0.1",
            "active": "true",
            "double": "197530864202468",
            "big": "123456789012345678901234567890",
        }
    ]
    assert _rows(orders) == [{"order": "A-1", "total": "19.99"}, {"order": "A-2", "total": "-3"}]


def test_title_rows_duplicates_blank_rows_and_header_only_sheet(tmp_path: Path) -> None:
    path = build_xlsx(
        tmp_path / "report.xlsx",
        {
            "Report": [
                ["Monthly report"],
                [],
                ["name", "name", None, "email"],
                ["Ann", "A.", "x", "ann@example.com"],
                [],
                ["Bob", "B.", "y", "bob@example.com"],
            ],
            "Header only": [["a", "b"]],
            "Blank": [],
        },
    )
    report, header_only = list(extract(path, batch_rows=1))
    assert report.headers == ["name", "name_2", "column_3", "email"]
    assert report.header_row == 3
    batches = list(report.batches())
    assert [b.num_rows for b in batches] == [1, 1]
    assert report.rows_read == 2
    assert header_only.headers == ["a", "b"]
    assert list(header_only.batches()) == []


def test_ods_is_read(tmp_path: Path) -> None:
    path = build_ods(tmp_path / "book.ods", {"Sheet1": [["id", "name"], ["007", "Bond"]]})
    assert detect(path) is Format.ODS
    (table,) = list(extract(path))
    assert table.name == "Sheet1"
    assert _rows(table) == [{"id": "007", "name": "Bond"}]


def test_oversized_cell_reports_sheet_row_and_column(tmp_path: Path) -> None:
    path = build_xlsx(tmp_path / "big.xlsx", {"S": [["id", "blob"], ["1", "ok"], ["2", "x" * 3_000]]})
    (table,) = list(extract(path, limits=Limits(max_cell_bytes=1_000)))
    with pytest.raises(ExtractionError) as caught:
        list(table.batches())
    assert (caught.value.sheet, caught.value.row, caught.value.column) == ("S", 3, "blob")


def test_too_many_columns_is_an_error(tmp_path: Path) -> None:
    path = build_xlsx(tmp_path / "wide.xlsx", {"Wide": [[f"c{i}" for i in range(60)]]})
    with pytest.raises(ExtractionError, match="60 columns, more than the limit of 50") as caught:
        list(extract(path, limits=Limits(max_columns=50)))
    assert caught.value.sheet == "Wide"


def test_workbook_without_data_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="no worksheet with data"):
        list(extract(build_xlsx(tmp_path / "blank.xlsx", {"Sheet1": []})))


@pytest.mark.parametrize(
    "data",
    [
        b"PK\x03\x04" + b"\x00" * 200,  # a truncated zip
        b"PK\x03\x04 this is not really a zip file at all" * 10,
        b"not a workbook at all, just text",
    ],
)
def test_corrupt_xlsx_is_an_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(data)
    with pytest.raises(ExtractionError, match="not a readable workbook"):
        list(extract(path, format=Format.XLSX))


def test_xlsx_with_a_missing_part_is_an_error(tmp_path: Path) -> None:
    good = build_xlsx(tmp_path / "good.xlsx", {"S": [["a"], ["1"]]})
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            if item.filename != "xl/workbook.xml":
                dst.writestr(item, src.read(item))
    with pytest.raises(ExtractionError, match="not a readable workbook"):
        list(extract(broken))


def test_xlsx_with_a_corrupt_worksheet_is_an_error(tmp_path: Path) -> None:
    good = build_xlsx(tmp_path / "good.xlsx", {"S": [["a"], ["1"]]})
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data[:80] if item.filename == "xl/worksheets/sheet1.xml" else data)
    with pytest.raises(ExtractionError, match="corrupt") as caught:
        list(extract(broken))
    assert caught.value.sheet == "S"


def test_password_protected_xlsx_is_an_error(tmp_path: Path) -> None:
    # An encrypted OOXML workbook is an OLE2 compound file holding "EncryptionInfo" and "EncryptedPackage"
    # streams; the header and directory names are enough to recognise it (no encryptor is installed).
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    directory = "Root Entry".encode("utf-16-le").ljust(128, b"\x00")
    directory += "EncryptionInfo".encode("utf-16-le").ljust(128, b"\x00")
    directory += "EncryptedPackage".encode("utf-16-le").ljust(128, b"\x00")
    path = tmp_path / "secret.xlsx"
    path.write_bytes(ole + directory + b"\x00" * 1024)
    assert detect(path) is Format.XLSX
    with pytest.raises(ExtractionError, match="password-protected"):
        list(extract(path))


def test_xlsx_named_csv_is_detected_by_content(tmp_path: Path) -> None:
    xlsx = build_xlsx(tmp_path / "book.xlsx", {"S": [["a"], ["1"]]})
    renamed = tmp_path / "book.csv"
    renamed.write_bytes(xlsx.read_bytes())
    assert detect(renamed) is Format.XLSX
    assert [t.name for t in extract(renamed)] == ["S"]


def test_legacy_xls_is_read_with_every_worksheet_and_real_cell_types(tmp_path: Path) -> None:
    """A BIFF8 .xls (written with xlwt): two worksheets, a date, a 16-digit whole number, text
    that looks like a number. (xlwt writes formulas without a cached value, so none here.)"""
    import datetime  # noqa: PLC0415 - only this test needs it

    import xlwt  # type: ignore[import-untyped]  # noqa: PLC0415 - a dev-only writer of test files

    book = xlwt.Workbook()
    people = book.add_sheet("People")
    for column, header in enumerate(["id", "phone", "born", "card", "ratio"]):
        people.write(0, column, header)
    people.write(1, 0, 1)
    people.write(1, 1, "00441234567890")
    people.write(1, 2, datetime.date(2024, 1, 31), xlwt.easyxf(num_format_str="YYYY-MM-DD"))
    people.write(1, 3, 4111111111111111)
    people.write(1, 4, 0.1)
    orders = book.add_sheet("Orders")
    lines: list[list[str | float]] = [["order", "total"], ["A-1", 19.99], ["A-2", -3]]
    for row, values in enumerate(lines):
        for column, value in enumerate(values):
            orders.write(row, column, value)
    path = tmp_path / "legacy.xls"
    book.save(str(path))

    assert detect(path) is Format.XLS
    tables = list(extract(path))
    assert [t.name for t in tables] == ["People", "Orders"]
    first, second = tables
    assert _rows(first) == [
        {"id": "1", "phone": "00441234567890", "born": "2024-01-31", "card": "4111111111111111", "ratio": "0.1"}
    ]
    assert _rows(second) == [{"order": "A-1", "total": "19.99"}, {"order": "A-2", "total": "-3"}]
