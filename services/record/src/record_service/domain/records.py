"""Deciding a write: request bodies -> validated records -> the events of one commit. Pure.

`build_inserts`/`build_updates` turn decoded bodies into `StoredRecord`s (full state, cells in
wire form; a record's `config` from POST's reserved key `__c` or PUT's `config`); `revalidate`
decides a stored record again against the sheet's current fields; `apply_uniques` adds
unique-constraint errors given the values already held in the sheet; `commit_events` splits
the records into events of at most 1,000 records and ~512 KB and appends the `CommitCreated`
that closes the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import msgspec

from record_service.domain.keys import RecordIds, fresh_record_id
from record_service.domain.validation import (
    NO_MESSAGES,
    SERVER_SOURCES,
    Schema,
    UniqueKey,
    coerce,
    error,
    is_empty,
    unique_value,
)
from spaceport.contracts.record import (
    MAX_CELL_BYTES,
    MAX_EVENT_BYTES,
    MAX_RECORDS_PER_EVENT,
    Cell,
    CellConfig,
    CommitCompleted,
    CommitCreated,
    CommitSource,
    Message,
    RawRecordsInserted,
    RawRecordsUpdated,
    RecordConfig,
    RecordsDeleted,
    RecordsRestored,
    RestoredClaim,
    StoredRecord,
)
from spaceport.errors import ForbiddenError, ValidationFailedError
from spaceport.events import Event
from spaceport.nul import nul_at


class InCell(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    value: Any = msgspec.UNSET
    messages: list[Message] | None = None
    metadata: dict[str, Any] | None = None


CellInput = InCell | str | int | float | bool | None | list[Any]


class UpdateItem(msgspec.Struct, frozen=True, kw_only=True):
    """`config` None: unchanged; `{}` clears it."""

    id: str
    values: dict[str, CellInput] = msgspec.field(default_factory=dict)
    metadata: dict[str, Any] | None = None
    config: RecordConfig | None = None


CONFIG_KEY = "__c"  # a POST record's config (Flatfile's v2 records.jsonl key); not a field key
INSERT_BODY = msgspec.json.Decoder(list[dict[str, CellInput]])
UPDATE_BODY = msgspec.json.Decoder(list[UpdateItem])
_RAW_INSERTS = msgspec.json.Decoder(list[dict[str, msgspec.Raw]])
_CELL_INPUT: msgspec.json.Decoder[CellInput] = msgspec.json.Decoder(CellInput)
_RECORD_CONFIG = msgspec.json.Decoder(RecordConfig)
_encoder = msgspec.json.Encoder()


def decode_body(decoder: msgspec.json.Decoder[Any], body: bytes) -> Any:
    try:
        decoded = decoder.decode(body)
    except msgspec.ValidationError as problem:
        raise ValidationFailedError(f"invalid records body: {problem}") from None
    except msgspec.DecodeError as problem:
        raise ValidationFailedError(f"malformed JSON body: {problem}") from None
    except RecursionError:  # msgspec's guard against deeply nested input, not a DecodeError
        raise ValidationFailedError("malformed JSON body: nested too deeply") from None
    if b"\\u0000" in body:  # only an escaped NUL is valid JSON: look for it only then
        refuse_nul(msgspec.json.decode(body))
    return decoded


def refuse_nul(value: Any) -> None:
    """400 for a NUL character in any string of a records body (a value, a key, metadata):
    Postgres text and jsonb cannot hold one, so the records would be accepted and then never
    reach the read model (found: `POST …/records` answered 200 and the record was gone)."""
    if (found := nul_at(value)) is not None:
        where = f"{found.jsonpath} (a key)" if found.in_key else found.jsonpath
        raise ValidationFailedError(f"invalid records body: a NUL character at `{where}`; remove it and retry")


def decode_inserts(body: bytes) -> tuple[list[dict[str, CellInput]], list[RecordConfig | None] | None]:
    """A POST body and, when some record carries `__c`, each record's config (else None).

    Only a body that mentions `"__c"` takes the slower two-step decode."""
    if b'"__c"' not in body:
        return decode_body(INSERT_BODY, body), None
    rows: list[dict[str, CellInput]] = []
    configs: list[RecordConfig | None] = []
    for n, raw in enumerate(decode_body(_RAW_INSERTS, body)):
        config = raw.pop(CONFIG_KEY, None)
        configs.append(None if config is None else normal_config(_part(_RECORD_CONFIG, config, f"{n}].__c")))
        rows.append({key: _part(_CELL_INPUT, value, f"{n}].{key}") for key, value in raw.items()})
    return rows, configs if any(c is not None for c in configs) else None


def _part(decoder: msgspec.json.Decoder[Any], raw: msgspec.Raw, where: str) -> Any:
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as problem:
        raise ValidationFailedError(f"invalid records body at $[{where}: {problem}") from None


def normal_config(config: RecordConfig | None) -> RecordConfig | None:
    """None for a config that says nothing (`{}`, only nulls, empty `fields`)."""
    if config is None:
        return None
    fields = {k: c for k, c in (config.fields or {}).items() if c != CellConfig()} or None
    if config.readonly is None and fields is None and config.marked_for_deletion is None:
        return None
    return config if fields == config.fields else msgspec.structs.replace(config, fields=fields)


def _check_config(schema: Schema, config: RecordConfig | None) -> None:
    for key in (config.fields or {}) if config is not None else ():
        if key not in schema.rules and not schema.allow_additional:
            raise ValidationFailedError(f"config.fields names {key!r}, which is not a field of the sheet", key="config")


def _incell(raw: CellInput) -> InCell:
    return raw if isinstance(raw, InCell) else InCell(value=raw)


def _check_keys(schema: Schema, keys: Iterable[str]) -> None:
    for key in keys:
        if key not in schema.rules and not schema.allow_additional:
            raise ValidationFailedError(f"unknown field {key!r}: it is not in the sheet's fields", key=key)


def _check_size(key: str, value: Any) -> None:
    if isinstance(value, str) and len(value) > MAX_CELL_BYTES // 4 and len(value.encode()) > MAX_CELL_BYTES:
        raise ValidationFailedError(f"value of {key!r} is larger than {MAX_CELL_BYTES} bytes", key=key)
    if isinstance(value, list) and len(_encoder.encode(value)) > MAX_CELL_BYTES:
        raise ValidationFailedError(f"value of {key!r} is larger than {MAX_CELL_BYTES} bytes", key=key)


def make_cell(schema: Schema, key: str, incoming: InCell, previous: Cell | None, now: datetime) -> Cell:
    """A cell's new state: the server's messages for its value plus the client's own messages."""
    value = incoming.value if incoming.value is not msgspec.UNSET else (previous.value if previous else None)
    if value.__class__ is not str or len(value) > MAX_CELL_BYTES // 4:
        _check_size(key, value)
    if incoming.messages is None and previous is None:
        rule = schema.rule(key)
        stored, server = coerce(rule, value) if rule is not None else (value, NO_MESSAGES)
        valid = not server or not any(m.type == "error" for m in server)
        return Cell(value=stored, valid=valid, messages=server, updated_at=now)
    if incoming.messages is not None:
        client = incoming.messages
    else:
        client = [m for m in previous.messages if m.source not in SERVER_SOURCES] if previous else []
    rule = schema.rule(key)
    stored, server = coerce(rule, value) if rule is not None else (value, [])
    messages = server + client if client else server
    valid = not any(m.type == "error" for m in messages)
    return Cell(value=stored, valid=valid, messages=messages, updated_at=now)


