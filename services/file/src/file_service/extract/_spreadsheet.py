"""XLSX, XLSM, XLSB, XLS and ODS workbooks through python-calamine: every worksheet is a table.

Cells keep their real types as text: dates and times as ISO 8601, whole numbers without a ``.0``,
other numbers with the 15 significant digits a spreadsheet keeps, text (a phone number or a long
id typed as text) exactly as written, booleans as ``true``/``false``, formulas as their cached values.
Calamine loads one worksheet at a time into memory; a workbook is bounded by its sheets, not streamed."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import python_calamine as calamine

from ._detect import HEAD_BYTES, is_encrypted_ooxml
from ._headers import find_header_row, normalize_headers
from ._model import ExtractionError, Format, Limits, Table


def cell_text(value: Any) -> str:
    """The text of one spreadsheet cell, without losing digits or turning dates into serial numbers."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number_text(value)
    if isinstance(value, dt.date | dt.time | dt.timedelta):
        return _temporal_text(value)
    return str(value)


_EXACT = 2**53  # integers up to this are exact in a double


def _number_text(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) <= _EXACT:
        return str(int(value))  # every digit of an integer a double holds exactly (ids, card numbers)
    # A spreadsheet keeps 15 significant digits; more would be binary noise (0.1 + 0.2 → 0.3, as shown).
    number = Decimal(f"{value:.15g}")
    if number == number.to_integral_value():
        return str(int(number))
    return format(number, "f")


def _temporal_text(value: dt.date | dt.time | dt.timedelta) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    seconds = int(value.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    return f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _open(path: Path, what: str) -> Any:
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    if is_encrypted_ooxml(head):
        raise ExtractionError(f"{what} is password-protected; save it without a password and upload it again")
    try:
        return calamine.CalamineWorkbook.from_path(str(path))
    except calamine.PasswordError:
        raise ExtractionError(f"{what} is password-protected; save it without a password and upload it again") from None
    except (calamine.CalamineError, ValueError, OSError) as e:
        raise ExtractionError(f"{what} is not a readable workbook (corrupt or not a spreadsheet): {e}") from None


def extract_spreadsheet(path: Path, fmt: Format, name: str, limits: Limits, batch_rows: int) -> Iterator[Table]:
    what = path.name if name == path.stem else name
    workbook = _open(path, what)
    found = False
    try:
        metadata = workbook.sheets_metadata
        if not metadata:
            raise ExtractionError(f"{what} is not a readable workbook (corrupt: it lists no worksheets)")
        for meta in metadata:
            if meta.typ != calamine.SheetTypeEnum.WorkSheet:
                continue
            try:
                sheet = workbook.get_sheet_by_name(meta.name)
            except calamine.PasswordError:
                raise ExtractionError(f"{what} is password-protected", sheet=meta.name) from None
            except (calamine.CalamineError, ValueError) as e:
                raise ExtractionError(f"{what} has a corrupt worksheet: {e}", sheet=meta.name) from None
            table = _sheet_table(sheet, meta.name, fmt, limits, batch_rows)
            if table is not None:
                found = True
                yield table
    finally:
        workbook.close()
    if not found:
        raise ExtractionError(f"{what} has no worksheet with data")


def _sheet_table(sheet: Any, sheet_name: str, fmt: Format, limits: Limits, batch_rows: int) -> Table | None:
    if not sheet.height or not sheet.width:
        return None
    if sheet.width > limits.max_columns:
        raise ExtractionError(
            f"the worksheet has {sheet.width} columns, more than the limit of {limits.max_columns}", sheet=sheet_name
        )
    first_row = sheet.start[0] if sheet.start else 0
    head: list[list[str]] = []
    for row in sheet.iter_rows():
        head.append([cell_text(v) for v in row])
        if len(head) >= limits.header_scan_rows:
            break
    if not any(any(c.strip() for c in r) for r in head):
        return None
    index = find_header_row(head)
    headers = normalize_headers(head[index])
    skip = index + 1
    header_row = first_row + index + 1

    def read() -> Iterator[pa.RecordBatch]:
        schema = pa.schema([pa.field(h, pa.string()) for h in headers])
        columns: list[list[str]] = [[] for _ in headers]
        row_number = header_row
        rows = sheet.iter_rows()
        for _ in range(skip):
            next(rows, None)
        for row in rows:
            row_number += 1
            if not any(v not in (None, "") for v in row):
                continue  # blank rows between and after data are not records
            _append(columns, row, headers, limits, row_number=row_number, sheet=sheet_name)
            if len(columns[0]) >= batch_rows:
                yield _batch(columns, schema)
                columns = [[] for _ in headers]
        if columns[0]:
            yield _batch(columns, schema)

    return Table(
        name=sheet_name,
        headers=headers,
        header_row=header_row,
        format=fmt,
        read=read,
        sheet=sheet_name,
        total_rows=max(sheet.height - skip, 0),
    )


def _append(
    columns: list[list[str]], row: Sequence[Any], headers: list[str], limits: Limits, *, row_number: int, sheet: str
) -> None:
    cap = limits.max_cell_bytes
    for i, column in enumerate(columns):
        text = cell_text(row[i]) if i < len(row) else ""
        if len(text) * 4 > cap and len(text.encode()) > cap:
            raise ExtractionError(
                f"a cell of {len(text.encode())} bytes is larger than the limit of {cap}",
                row=row_number,
                column=headers[i],
                sheet=sheet,
            )
        column.append(text)


def _batch(columns: list[list[str]], schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array(c, pa.string()) for c in columns], schema=schema)
