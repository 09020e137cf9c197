"""Claim checks on the real server: big bodies travel through the object store and come back whole."""

from __future__ import annotations

import asyncio
import os

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