def finish(
    record_id: str, values: dict[str, Cell], metadata: dict[str, Any], config: RecordConfig | None = None
) -> StoredRecord:
    errors = [k for k, c in values.items() if not c.valid]
    return StoredRecord(
        id=record_id, values=values, valid=not errors, metadata=metadata, error_fields=errors, config=config
    )


def build_inserts(
    schema: Schema,
    body: list[dict[str, CellInput]],
    now: datetime,
    record_id: RecordIds = fresh_record_id,
    configs: Sequence[RecordConfig | None] | None = None,
) -> list[StoredRecord]:
    """`configs`: each record's config (`decode_inserts`), None when no record has one."""
    required = [r for r in schema.rules.values() if r.required]
    out: list[StoredRecord] = []
    for config in configs or ():
        _check_config(schema, config)
    for n, raw in enumerate(body):
        _check_keys(schema, raw)
        values = {k: make_cell(schema, k, _incell(v), None, now) for k, v in raw.items()}
        for rule in required:
            if rule.key not in values:
                values[rule.key] = make_cell(schema, rule.key, InCell(value=None), None, now)
        metadata: dict[str, Any] = {}
        for v in raw.values():
            if isinstance(v, InCell) and v.metadata:
                metadata.update(v.metadata)
        out.append(finish(record_id(n), values, metadata, configs[n] if configs else None))
    return out


