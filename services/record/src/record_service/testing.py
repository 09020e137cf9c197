"""Fakes of the record application's ports, for tests that run without servers.

`FoldedRecords` answers `RecordReadModel` and `RecordQueries` by folding the event store's
events the way the records projection and KnownSpaces fold them into Postgres (rows in event
order, unique claims and waiters moved by each record event, commits by idempotency key).
With `lagging=True` it behaves like a projection that applied only what it was waited for: a
commit another writer made stays unseen until `catch_up`, so a write decides at a stale version.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec
import polars as pl

from record_service.application.context import Context, Sheet
from record_service.application.ports import CommitRow, CommitState, SheetRow
from spaceport import known_spaces
from spaceport.claimcheck import Payload
from spaceport.contracts.record import (
    CommitCompleted,
    CommitCreated,
    RecordQuery,
    RecordsDeleted,
    RecordsInserted,
    RecordsUpdated,
    StoredRecord,
)
from spaceport.contracts.workbook import (
    SheetAdded,
    SheetConfigChanged,
    SheetDeleted,
    SheetSpec,
    WorkbookCreated,
    WorkbookDeleted,
)
from spaceport.events import Event, StoredEvent
from spaceport.known_spaces import SpaceFact
from spaceport.ports import EventStorePort

_json = msgspec.json.Encoder()
_record_events: dict[str, msgspec.json.Decoder[Any]] = {
    "RecordsInserted": msgspec.json.Decoder(RecordsInserted),
    "RecordsUpdated": msgspec.json.Decoder(RecordsUpdated),
    "RecordsDeleted": msgspec.json.Decoder(RecordsDeleted),
    "CommitCreated": msgspec.json.Decoder(CommitCreated),
    "CommitCompleted": msgspec.json.Decoder(CommitCompleted),
}


@dataclass
class _Row:
    row_no: int
    record: StoredRecord


@dataclass
class _Folded:
    workbooks: dict[str, WorkbookCreated] = field(default_factory=dict)
    sheets: dict[str, SheetRow] = field(default_factory=dict)  # live sheets
    rows: dict[str, dict[str, _Row]] = field(default_factory=dict)  # sheet id -> record id -> row
    claims: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (sheet, name, value) -> record
    waiters: set[tuple[str, str, str, str]] = field(default_factory=set)  # (sheet, name, value, record)
    commits: dict[tuple[str, str], CommitRow] = field(default_factory=dict)  # (sheet, key) -> commit
    commit_states: dict[str, CommitState] = field(default_factory=dict)  # commit id -> its sheet, completed
    spaces: dict[str, SpaceFact] = field(default_factory=dict)


class FoldedRecords:
    """`RecordReadModel` and (its sessions) `RecordQueries`, folded from `store`."""

    def __init__(self, store: EventStorePort, *, lagging: bool = False) -> None:
        self.store = store
        self.lagging = lagging
        self.position = 0
        self.catch_ups = 0
        self._state = _Folded()

    # ---- RecordReadModel ----------------------------------------------------------------------

    async def sheet(self, sheet_id: str) -> SheetRow | None:
        return (await self._folded()).sheets.get(sheet_id)

    async def space(self, space_id: str, *, position: int) -> SpaceFact | None:
        await self._apply(position)
        return (await self._folded()).spaces.get(space_id)

    async def wait_for(self, position: int, timeout: float) -> bool:
        await self._apply(position)
        return True

    async def catch_up(self, timeout: float) -> bool:
        self.catch_ups += 1
        await self._apply(None)
        return True

    @asynccontextmanager
    async def session(self) -> AsyncIterator[FoldedRecords]:
        await self._folded()
        yield self

    # ---- RecordQueries ------------------------------------------------------------------------

    async def current(self, sheet_id: str, record_ids: Collection[str]) -> dict[str, StoredRecord]:
        rows = self._state.rows.get(sheet_id, {})
        return {i: rows[i].record for i in record_ids if i in rows}

    async def existing(self, sheet_id: str, record_ids: Collection[str]) -> list[str]:
        return list(await self.current(sheet_id, record_ids))

    async def matching(self, sheet: Sheet, query: RecordQuery) -> list[str]:
        return [r.record.id for r in self._selected(sheet.id, query)]

    async def matching_values(self, sheet: Sheet, query: RecordQuery, field_key: str) -> list[tuple[str, Any]]:
        return [(r.record.id, _value(r.record, field_key)) for r in self._selected(sheet.id, query)]

    async def claims_held(self, sheet_id: str, name: str, values: Collection[str]) -> dict[str, str]:
        held = self._state.claims
        return {v: held[(sheet_id, name, v)] for v in values if (sheet_id, name, v) in held}

    async def claims_of(self, sheet_id: str, record_ids: Collection[str]) -> list[tuple[str, str, str]]:
        held = self._state.claims.items()
        return [(rid, name, value) for (sid, name, value), rid in held if sid == sheet_id and rid in record_ids]

    async def waiters(self, sheet_id: str, released: Sequence[tuple[str, str]], excluded: Collection[str]) -> list[str]:
        rows = self._state.rows.get(sheet_id, {})
        waiting = sorted(
            (rows[rid].row_no, (name, value), rid)
            for sid, name, value, rid in self._state.waiters
            if sid == sheet_id and (name, value) in released and rid not in excluded and rid in rows
        )
        first: dict[tuple[str, str], tuple[int, str]] = {}
        for row_no, wanted, rid in waiting:
            first.setdefault(wanted, (row_no, rid))
        return list(dict.fromkeys(rid for _, rid in sorted(first.values())))

    async def waiters_of(self, sheet_id: str, record_ids: Collection[str]) -> list[str]:
        gone = set(record_ids)
        held = [(name, value) for rid, name, value in await self.claims_of(sheet_id, gone)]
        return await self.waiters(sheet_id, held, gone)

    async def linked_values(self, workbook_id: str, slug: str, key: str, values: Collection[str]) -> set[str]:
        sheets = [s.id for s in self._state.sheets.values() if s.workbook_id == workbook_id and s.slug == slug]
        found = {_text(_value(r.record, key)) for s in sheets for r in self._state.rows.get(s, {}).values()}
        return found.intersection(values)

    async def source_frame(self, sheet_id: str, keys: Sequence[str], after_row: int, limit: int) -> pl.DataFrame:
        rows = sorted(self._state.rows.get(sheet_id, {}).values(), key=lambda r: r.row_no)
        picked = [r for r in rows if r.row_no > after_row][:limit]
        data: dict[str, list[Any]] = {"row_no": [r.row_no for r in picked]}
        for key in keys:
            data[key] = [None if (v := _value(r.record, key)) is None else _text(v) for r in picked]
        return pl.DataFrame(data, schema={"row_no": pl.Int64, **dict.fromkeys(keys, pl.String)})

    async def commit_by_key(self, sheet_id: str, key: str) -> CommitRow | None:
        return self._state.commits.get((sheet_id, key))

    async def commit_state(self, commit_id: str) -> CommitState | None:
        return self._state.commit_states.get(commit_id)

    # ---- folding ------------------------------------------------------------------------------

    async def _folded(self) -> _Folded:
        if not self.lagging:
            await self._apply(None)
        return self._state

    async def _apply(self, position: int | None) -> None:
        if position is not None and position <= self.position:
            return
        async for stored in self.store.read(f"{self.store.prefix}.>", from_seq=self.position + 1):
            if position is not None and stored.seq > position:
                break
            _apply(self._state, stored)
            self.position = stored.seq

    def _selected(self, sheet_id: str, query: RecordQuery) -> list[_Row]:
        if query.search_value is not None or query.q or query.since_commit_id is not None or query.filter_field:
            raise NotImplementedError("FoldedRecords selects by filter and ids only")
        rows = sorted(self._state.rows.get(sheet_id, {}).values(), key=lambda r: r.row_no)
        wanted = {"valid": [True], "error": [False]}.get(query.filter or "all", [True, False])
        picked = [r for r in rows if r.record.valid in wanted]
        filtering = query.filter in ("valid", "error", "all")
        if query.ids:
            picked = [r for r in picked if (r.record.id in query.ids) != filtering]
        return picked


class InlinePayloads:
    """`Payloads` that always carry bodies inline (no claim-check bucket)."""

    async def pack(self, data: bytes) -> Payload:
        return Payload(data=data)

    async def unpack(self, payload: Payload) -> bytes:
        assert payload.ref is None, "InlinePayloads never stores bodies"
        return payload.data

    def inline_limit(self) -> int:
        return 1 << 62


def context(store: EventStorePort, *, lagging: bool = False) -> Context:
    """A record application context on `store`, with a folded read model and inline bodies."""
    return Context(store, FoldedRecords(store, lagging=lagging), InlinePayloads())


# ---- how each event changes the folded state (as the projections' SQL does) ---------------------


def _apply(state: _Folded, stored: StoredEvent) -> None:
    decoder = _record_events.get(stored.envelope.type)
    event = decoder.decode(stored.envelope.data) if decoder is not None else stored.event
    if isinstance(event, RecordsInserted | RecordsUpdated | RecordsDeleted | CommitCreated | CommitCompleted):
        if event.sheet_id not in state.sheets:
            return  # the sheet is unknown here (deleted before this projection existed)
        _records(state, event, stored)
        state.sheets[event.sheet_id] = msgspec.structs.replace(state.sheets[event.sheet_id], version=stored.seq)
    elif event is not None:
        _directory(state, event, stored.seq)


def _records(state: _Folded, event: Event, stored: StoredEvent) -> None:
    match event:
        case RecordsInserted(sheet_id=sheet_id, records=records):
            rows = state.rows.setdefault(sheet_id, {})
            start = max((r.row_no for r in rows.values()), default=0) + 1
            rows.update({r.id: _Row(start + n, r) for n, r in enumerate(records)})
            _hold(state, sheet_id, records)
        case RecordsUpdated(sheet_id=sheet_id, records=records):
            rows = state.rows.setdefault(sheet_id, {})
            _release(state, {r.id for r in records})
            rows.update({r.id: _Row(rows[r.id].row_no, r) for r in records if r.id in rows})
            _hold(state, sheet_id, records)
        case RecordsDeleted(sheet_id=sheet_id, record_ids=record_ids):
            _release(state, set(record_ids))
            for record_id in record_ids:
                state.rows.get(sheet_id, {}).pop(record_id, None)
        case CommitCreated() as e:
            state.commit_states.setdefault(
                e.commit_id, CommitState(id=e.commit_id, sheet_id=e.sheet_id, completed=False)
            )
            if e.idempotency_key is not None:
                row = CommitRow(id=e.commit_id, first_seq=stored.seq - e.events, last_seq=stored.seq)
                state.commits.setdefault((e.sheet_id, e.idempotency_key), row)
        case CommitCompleted() as e if e.commit_id in state.commit_states:
            state.commit_states[e.commit_id] = msgspec.structs.replace(state.commit_states[e.commit_id], completed=True)


def _hold(state: _Folded, sheet_id: str, records: Sequence[StoredRecord]) -> None:
    for r in records:
        state.claims.update({(sheet_id, name, value): r.id for name, value in r.claims.items()})
        state.waiters.update((sheet_id, name, value, r.id) for name, value in r.waits.items())


def _release(state: _Folded, record_ids: set[str]) -> None:
    state.claims = {k: rid for k, rid in state.claims.items() if rid not in record_ids}
    state.waiters = {w for w in state.waiters if w[3] not in record_ids}


def _directory(state: _Folded, event: Event, seq: int) -> None:
    match event:
        case WorkbookCreated() as e:
            state.workbooks[e.workbook_id] = e
            for spec in e.sheets:
                state.sheets[spec.sheet_id] = _sheet_row(e, spec, seq)
        case SheetAdded(sheet=spec) as e if e.workbook_id in state.workbooks:
            state.sheets[spec.sheet_id] = _sheet_row(state.workbooks[e.workbook_id], spec, seq)
        case SheetConfigChanged(sheet_id=sheet_id) as e if sheet_id in state.sheets:
            before = state.sheets[sheet_id]
            config = _json.encode(e.config).decode()
            state.sheets[sheet_id] = msgspec.structs.replace(
                before, config=config, slug=e.slug or before.slug, config_seq=seq
            )
        case SheetDeleted(sheet_id=sheet_id):
            state.sheets.pop(sheet_id, None)
        case WorkbookDeleted(workbook_id=workbook_id):
            state.sheets = {i: s for i, s in state.sheets.items() if s.workbook_id != workbook_id}
        case _:
            known_spaces.fold(state.spaces, event)


def _sheet_row(workbook: WorkbookCreated, spec: SheetSpec, seq: int) -> SheetRow:
    return SheetRow(
        id=spec.sheet_id,
        workbook_id=workbook.workbook_id,
        space_id=workbook.space_id,
        environment_id=workbook.environment_id,
        slug=spec.slug,
        config=_json.encode(spec.config).decode(),
        config_seq=seq,
        version=0,
    )


def _value(record: StoredRecord, key: str) -> Any:
    cell = record.values.get(key)
    return None if cell is None else cell.value


def _text(value: Any) -> str:
    """A value as Postgres' `->>` gives it: strings as they are, anything else as jsonb's text."""
    return value if isinstance(value, str) else _jsonb(value)


def _jsonb(value: Any) -> str:
    """jsonb's output form: numbers as numeric (no exponent, no negative zero), `, ` and `: `
    separators, object keys ordered by length, then bytes (how jsonb stores them)."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return _json.encode(value).decode()
    if isinstance(value, float):
        text = format(Decimal(repr(value)), "f")
        return text[1:] if text.startswith("-") and Decimal(text) == 0 else text
    if isinstance(value, list):
        return "[" + ", ".join(_jsonb(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(f"{_json.encode(k).decode()}: {_jsonb(value[k])}" for k in keys) + "}"
    return _json.encode(value).decode()
