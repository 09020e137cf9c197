"""What the feed remembers so that an event's context is complete (a sheet's slug, a workbook's
namespace, a job's type): small facts keyed by kind and id, folded from the same events.

`Lookups` is the in-memory view one batch works on: the projection loads the facts a batch
needs, the translation reads and changes them, and the changed ones are written back in the
batch's transaction (`lookup` table, one row per fact).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import msgspec

Json = dict[str, Any]
Kind = Literal["space", "workbook", "sheet", "job", "guest", "app"]


class SpaceInfo(msgspec.Struct, frozen=True, kw_only=True):
    environment_id: str
    namespace: str | None = None
    app_id: str | None = None  # the app the space belongs to: its events carry the app's namespace too


class WorkbookInfo(msgspec.Struct, frozen=True, kw_only=True):
    space_id: str
    environment_id: str
    name: str = ""
    namespace: str | None = None
    track_changes: bool = False


class SheetInfo(msgspec.Struct, frozen=True, kw_only=True):
    workbook_id: str
    slug: str
    name: str = ""


class JobInfo(msgspec.Struct, frozen=True, kw_only=True):
    job_type: str
    operation: str
    status: str
    info: str | None = None
    input: Json | None = None
    is_part: bool = False
    workbook_id: str | None = None
    sheet_id: str | None = None
    file_id: str | None = None
    document_id: str | None = None
    space_id: str | None = None  # erasure forgets a deleted space's jobs by it (spaceport.crypto)


class GuestInfo(msgspec.Struct, frozen=True, kw_only=True):
    space_ids: list[str] = msgspec.field(default_factory=list)


class AppInfo(msgspec.Struct, frozen=True, kw_only=True):
    environment_id: str
    namespace: str


Info: TypeAlias = SpaceInfo | WorkbookInfo | SheetInfo | JobInfo | GuestInfo | AppInfo
TYPES: dict[str, type[Info]] = {
    "space": SpaceInfo,
    "workbook": WorkbookInfo,
    "sheet": SheetInfo,
    "job": JobInfo,
    "guest": GuestInfo,
    "app": AppInfo,
}
_decoders = {kind: msgspec.json.Decoder(cls) for kind, cls in TYPES.items()}
_encoder = msgspec.json.Encoder()


def decode(kind: str, info: str | bytes) -> Info:
    value: Info = _decoders[kind].decode(info)
    return value


def encode(info: Info) -> str:
    return _encoder.encode(info).decode()


@dataclass
class Lookups:
    """Facts by (kind, id); `changed` says which to write back."""

    facts: dict[tuple[str, str], Info] = field(default_factory=dict)
    changed: set[tuple[str, str]] = field(default_factory=set)

    def space(self, space_id: str | None) -> SpaceInfo | None:
        found = self.facts.get(("space", space_id or ""))
        return found if isinstance(found, SpaceInfo) else None

    def workbook(self, workbook_id: str | None) -> WorkbookInfo | None:
        found = self.facts.get(("workbook", workbook_id or ""))
        return found if isinstance(found, WorkbookInfo) else None

    def sheet(self, sheet_id: str | None) -> SheetInfo | None:
        found = self.facts.get(("sheet", sheet_id or ""))
        return found if isinstance(found, SheetInfo) else None

    def job(self, job_id: str) -> JobInfo | None:
        found = self.facts.get(("job", job_id))
        return found if isinstance(found, JobInfo) else None

    def guest(self, guest_id: str) -> GuestInfo:
        found = self.facts.get(("guest", guest_id))
        return found if isinstance(found, GuestInfo) else GuestInfo()

    def app(self, app_id: str | None) -> AppInfo | None:
        found = self.facts.get(("app", app_id or ""))
        return found if isinstance(found, AppInfo) else None

    def put(self, kind: Kind, key: str, info: Info) -> None:
        self.facts[(kind, key)] = info
        self.changed.add((kind, key))

    def take_changed(self) -> list[tuple[str, str, str]]:
        """(kind, id, encoded fact) of every fact changed since the last call."""
        rows = [(kind, key, encode(self.facts[(kind, key)])) for kind, key in sorted(self.changed)]
        self.changed.clear()
        return rows