def build_updates(
    schema: Schema, items: Sequence[UpdateItem], current: dict[str, StoredRecord], now: datetime
) -> list[StoredRecord]:
    """Merge each item into the record's current state; unknown ids are a 404-like refusal."""
    out: list[StoredRecord] = []
    for item in items:
        before = current.get(item.id)
        if before is None:
            raise ValidationFailedError(f"record {item.id} is not in this sheet", key="id")
        _check_keys(schema, item.values)
        values = dict(before.values)
        for key, raw in item.values.items():
            values[key] = make_cell(schema, key, _incell(raw), before.values.get(key), now)
        metadata = before.metadata if item.metadata is None else item.metadata
        config = before.config if item.config is None else normal_config(item.config)
        if item.config is not None:
            _check_config(schema, config)
        # unique-constraint messages of cells not written here are decided again too
        out.append(strip_uniques(finish(item.id, values, metadata, config)))
    return out


def revalidate(schema: Schema, record: StoredRecord, now: datetime) -> StoredRecord:
    """The stored record decided again against the sheet's current `schema` (POST …/validate):
    every cell's server messages recomputed from its stored value (client messages stay; a cell
    under a removed field keeps only those), a missing required cell added, unique messages
    stripped (the caller decides uniqueness and links again). Compare with `unchanged`."""
    values = {key: make_cell(schema, key, InCell(), cell, now) for key, cell in record.values.items()}
    for rule in schema.rules.values():
        if rule.required and rule.key not in values:
            values[rule.key] = make_cell(schema, rule.key, InCell(value=None), None, now)
    return strip_uniques(finish(record.id, values, record.metadata, record.config))


def _message_key(m: Message) -> tuple[str, str, str, str, str]:
    return (m.source, m.type, m.message, m.field or "", m.path or "")


def same_cell(a: Cell, b: Cell) -> bool:
    """Same value, validity and messages (in any order); `updatedAt` aside."""
    if a.value != b.value or a.valid != b.valid or len(a.messages) != len(b.messages):
        return False
    return sorted(map(_message_key, a.messages)) == sorted(map(_message_key, b.messages))


def unchanged(before: StoredRecord, after: StoredRecord, held: dict[str, str]) -> StoredRecord | None:
    """`after` with every cell that did not change taken from `before` (its `updatedAt` too), or
    None when nothing changed: cells, and the unique claims (`held`: those `before` holds now)."""
    values = {
        k: before.values[k] if k in before.values and same_cell(c, before.values[k]) else c
        for k, c in after.values.items()
    }
    same = values.keys() == before.values.keys() and all(values[k] is before.values[k] for k in values)
    if same and after.claims == held:
        return None
    done = finish(after.id, values, after.metadata, after.config)
    return msgspec.structs.replace(done, claims=after.claims, waits=after.waits)


def check_writable(schema: Schema, restricted: bool) -> None:
    """A readonly sheet refuses every write of a restricted principal (guests, publishable keys)."""
    if restricted and schema.sheet_readonly:
        raise ForbiddenError("this sheet is readonly; its records can only be changed with a secret key")


def _changed(record: StoredRecord, old: StoredRecord | None, key: str) -> bool:
    """Does the write set or change the value of `key` (re-sending the current value does not)?"""
    cell = record.values.get(key)
    value = None if cell is None else cell.value
    previous = None if old is None or key not in old.values else old.values[key].value
    return not ((is_empty(value) and is_empty(previous)) or value == previous)


def check_record_config(
    restricted: bool, records: Sequence[StoredRecord], before: dict[str, StoredRecord] | None = None
) -> None:
    """A restricted principal may not set or change a record's config, change a value of a
    record whose `config.readonly` is true, or of a field it marks `config.fields.<key>.readonly`.
    `before`: the records' current state (updates); None for inserts."""
    if not restricted:
        return
    for record in records:
        old = before.get(record.id) if before is not None else None
        old_config = None if old is None else old.config
        if record.config != old_config:
            raise ForbiddenError(
                f"the config of record {record.id} can only be set or changed with a secret key", key="config"
            )
        if old is None or old_config is None:
            continue
        if old_config.readonly and any(_changed(record, old, k) for k in {*record.values, *old.values}):
            raise ForbiddenError(f"record {record.id} is readonly; it can only be changed with a secret key", key="id")
        for key, cell in (old_config.fields or {}).items():
            if cell.readonly and _changed(record, old, key):
                raise ForbiddenError(
                    f"field {key!r} of record {record.id} is readonly; it can only be changed with a secret key",
                    key=key,
                )


def check_deletable(restricted: bool, records: Iterable[StoredRecord]) -> None:
    """A restricted principal may not delete a record whose `config.readonly` is true."""
    if not restricted:
        return
    for record in records:
        if record.config is not None and record.config.readonly:
            raise ForbiddenError(f"record {record.id} is readonly; it can only be deleted with a secret key", key="ids")


