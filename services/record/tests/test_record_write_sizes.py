"""Small writes run side by side; a big one (claim-checked body, query, validation) runs alone."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from record_service.application.writes import WriteHandlers

pytestmark = pytest.mark.unit


async def _overlap(handlers: WriteHandlers, first: bool, second: bool) -> bool:
    """Whether a write of size `second` starts while one of size `first` is running."""
    inside = asyncio.Event()
    release = asyncio.Event()
    started_while_first_ran = False

    async def one() -> None:
        async with handlers.sized(first):
            inside.set()
            await release.wait()

    async def two() -> None:
        nonlocal started_while_first_ran
        await inside.wait()
        async with handlers.sized(second):
            started_while_first_ran = not release.is_set()

    task_one, task_two = asyncio.create_task(one()), asyncio.create_task(two())
    await inside.wait()
    for _ in range(5):
        await asyncio.sleep(0)
    release.set()
    await asyncio.gather(task_one, task_two)
    return started_while_first_ran


@pytest.mark.parametrize(
    ("first", "second", "overlaps"),
    [(False, False, True), (True, False, True), (False, True, True), (True, True, False)],
)
async def test_only_big_writes_wait_for_each_other(first: bool, second: bool, overlaps: bool) -> None:
    handlers = WriteHandlers(cast(Any, None))
    assert await _overlap(handlers, first, second) is overlaps


async def test_a_failed_big_write_lets_the_next_one_in() -> None:
    handlers = WriteHandlers(cast(Any, None))
    with pytest.raises(RuntimeError):
        async with handlers.sized(True):
            raise RuntimeError("refused")
    async with asyncio.timeout(1):
        async with handlers.sized(True):
            pass
