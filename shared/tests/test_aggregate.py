"""The one conflict loop (`aggregate.run_command`) and `execute` over it, on the in-memory store."""

from __future__ import annotations

import pytest
from counter import EVENTS, FOLDER, CounterIncremented, increment

from spaceport.aggregate import Append, Decision, Replay, execute, run_command
from spaceport.errors import ConcurrencyError, ContendedError, ServiceUnavailableError
from spaceport.events import EventRegistry
from spaceport.memstore import InMemoryEventStore
from spaceport.ports import AggregateRef, AppendContext, AppendResult

pytestmark = pytest.mark.unit

REF = AggregateRef(environment_id="us_env_test", space_id="us_sp_test", aggregate="counter", aggregate_id="c1")


@pytest.fixture
def memory() -> InMemoryEventStore:
    return InMemoryEventStore(EventRegistry(EVENTS))


async def landed_total(memory: InMemoryEventStore) -> int:
    return FOLDER.fold(await memory.load(REF)).value


async def test_a_conflict_runs_the_hook_and_the_attempt_again(memory: InMemoryEventStore) -> None:
    seen: list[int] = []
    hooks: list[str] = []

    async def attempt() -> Decision[str]:
        version = (await memory.load(REF)).version
        seen.append(version)
        if len(seen) == 1:  # another writer gets in between this decision and its append
            await memory.append(REF, [CounterIncremented(by=1, writer="other")], expected_version=None)
        return Append(f"at {version}", [CounterIncremented(by=2)], version)

    async def on_conflict() -> None:
        hooks.append("caught up")

    async def landed(_: AppendResult) -> str:
        raise AssertionError("not a duplicate")

    done = await run_command(memory, REF, attempt, AppendContext(), landed=landed, on_conflict=on_conflict)
    assert (seen, hooks, done.value) == ([0, 1], ["caught up"], "at 1")
    assert done.result is not None and not done.result.duplicate
    assert await landed_total(memory) == 3


async def test_a_command_that_keeps_losing_its_race_is_refused_as_contended(memory: InMemoryEventStore) -> None:
    async def attempt() -> Decision[None]:
        return Append(None, [CounterIncremented(by=1)], 99)  # a version the aggregate never has

    async def landed(_: AppendResult) -> None:
        return None

    with pytest.raises(ContendedError) as refused:
        await run_command(memory, REF, attempt, AppendContext(), landed=landed, attempts=3)
    assert refused.value.status == 503 and isinstance(refused.value.__cause__, ConcurrencyError)
    assert await landed_total(memory) == 0


async def test_a_replay_is_answered_from_what_landed_and_appends_nothing(memory: InMemoryEventStore) -> None:
    first = await memory.append(REF, [CounterIncremented(by=5)], expected_version=0)

    async def attempt() -> Decision[int]:
        return Replay(first)

    async def landed(result: AppendResult) -> int:
        assert result == first
        return await landed_total(memory)

    done = await run_command(memory, REF, attempt, AppendContext(), landed=landed)
    assert (done.value, done.result) == (5, first)
    assert await memory.last_seq() == 1


async def test_a_duplicate_append_is_answered_from_what_landed_not_from_the_decision(
    memory: InMemoryEventStore,
) -> None:
    """The first publish lands but its reply is lost; the store's retry reports a duplicate."""
    memory.drop_next_replies(1)

    async def attempt() -> Decision[str]:
        return Append("decided", [CounterIncremented(by=1)], 0)

    async def landed(result: AppendResult) -> str:
        return f"landed at {result.last_seq}"

    done = await run_command(memory, REF, attempt, AppendContext(idempotency_key="k"), landed=landed)
    assert done.value == "landed at 1"
    assert done.result is not None and done.result.duplicate


async def test_nothing_to_append_answers_with_the_decision(memory: InMemoryEventStore) -> None:
    async def attempt() -> Decision[str]:
        return Append("nothing to do", [], 0)

    async def landed(_: AppendResult) -> str:
        raise AssertionError("nothing landed")

    done = await run_command(memory, REF, attempt, AppendContext(), landed=landed)
    assert (done.value, done.result) == ("nothing to do", None)


async def test_execute_retried_after_a_lost_ack_returns_the_state_that_landed(memory: InMemoryEventStore) -> None:
    context = AppendContext(idempotency_key="http-retry")
    memory.lose_next_acks(1)
    with pytest.raises(ServiceUnavailableError):
        await execute(memory, REF, FOLDER, increment(7), context)  # type: ignore[arg-type]
    again = await execute(memory, REF, FOLDER, increment(7), context)  # type: ignore[arg-type]
    assert again.result is not None and again.result.duplicate
    assert again.state.value == 7
    assert await landed_total(memory) == 7
