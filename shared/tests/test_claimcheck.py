"""Claim checks on the real server: big bodies travel through the object store and come back whole."""

from __future__ import annotations

import asyncio
import os

import msgspec
import pytest
from nats.aio.client import Client

from spaceport.claimcheck import INLINE_LIMIT, ClaimCheck
from spaceport.eventstore import READ_MAX_BYTES


async def test_small_bodies_travel_inline(nc: Client, unique_name: str) -> None:
    claims = ClaimCheck(nc, bucket=f"bodies-{unique_name}")
    payload = await claims.pack(b"small")
    assert (payload.data, payload.ref) == (b"small", None)
    assert await claims.unpack(payload) == b"small"


async def test_big_bodies_are_read_back_by_range_reads_of_their_chunks(
    nc: Client, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    claims = ClaimCheck(nc, bucket=f"bodies-{unique_name}")
    body = os.urandom(2 * READ_MAX_BYTES + 12_345)  # more than two Direct Get bursts of chunks
    payload = await claims.pack(body)
    assert payload.ref is not None and not payload.data
    assert len(body) > INLINE_LIMIT

    def slow_path(*_: object) -> None:
        raise AssertionError("the chunks must come back by Direct Get, not the object store's get")

    monkeypatch.setattr(await claims._obs(), "get", slow_path)
    assert await claims.unpack(payload) == body
    await asyncio.gather(*claims._deleting)  # the object is deleted once read


async def test_a_megabyte_travels_inline_on_the_servers_spaceport_starts(nc: Client, unique_name: str) -> None:
    """The dev/test NATS runs with max_payload 8 MB, so a ~1 MB record page is one message."""
    claims = ClaimCheck(nc, bucket=f"bodies-{unique_name}")
    assert nc.max_payload == 8 * 1024 * 1024
    body = os.urandom(1024 * 1024)
    payload = await claims.pack(body)
    assert payload.ref is None and payload.data == body
    assert len(msgspec.json.encode(payload)) < nc.max_payload  # base64 and all: it fits


def test_without_a_connection_the_default_limit_holds() -> None:
    assert ClaimCheck(None).inline_limit() == INLINE_LIMIT
