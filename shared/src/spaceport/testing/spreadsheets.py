"""Real XLSX workbooks written part by part, for tests (no XLSX writer is a dependency).

`xlsx_bytes({"Sheet": [[cell, ...], ...]})` / `build_xlsx(path, sheets)`. A cell: None (absent),
a str (inline text), ("n", "123") a number, ("d", "45292") a date-formatted serial (style 1 is
the date format 14), ("b", "1") a boolean, ("f", "A2*2", "84") a formula with its cached value.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

Cell = str | tuple[str, ...] | None

_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006"


def _ref(row: int, col: int) -> str:
    letters, n = "", col + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


def _cell(ref: str, value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(value)}</t></is></c>'
    kind, *rest = value
    if kind == "n":
        return f'<c r="{ref}"><v>{rest[0]}</v></c>'
    if kind == "d":
        return f'<c r="{ref}" s="1"><v>{rest[0]}</v></c>'
    if kind == "b":
        return f'<c r="{ref}" t="b"><v>{rest[0]}</v></c>'
    return f'<c r="{ref}"><f>{escape(rest[0])}</f><v>{rest[1]}</v></c>'


def build_xlsx(path: Path, sheets: dict[str, list[list[Cell]]]) -> Path:
    path.write_bytes(xlsx_bytes(sheets))
    return path


def xlsx_bytes(sheets: dict[str, list[list[Cell]]]) -> bytes:
    buffer = io.BytesIO()
    n = len(sheets)
    sheet_types = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, n + 1)
    )
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            f'<?xml version="1.0"?><Types xmlns="{_PKG}/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            f"{sheet_types}</Types>",
        )
        z.writestr(
            "_rels/.rels",
            f'<?xml version="1.0"?><Relationships xmlns="{_PKG}/relationships">'
            f'<Relationship Id="rId1" Type="{_R}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        entries = "".join(
            f'<sheet name="{escape(name)}" sheetId="{i}" r:id="rId{i}"/>' for i, name in enumerate(sheets, start=1)
        )
        z.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0"?><workbook {_NS} xmlns:r="{_R}"><sheets>{entries}</sheets></workbook>',
        )
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{_R}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, n + 1)
        )
        rels += f'<Relationship Id="rId{n + 1}" Type="{_R}/styles" Target="styles.xml"/>'
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<?xml version="1.0"?><Relationships xmlns="{_PKG}/relationships">{rels}</Relationships>',
        )
        z.writestr(
            "xl/styles.xml",
            f'<?xml version="1.0"?><styleSheet {_NS}><fonts count="1"><font/></fonts><fills count="1"><fill/>'
            '</fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
            '<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>',
        )
        for i, rows in enumerate(sheets.values(), start=1):
            body = "".join(
                f'<row r="{r + 1}">' + "".join(_cell(_ref(r, c), v) for c, v in enumerate(row)) + "</row>"
                for r, row in enumerate(rows)
            )
            z.writestr(
                f"xl/worksheets/sheet{i}.xml",
                f'<?xml version="1.0"?><worksheet {_NS}><sheetData>{body}</sheetData></worksheet>',
            )
    return buffer.getvalue()
