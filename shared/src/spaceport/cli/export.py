"""`spaceport export SPACE_ID --out DIR`: every workbook and sheet of a space through the API,
records streamed page by page (JSON) or as the sheet's CSV download, plus `manifest.json`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from spaceport.cli.api import Api
from spaceport.cli.errors import CliError

PAGE_SIZE = 10_000

# (sheet label, records written so far, the sheet's record count)
Progress = Callable[[str, int, int], None]


def safe_name(name: str, taken: set[str]) -> str:
    """A file name from a workbook's or sheet's name, unique within its directory."""
    base = re.sub(r"[^\w.\- ]+", "_", name).strip(" .") or "unnamed"
    candidate, n = base, 2
    while candidate.lower() in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate.lower())
    return candidate


def export_space(api: Api, space_id: str, out: Path, fmt: str, progress: Progress | None = None) -> dict[str, Any]:
    """Write the space's sheets under `out`; returns (and writes) the manifest."""
    space = api.get(f"/spaces/{space_id}")
    workbooks = api.get("/workbooks", spaceId=space_id)
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "spaceId": space_id,
        "spaceName": space.get("name"),
        "environmentId": space.get("environmentId"),
        "exportedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "apiUrl": api.url,
        "format": fmt,
        "workbooks": [],
    }
    folders: set[str] = set()
    for workbook in workbooks:
        folder = safe_name(workbook.get("name") or workbook["id"], folders)
        (out / folder).mkdir(exist_ok=True)
        files: set[str] = {"manifest.json"}
        entry: dict[str, Any] = {"id": workbook["id"], "name": workbook.get("name"), "dir": folder, "sheets": []}
        for sheet in workbook.get("sheets") or []:
            name = safe_name(sheet.get("name") or sheet["id"], files)
            path = out / folder / f"{name}.{fmt}"
            total = int(((sheet.get("recordCounts") or {}).get("total")) or 0)
            label = f"{workbook.get('name')}/{sheet.get('name')}"
            written = (
                _csv(api, sheet["id"], path, label=label, total=total, progress=progress)
                if fmt == "csv"
                else _json(api, sheet["id"], path, label=label, total=total, progress=progress)
            )
            entry["sheets"].append({
                "id": sheet["id"], "name": sheet.get("name"), "slug": sheet.get("slug"),
                "file": f"{folder}/{path.name}", "records": written,
            })  # fmt: skip
        manifest["workbooks"].append(entry)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _json(api: Api, sheet_id: str, path: Path, *, label: str, total: int, progress: Progress | None) -> int:
    """The sheet's records as the API returns them, as one JSON array, a page at a time."""
    written = 0
    with path.open("w") as out:
        out.write("[")
        number = 1
        while True:
            page = api.get(f"/sheets/{sheet_id}/records", pageSize=PAGE_SIZE, pageNumber=number)
            records = page.get("records") or [] if isinstance(page, dict) else []
            for record in records:
                out.write(("," if written else "") + "\n" + json.dumps(record, ensure_ascii=False))
                written += 1
            if progress is not None:
                progress(label, written, max(total, written))
            if len(records) < PAGE_SIZE:
                break
            number += 1
        out.write("\n]\n")
    return written


def _csv(api: Api, sheet_id: str, path: Path, *, label: str, total: int, progress: Progress | None) -> int:
    """The sheet's CSV download (`GET /sheets/{id}/download`), streamed to the file."""
    lines = 0
    with api.stream(f"/sheets/{sheet_id}/download") as response, path.open("wb") as out:
        for chunk in response.iter_bytes():
            out.write(chunk)
            lines += chunk.count(b"\n")
            if progress is not None:
                progress(label, min(max(lines - 1, 0), total), total)
    if progress is not None:
        progress(label, total, total)
    if lines == 0 and path.stat().st_size == 0:
        raise CliError(f"the download of sheet {sheet_id} was empty")
    return total
