"""The decisions of a write that need the rest of the sheet: uniqueness and reference links.

Taken against the read model at the sheet's version (`RecordQueries`); the append is guarded
by that version, so a write another replica got in first with is decided again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from record_service.application.context import Sheet
from record_service.application.ports import RecordQueries
from record_service.domain import records as domain
from record_service.domain.validation import FieldRule, error, is_empty
from spaceport.contracts.record import StoredRecord


async def checked(
    q: RecordQueries,
    sheet: Sheet,
    records: list[StoredRecord],
    deleted: Sequence[str] = (),
    *,
    replaces: bool = False,
    held_now: Sequence[tuple[str, str, str]] | None = None,
) -> list[StoredRecord]:
    """Uniqueness across the sheet (first holder wins) and reference links.

    With `replaces` (updates, deletes) the values the written and `deleted` records give up
    are freed: the first record (by row) flagged as a duplicate of each freed value is decided
    again in this commit, ahead of the written records, and its new state is returned first.
    With `held_now` (the (record, name, value) claims the records hold: validating them again)
    the records keep the values they still want: only the values they give up are freed, so a
    value never moves from its holder to a record that waits for it.
    """
    uniques = sheet.schema.uniques
    if not uniques:
        return await linked(q, sheet, records) if records else records
    gone = {r.id for r in records}.union(deleted)
    if held_now is None and replaces and not records:  # a delete frees every value its records hold
        released, healed = [], await _current(q, sheet, await q.waiters_of(sheet.id, gone))
    elif held_now is not None or replaces:
        claims = held_now if held_now is not None else await q.claims_of(sheet.id, gone)
        released = domain.released_claims(uniques, claims, records)
        healed = await _waiters(q, sheet, released, gone)
    else:
        released, healed = [], []
    candidates = healed + records
    excluded = gone.union(r.id for r in healed)
    freed = set(released)

    def kept(name: str, value: str, holder: str) -> bool:
        if held_now is not None:
            return (name, value) not in freed
        return holder not in excluded  # claims of records this write rewrites or deletes are decided again

    held: dict[str, dict[str, str]] = {}
    for name, values in domain.wanted_claims(uniques, candidates).items():
        if values:
            found = await q.claims_held(sheet.id, name, set(values.values()))
            held[name] = {value: holder for value, holder in found.items() if kept(name, value, holder)}
    checked = domain.apply_uniques(uniques, candidates, lambda name: held.get(name, {}))
    return await linked(q, sheet, checked)


async def _waiters(
    q: RecordQueries, sheet: Sheet, released: Sequence[tuple[str, str]], gone: set[str]
) -> list[StoredRecord]:
    """Current state (without unique messages) of the first record flagged for each released
    value, in row order."""
    if not released:
        return []
    return await _current(q, sheet, await q.waiters(sheet.id, released, gone))


async def _current(q: RecordQueries, sheet: Sheet, order: list[str]) -> list[StoredRecord]:
    current = await q.current(sheet.id, order)
    return [domain.strip_uniques(current[i]) for i in order if i in current]


async def linked(q: RecordQueries, sheet: Sheet, records: list[StoredRecord]) -> list[StoredRecord]:
    """References: a value not found under `key` in the referenced sheet gets an `unlinked` error."""
    for rule in sheet.schema.rules.values():
        if rule.ref is not None:
            records = await _link(q, sheet, rule, records)
    return records


async def _link(q: RecordQueries, sheet: Sheet, rule: FieldRule, records: list[StoredRecord]) -> list[StoredRecord]:
    assert rule.ref is not None
    slug, ref_key = rule.ref
    wanted = {str(v) for rec in records for v in _ref_values(rec, rule.key)}
    if not wanted:
        return records
    found = await q.linked_values(sheet.workbook_id, slug, ref_key, wanted)
    return [_unlink(rec, rule.key, found) for rec in records]


def _ref_values(record: StoredRecord, key: str) -> list[Any]:
    cell = record.values.get(key)
    if cell is None or is_empty(cell.value):
        return []
    return cell.value if isinstance(cell.value, list) else [cell.value]


def _unlink(record: StoredRecord, key: str, found: set[str]) -> StoredRecord:
    """The cell's `unlinked` message decided again (an unchanged cell keeps an earlier one)."""
    cell = record.values.get(key)
    if cell is None:
        return record
    stale = any(m.source == "unlinked" for m in cell.messages)
    missing = [v for v in _ref_values(record, key) if str(v) not in found]
    if not missing and not stale:
        return record
    messages = [m for m in cell.messages if m.source != "unlinked"] if stale else list(cell.messages)
    if missing:
        messages.append(error(f"no record in the referenced sheet has {missing[0]!r}", "unlinked", key))
    valid = not any(m.type == "error" for m in messages)
    values = {**record.values, key: msgspec.structs.replace(cell, valid=valid, messages=messages)}
    done = domain.finish(record.id, values, record.metadata, record.config)
    return msgspec.structs.replace(done, claims=record.claims, waits=record.waits)
