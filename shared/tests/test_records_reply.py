"""A records reply carries its page as embedded JSON (no base64) or behind a claim check."""

from __future__ import annotations

import msgspec
import pytest

from spaceport.claimcheck import Payload
from spaceport.contracts.record import RecordsReply, page_json

pytestmark = pytest.mark.unit


async def test_an_embedded_page_round_trips_as_the_same_bytes() -> None:
    page = b'[{"id":"us_rc_1","values":{"a":{"value":"x \\u00e9"}}}]'
    wire = msgspec.json.encode(RecordsReply(page=msgspec.Raw(page)))
    assert b"base64" not in wire and page in wire  # embedded as is
    reply = msgspec.json.decode(wire, type=RecordsReply)

    async def unpack(_: Payload) -> bytes:
        raise AssertionError("an embedded page needs no claim check")

    assert await page_json(reply, unpack) == page


async def test_without_an_embedded_page_the_claim_check_is_read() -> None:
    reply = msgspec.json.decode(msgspec.json.encode(RecordsReply(records=Payload(ref="obj"))), type=RecordsReply)

    async def unpack(payload: Payload) -> bytes:
        assert payload.ref == "obj"
        return b"[]"

    assert await page_json(reply, unpack) == b"[]"
