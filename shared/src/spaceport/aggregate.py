"""The one optimistic-concurrency loop: decide against a version, append guarded by it, retry.

`run_command` is the loop every write path uses. Each attempt loads some state and the version
it is at (folded from the aggregate's events, or read from a read model), and decides: events to
append guarded by that version (`Append`), or "this command already landed" (`Replay`). The loop
owns the number of attempts, the retry on `ConcurrencyError` and the answer to a duplicate: a
command whose events already landed (found by the attempt, or reported by the store after a
lost ack) is answered by `landed(result)` from what is stored, never from what an attempt
decided. `execute` is the loop for aggregates folded from their own events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeAlias, TypeVar

from spaceport.errors import ConcurrencyError, ContendedError
from spaceport.events import Event
from spaceport.ports import AggregateRef, AppendContext, AppendResult, EventStorePort, Loaded

S = TypeVar("S")
T = TypeVar("T")


@dataclass(frozen=True)
class Folder(Generic[S]):
    """How an aggregate's state is rebuilt: an initial state and a pure `evolve`."""

    initial: Callable[[], S]
    evolve: Callable[[S, Event], S]

    def fold(self, loaded: Loaded) -> S:
        state = self.initial()
        for stored in loaded.events:
            if stored.event is not None:
                state = self.evolve(state, stored.event)
        return state


@dataclass(frozen=True)
class Append(Generic[T]):
    """An attempt's decision: append `events` guarded by `version` (None: unguarded); `value`
    answers the command once they land. No events: nothing to append, `value` is the answer."""

    value: T
    events: Sequence[Event]
    version: int | None


@dataclass(frozen=True)
class Replay:
    """An attempt found the command's events already stored (same idempotency key): where."""

    result: AppendResult


Decision: TypeAlias = Append[T] | Replay


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """The command's answer and where its events are (None: nothing was appended;
    `result.duplicate`: they had landed before and `value` was built from them)."""

    value: T
    result: AppendResult | None


@dataclass(frozen=True)
class Executed(Generic[S]):
    """The state after the command and where its events landed (None: nothing to append)."""

    state: S
    result: AppendResult | None

    @property
    def position(self) -> int:
        """The stream sequence of the last event appended; 0 when nothing was."""
        return self.result.last_seq if self.result is not None else 0


async def run_command(
    store: EventStorePort,
    ref: AggregateRef,
    attempt: Callable[[], Awaitable[Decision[T]]],
    context: AppendContext,
    *,
    landed: Callable[[AppendResult], Awaitable[T]],
    attempts: int = 5,
    on_conflict: Callable[[], Awaitable[None]] | None = None,
) -> Outcome[T]:
    """Run `attempt` and append what it decided, deciding again (after `on_conflict`, e.g. a
    read model catching up) when another writer got in first; `attempt` raises to refuse.

    A duplicate (a `Replay`, or an append the store reports as already landed) is answered by
    `landed(result)`. When the last attempt loses its race too, `ContendedError` (503: nothing
    was written, retry) says so, not the store's conflict (a 409 would read as a data conflict).
    """
    for number in range(1, attempts + 1):
        decision = await attempt()
        if isinstance(decision, Replay):
            return Outcome(await landed(decision.result), decision.result)
        try:
            return await _append(store, ref, decision, context, landed)
        except ConcurrencyError as lost:
            if number == attempts:
                raise ContendedError(
                    f"other writes kept getting in first ({attempts} attempts); nothing was written, retry the request"
                ) from lost
            if on_conflict is not None:
                await on_conflict()
    raise AssertionError("unreachable")


async def _append(
    store: EventStorePort,
    ref: AggregateRef,
    decision: Append[T],
    context: AppendContext,
    landed: Callable[[AppendResult], Awaitable[T]],
) -> Outcome[T]:
    if not decision.events:
        return Outcome(decision.value, None)
    result = await store.append(ref, decision.events, expected_version=decision.version, context=context)
    if result.duplicate:  # a lost ack: what landed may not be what this attempt decided
        return Outcome(await landed(result), result)
    return Outcome(decision.value, result)


async def execute(
    store: EventStorePort,
    ref: AggregateRef,
    folder: Folder[S],
    decide: Callable[[S], Sequence[Event]],
    context: AppendContext,
    *,
    attempts: int = 5,
) -> Executed[S]:
    """Run a command against the current state of `ref` (its events folded); `decide` raises to
    refuse it. A retried command (same idempotency key) whose events already landed is not
    decided again: its original result and the state they left are returned.
    """

    async def attempt() -> Decision[S]:
        loaded = await store.load(ref)
        state = folder.fold(loaded)
        earlier = _already_applied(loaded, context)
        if earlier is not None:
            return Replay(earlier)
        events = decide(state)
        return Append(_evolved(folder, state, events), events, loaded.version)

    async def landed(_: AppendResult) -> S:
        return folder.fold(await store.load(ref))

    done = await run_command(store, ref, attempt, context, landed=landed, attempts=attempts)
    return Executed(done.value, done.result)


def _evolved(folder: Folder[S], state: S, events: Sequence[Event]) -> S:
    for event in events:
        state = folder.evolve(state, event)
    return state


def _already_applied(loaded: Loaded, context: AppendContext) -> AppendResult | None:
    """The earlier result of this idempotency key, if its events are in the aggregate."""
    if context.idempotency_key is None:
        return None
    by_id = {e.event_id: e.seq for e in loaded.events}
    first = context.event_id(0)
    if first not in by_id:
        return None
    ids = [first]
    while (next_id := context.event_id(len(ids))) in by_id:
        ids.append(next_id)
    return AppendResult(first_seq=by_id[first], last_seq=by_id[ids[-1]], event_ids=ids, duplicate=True)
