"""Lean twins of the record events: the same tags, decoding only the record ids.

A `RecordsInserted` carries up to 1,000 records with every cell; the feed needs only their ids,
and msgspec skips the rest of each record without building it. The job service's registry holds
these instead of the full types (nothing else in the service reads record cells).
"""

from __future__ import annotations

import msgspec

from spaceport.contracts.record import RawRecordsEvent


class RecordRef(msgspec.Struct, frozen=True, gc=False):
    id: str


class LeanRecordsInserted(RawRecordsEvent, frozen=True, kw_only=True, tag="RecordsInserted"):
    records: list[RecordRef]


class LeanRecordsUpdated(RawRecordsEvent, frozen=True, kw_only=True, tag="RecordsUpdated"):
    records: list[RecordRef]