def check_readonly_fields(
    schema: Schema, restricted: bool, records: Sequence[StoredRecord], before: dict[str, StoredRecord] | None = None
) -> None:
    """A restricted principal may not set (insert) or change (update) the value of a readonly field.

    Secret keys (listeners, hooks) may: Flatfile's `readonly` is what the end user can edit.
    """
    if not restricted or not schema.readonly:
        return
    for record in records:
        old = before.get(record.id) if before is not None else None
        for key in schema.readonly:
            if not _changed(record, old, key):
                continue
            raise ForbiddenError(f"field {key!r} is readonly; it can only be changed with a secret key", key=key)


def wanted_claims(uniques: Sequence[UniqueKey], records: Sequence[StoredRecord]) -> dict[str, dict[str, str]]:
    """unique key name -> {record id -> value it wants to hold}."""
    wanted: dict[str, dict[str, str]] = {u.name: {} for u in uniques}
    for record in records:
        plain = {k: c.value for k, c in record.values.items()}
        for u in uniques:
            value = unique_value(u, plain)
            if value is not None:
                wanted[u.name][record.id] = value
    return wanted


def apply_uniques(
    uniques: Sequence[UniqueKey],
    records: list[StoredRecord],
    held: Callable[[str], dict[str, str]],
) -> list[StoredRecord]:
    """First writer wins: a record whose value is already held (by another record in the sheet
    or earlier in this batch) gets a unique-constraint error; the others claim their values.

    `held(name)` answers value -> holder record id for the values this batch wants.
    """
    if not uniques:
        return records
    wanted = wanted_claims(uniques, records)
    claims: dict[str, dict[str, str]] = {}
    waits: dict[str, dict[str, str]] = {}
    duplicates: dict[str, list[UniqueKey]] = {}
    for u in uniques:
        taken = dict(held(u.name))
        for record_id, value in wanted[u.name].items():
            holder = taken.get(value)
            if holder is not None and holder != record_id:
                duplicates.setdefault(record_id, []).append(u)
                waits.setdefault(record_id, {})[u.name] = value
                continue
            taken[value] = record_id
            claims.setdefault(record_id, {})[u.name] = value
    return [_with_uniques(r, claims.get(r.id, {}), duplicates.get(r.id, []), waits.get(r.id, {})) for r in records]


def released_claims(
    uniques: Sequence[UniqueKey], held: Iterable[tuple[str, str, str]], records: Sequence[StoredRecord]
) -> list[tuple[str, str]]:
    """The (key name, value) pairs a write frees: `held` are (record id, name, value) claims of the
    records it updates or deletes; a claim is freed unless the updated record still wants it."""
    wanted = wanted_claims(uniques, records)
    return sorted({(name, value) for rid, name, value in held if wanted.get(name, {}).get(rid) != value})


def strip_uniques(record: StoredRecord) -> StoredRecord:
    """The record without its `unique-constraint` messages (they are decided again on every write)."""
    if not record.waits and all(c.valid for c in record.values.values()):
        return record  # a flagged cell is invalid: nothing to strip
    values = dict(record.values)
    changed = False
    for key, cell in record.values.items():
        if any(m.source == "unique-constraint" for m in cell.messages):
            kept = [m for m in cell.messages if m.source != "unique-constraint"]
            values[key] = msgspec.structs.replace(cell, valid=not any(m.type == "error" for m in kept), messages=kept)
            changed = True
    if not changed:
        return msgspec.structs.replace(record, waits={}) if record.waits else record
    done = finish(record.id, values, record.metadata, record.config)
    return msgspec.structs.replace(done, claims=record.claims)


def _with_uniques(
    record: StoredRecord, claims: dict[str, str], broken: list[UniqueKey], waits: dict[str, str]
) -> StoredRecord:
    if not broken:
        return msgspec.structs.replace(record, claims=claims) if claims else record
    values = dict(record.values)
    for u in broken:
        label = u.name.removeprefix("constraint:")
        for key in u.fields:
            cell = values.get(key) or Cell(value=None)
            message = error(f"{label} must be unique; another record already has this value", "unique-constraint", key)
            values[key] = msgspec.structs.replace(cell, valid=False, messages=[*cell.messages, message])
    done = finish(record.id, values, record.metadata, record.config)
    return msgspec.structs.replace(done, claims=claims, waits=waits)


