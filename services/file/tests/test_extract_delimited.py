"""Delimited text: delimiters, quoting, encodings, header rows, and every bad input with its location."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

from file_service.extract import ExtractionError, Format, Limits, Table, extract

pytestmark = pytest.mark.unit


def _write(tmp_path: Path, data: bytes, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _one(path: Path, **kwargs: object) -> Table:
    tables = list(extract(path, **kwargs))  # type: ignore[arg-type]
    assert len(tables) == 1
    return tables[0]


def _rows(table: Table) -> list[dict[str, str | None]]:
    out: list[dict[str, str | None]] = []
    for batch in table.batches():
        assert all(f.type == pa.string() for f in batch.schema)
        out.extend(batch.to_pylist())
    return out


@pytest.mark.parametrize(
    ("name", "delimiter"),
    [("people.csv", ","), ("people.tsv", "\t"), ("people.psv", "|"), ("people.csv", ";"), ("people.txt", "\t")],
)
def test_delimiter_is_detected_from_the_content(tmp_path: Path, name: str, delimiter: str) -> None:
    body = delimiter.join(["id", "name", "city"]) + "\n" + delimiter.join(["1", "Ann", "Paris, TX"]) + "\n"
    if delimiter == ",":
        body = 'id,name,city\n1,Ann,"Paris, TX"\n'
    table = _one(_write(tmp_path, body.encode(), name))
    assert table.delimiter == delimiter
    assert table.name == "people"
    assert table.headers == ["id", "name", "city"]
    assert table.header_row == 1
    assert _rows(table) == [{"id": "1", "name": "Ann", "city": "Paris, TX"}]


def test_quoted_fields_keep_embedded_newlines_quotes_and_delimiters(tmp_path: Path) -> None:
    data = (
        b'id,note,phone\r\n1,"line one\r\nline two","0044 20 7946 0958"\r\n2,"she said ""hi"", then left",+15550100\r\n'
    )
    rows = _rows(_one(_write(tmp_path, data)))
    assert rows == [
        {"id": "1", "note": "line one\r\nline two", "phone": "0044 20 7946 0958"},
        {"id": "2", "note": 'she said "hi", then left', "phone": "+15550100"},
    ]


def test_values_stay_text_with_every_digit(tmp_path: Path) -> None:
    data = b"id,amount,when\n000123,12345678901234567890,2024-01-31\n"
    assert _rows(_one(_write(tmp_path, data))) == [
        {"id": "000123", "amount": "12345678901234567890", "when": "2024-01-31"}
    ]


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        ("id,name\n1,Zoë Besançon\n".encode(), "utf-8"),
        (b"\xef\xbb\xbf" + "id,name\n1,Zoë Besançon\n".encode(), "utf-8-sig"),
        ("id,name\n1,Zoë Besançon\n".encode("utf-16"), "utf-16"),  # LE with BOM on this machine
        (b"\xfe\xff" + "id,name\n1,Zoë Besançon\n".encode("utf-16-be"), "utf-16"),
        ("id,name\n1,Zoë Besançon \u2013 \u201ccrème\u201d\n".encode("cp1252"), "cp1252"),
    ],
)
def test_encodings_are_detected_and_transcoded(tmp_path: Path, encoded: bytes, encoding: str) -> None:
    table = _one(_write(tmp_path, encoded))
    assert table.encoding == encoding
    assert table.headers == ["id", "name"]
    rows = _rows(table)
    assert rows[0]["name"] is not None
    assert rows[0]["name"].startswith("Zoë Besançon")


def test_cyrillic_windows_1251_is_not_read_as_western(tmp_path: Path) -> None:
    table = _one(_write(tmp_path, "id,имя\n1,Привет мир, как дела сегодня\n".replace(", как", " как").encode("cp1251")))
    assert table.encoding == "cp1251"
    assert table.headers == ["id", "имя"]


def test_title_rows_above_the_header_are_skipped(tmp_path: Path) -> None:
    data = b"Quarterly sales report,,\nGenerated 2024-04-01,,\n\nregion,rep,total\nNorth,Ann,10\nSouth,Bob,12\n"
    table = _one(_write(tmp_path, data))
    assert table.headers == ["region", "rep", "total"]
    assert table.header_row == 4
    assert [r["rep"] for r in _rows(table)] == ["Ann", "Bob"]


def test_title_row_without_padding_is_skipped(tmp_path: Path) -> None:
    table = _one(_write(tmp_path, b"Export of people\nid,name\n1,Ann\n"))
    assert (table.headers, table.header_row) == (["id", "name"], 2)


def test_duplicate_and_blank_headers_are_made_unique(tmp_path: Path) -> None:
    table = _one(_write(tmp_path, b"name,name,,email,name\na,b,c,d,e\n"))
    assert table.headers == ["name", "name_2", "column_3", "email", "name_3"]
    assert _rows(table) == [{"name": "a", "name_2": "b", "column_3": "c", "email": "d", "name_3": "e"}]


def test_header_only_is_a_table_with_zero_rows(tmp_path: Path) -> None:
    table = _one(_write(tmp_path, b"id,name,email\n"))
    assert table.headers == ["id", "name", "email"]
    assert list(table.batches()) == []
    assert table.rows_read == 0
    assert table.schema.names == ["id", "name", "email"]


def test_batches_have_batch_rows_rows_and_count(tmp_path: Path) -> None:
    data = b"n,sq\n" + b"".join(f"{i},{i * i}\n".encode() for i in range(2_500))
    table = _one(_write(tmp_path, data), batch_rows=1_000, limits=Limits(block_size=4096))
    sizes = [b.num_rows for b in table.batches()]
    assert sizes == [1_000, 1_000, 500]
    assert table.rows_read == 2_500
    again = [b.num_rows for b in table.batches()]  # re-readable
    assert again == sizes


def test_empty_lines_are_ignored(tmp_path: Path) -> None:
    assert len(_rows(_one(_write(tmp_path, b"a,b\n1,2\n\n\n3,4\n\n")))) == 2


@pytest.mark.parametrize("data", [b"", b"   \n\n", b"\xef\xbb\xbf"])
def test_empty_file_is_an_error(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ExtractionError, match="is empty"):
        list(extract(_write(tmp_path, data)))


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (bytes(range(256)) * 20, "binary data"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
    ],
)
def test_binary_data_named_csv_is_an_error(tmp_path: Path, data: bytes, what: str) -> None:
    with pytest.raises(ExtractionError, match=what):
        list(extract(_write(tmp_path, data)))


def test_binary_data_with_forced_csv_format_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="binary data"):
        list(extract(_write(tmp_path, b"\x00\x01\x02garbage\x00" * 100), Format.CSV))


def test_ragged_row_is_reported_with_its_row(tmp_path: Path) -> None:
    table = _one(_write(tmp_path, b"a,b,c\n1,2,3\n4,5,6\n7,8\n9,10,11\n"))
    with pytest.raises(ExtractionError, match="2 cells but the header has 3") as caught:
        list(table.batches())
    assert caught.value.row == 4
    assert "row 4" in str(caught.value)


def test_ragged_row_counts_title_rows(tmp_path: Path) -> None:
    table = _one(_write(tmp_path, b"Report\na,b\n1,2\n3,4,5\n"))
    with pytest.raises(ExtractionError, match="3 cells") as caught:
        list(table.batches())
    assert caught.value.row == 4


def test_oversized_cell_is_reported_with_row_and_column(tmp_path: Path) -> None:
    data = b"id,blob\n1,small\n2," + b"x" * 2_000 + b"\n"
    table = _one(_write(tmp_path, data), limits=Limits(max_cell_bytes=1_000))
    with pytest.raises(ExtractionError, match="larger than the limit of 1000") as caught:
        list(table.batches())
    assert (caught.value.row, caught.value.column) == (3, "blob")


def test_row_larger_than_a_block_is_an_error(tmp_path: Path) -> None:
    data = b"id,blob\n1,small\n2," + b"x" * 5_000 + b"\n"
    table = _one(_write(tmp_path, data), limits=Limits(block_size=1_024))
    with pytest.raises(ExtractionError, match="larger than 1024 bytes"):
        list(table.batches())


def test_invalid_utf8_after_the_sample_is_reported_with_row_and_column(tmp_path: Path) -> None:
    lines = [b"id,name\n"] + [f"{i},ok\n".encode() for i in range(1, 400)] + [b"400,caf\xe9\n"]
    table = _one(_write(tmp_path, b"".join(lines)), limits=Limits(sample_bytes=256, block_size=1_024))
    assert table.encoding == "utf-8"
    with pytest.raises(ExtractionError, match="not valid UTF-8") as caught:
        list(table.batches())
    assert (caught.value.row, caught.value.column) == (401, "name")


def test_invalid_utf8_in_a_file_declared_utf8(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="not valid UTF-8") as caught:
        list(extract(_write(tmp_path, b"id,name\n1,caf\xe9\n"), encoding="utf-8"))
    assert caught.value.row == 2


def test_too_many_columns_is_an_error(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(10_001)).encode()
    with pytest.raises(ExtractionError, match="10001 columns, more than the limit of 5000"):
        list(extract(_write(tmp_path, header + b"\n" + b"1," * 10_000 + b"1\n")))


def test_name_overrides_the_stored_file_name(tmp_path: Path) -> None:
    table = _one(_write(tmp_path, b"a\n1\n", "upload-7f3a.bin"), format=Format.CSV, name="customers")
    assert table.name == "customers"


def test_undecodable_byte_after_the_sample_of_a_transcoded_file(tmp_path: Path) -> None:
    # Detected as Windows-1252 from the sample; 0x81 (undefined there) comes later.
    lines = ["id,name\n"] + [f"{i},Zoë\n" for i in range(1, 400)]
    data = "".join(lines).encode("cp1252") + b"400,bad\x81\n"
    table = _one(_write(tmp_path, data), limits=Limits(sample_bytes=256, block_size=1_024))
    assert table.encoding == "cp1252"
    bad = bytes([0x81])
    expected = f"not valid cp1252: bytes {bad!r} at byte offset {len(data) - 2}"
    with pytest.raises(ExtractionError, match=re.escape(expected)):
        list(table.batches())


def test_latin1_only_bytes_are_read_as_latin1(tmp_path: Path) -> None:
    table = _one(_write(tmp_path, "id,name\n1,Zoë Besançon\n".encode("latin-1") + b"2,x\x81y\n"))
    assert table.encoding == "latin-1"
    assert _rows(table)[1] == {"id": "2", "name": "x\x81y"}
