"""The one optimistic-concurrency loop: load -> fold -> decide -> append, retried on conflict."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from spaceport.errors import ConcurrencyError
from spaceport.events import Event
from spaceport.eventstore import AggregateRef, AppendContext, AppendResult, EventStore, Loaded

S = TypeVar("S")


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
class Executed(Generic[S]):
    """The state after the command and where its events landed (None: nothing to append)."""

    state: S
    result: AppendResult | None


async def execute(
    store: EventStore,
    ref: AggregateRef,
    folder: Folder[S],
    decide: Callable[[S], Sequence[Event]],
    context: AppendContext,
    *,
    attempts: int = 5,
) -> Executed[S]:
    """Run a command against the current state of `ref`; `decide` raises to refuse it.

    A retried command (same idempotency key) whose events already landed is not decided
    again: its original result is returned.
    """
    for attempt in range(attempts):
        loaded = await store.load(ref)
        state = folder.fold(loaded)
        replay = _already_applied(loaded, context)
        if replay is not None:
            return Executed(state, replay)
        events = decide(state)
        if not events:
            return Executed(state, None)
        try:
            result = await store.append(ref, events, expected_version=loaded.version, context=context)
        except ConcurrencyError:
            if attempt == attempts - 1:
                raise
            continue
        for event in events:
            state = folder.evolve(state, event)
        return Executed(state, result)
    raise AssertionError("unreachable")


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
