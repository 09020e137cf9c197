"""`includeLinks`: each reference cell of a page gets `links`, the records it points to.

A reference field (`{ref: <sheet slug>, key: <field key>}`) holds the key value of a record of
another sheet of the same workbook; `links` lists the records of that sheet whose `key` cell
has the value (for a list, any of its values), as Flatfile's `CellValueWithLinks` does. One
query per reference field of the sheet, over the page's values; at most MAX_LINKS records per
cell. Opt-in, so the page is decoded and re-encoded only on this path.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import msgspec

from record_service.application.context import Sheet
from spaceport.contracts.blueprint import ReferenceField, ReferenceListField
from spaceport.readmodel import Conn

MAX_LINKS = 100


def reference_fields(sheet: Sheet) -> list[tuple[str, str, str]]:
    """(field key, referenced sheet slug, referenced key) of each reference field."""
    return [
        (f.key, f.config.ref, f.config.key)
        for f in sheet.config.fields
        if isinstance(f, ReferenceField | ReferenceListField)
    ]


def _values(cell: Any) -> list[str]:
    if not isinstance(cell, dict):
        return []
    value = cell.get("value")
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


async def attach(conn: Conn, sheet: Sheet, page: bytes) -> bytes:
    refs = reference_fields(sheet)
    if not refs:
        return page
    records: list[dict[str, Any]] = msgspec.json.decode(page)
    for key, slug, ref_key in refs:
        wanted = {v for record in records for v in _values(record.get("values", {}).get(key))}
        found: dict[str, list[Any]] = defaultdict(list)
        if wanted:
            rows = await conn.fetch(
                "SELECT r.cells->$3->>'value' AS k, json_build_object('id', r.id, 'values', r.cells, 'valid', r.valid,"
                " 'metadata', r.metadata, 'commitId', r.commit_id, 'versionId', r.commit_id)::text AS record"
                " FROM record r JOIN sheet s ON s.id = r.sheet_id"
                " WHERE s.workbook_id = $1 AND s.slug = $2 AND NOT s.deleted"
                " AND r.cells->$3->>'value' = ANY($4::text[])"
                " ORDER BY r.row_no",
                sheet.workbook_id,
                slug,
                ref_key,
                sorted(wanted),
            )
            for row in rows:
                if len(found[row["k"]]) < MAX_LINKS:
                    found[row["k"]].append(msgspec.Raw(row["record"].encode()))
        for record in records:
            cell = record.get("values", {}).get(key)
            if isinstance(cell, dict):
                cell["links"] = [link for v in _values(cell) for link in found.get(v, [])][:MAX_LINKS]
    return msgspec.json.encode(records)