def chunks(encoded: list[bytes]) -> list[list[bytes]]:
    """Group encoded records into events of <= 1,000 records and <= MAX_EVENT_BYTES."""
    groups: list[list[bytes]] = []
    current: list[bytes] = []
    size = 0
    for item in encoded:
        if current and (len(current) >= MAX_RECORDS_PER_EVENT or size + len(item) > MAX_EVENT_BYTES):
            groups.append(current)
            current, size = [], 0
        current.append(item)
        size += len(item) + 1
    if current:
        groups.append(current)
    return groups


def commit_events(
    kind: str,
    scope: dict[str, str],
    records: Sequence[StoredRecord] = (),
    deleted: Sequence[str] = (),
    *,
    created_by: str,
    idempotency_key: str | None = None,
    disable_hooks: bool = False,
    encoded: Sequence[bytes] = (),
    created: Sequence[StoredRecord] = (),
    source: CommitSource | None = None,
) -> list[Event]:
    """The events of one commit; `scope` holds sheet_id, workbook_id, space_id, commit_id.

    `encoded`: records already encoded (the columnar path), written after `records`.
    `created` (kind `restore`, a snapshot restore): records inserted by the same commit; its
    events go deletes, updates (`records`), inserts, so values are freed before they are taken."""
    if kind == "restore":
        return _restore_events(scope, records, deleted, created, created_by=created_by)
    events: list[Event] = []
    if records or encoded:
        twin = RawRecordsInserted if kind == "insert" else RawRecordsUpdated
        all_encoded = [_encoder.encode(r) for r in records] + list(encoded)
        events += [twin(**scope, records=[msgspec.Raw(b) for b in group]) for group in chunks(all_encoded)]
    for start in range(0, len(deleted), MAX_RECORDS_PER_EVENT * 5):
        events.append(RecordsDeleted(**scope, record_ids=list(deleted[start : start + MAX_RECORDS_PER_EVENT * 5])))
    count = len(records) + len(encoded) + len(deleted)
    commit = CommitCreated(
        **scope,
        kind=kind,  # type: ignore[arg-type]
        events=len(events),
        record_count=count,
        created_by=created_by,
        idempotency_key=idempotency_key,
        disable_hooks=disable_hooks,
        source=source,
    )
    return [*events, commit]


def _restore_events(
    scope: dict[str, str],
    updated: Sequence[StoredRecord],
    deleted: Sequence[str],
    created: Sequence[StoredRecord],
    *,
    created_by: str,
) -> list[Event]:
    events: list[Event] = []
    for start in range(0, len(deleted), MAX_RECORDS_PER_EVENT * 5):
        events.append(RecordsDeleted(**scope, record_ids=list(deleted[start : start + MAX_RECORDS_PER_EVENT * 5])))
    for twin, records in ((RawRecordsUpdated, updated), (RawRecordsInserted, created)):
        encoded = [_encoder.encode(r) for r in records]
        events += [twin(**scope, records=[msgspec.Raw(b) for b in group]) for group in chunks(encoded)]
    count = len(updated) + len(deleted) + len(created)
    commit = CommitCreated(
        **scope,
        kind="restore",
        events=len(events),
        record_count=count,
        created_by=created_by,
        idempotency_key=None,
        disable_hooks=False,
        source=None,
    )
    return [*events, commit]


def revive_events(
    scope: dict[str, str],
    position: int,
    record_ids: Sequence[str],
    claims: Sequence[RestoredClaim],
    *,
    created_by: str,
    source: CommitSource | None = None,
) -> list[Event]:
    """A restore's compact re-create (kind `insert`): `RecordsRestored` events of <= 5,000 ids,
    each with the claims of its records, then `CommitCreated`."""
    step = MAX_RECORDS_PER_EVENT * 5
    by_record: dict[str, list[RestoredClaim]] = {}
    for claim in claims:
        by_record.setdefault(claim.record_id, []).append(claim)
    events: list[Event] = []
    for start in range(0, len(record_ids), step):
        group = list(record_ids[start : start + step])
        held = [c for record_id in group for c in by_record.get(record_id, ())]
        events.append(RecordsRestored(**scope, position=position, record_ids=group, claims=held))
    commit = CommitCreated(
        **scope,
        kind="insert",
        events=len(events),
        record_count=len(record_ids),
        created_by=created_by,
        idempotency_key=None,
        disable_hooks=False,
        source=source,
    )
    return [*events, commit]


def completion(scope: dict[str, str], *, completed_by: str) -> CommitCompleted:
    """The event that marks a commit's hooks done; `scope` as for `commit_events`."""
    return CommitCompleted(**scope, completed_by=completed_by)
