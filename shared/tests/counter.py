"""A tiny aggregate used only by the event store tests: a counter with a cap."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from spaceport.aggregate import Folder
from spaceport.errors import ConflictError
from spaceport.events import Event


class CounterIncremented(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "counter"
    by: int
    writer: str = ""


class CounterReset(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "counter"


EVENTS = (CounterIncremented, CounterReset)


class Counter(msgspec.Struct, frozen=True):
    value: int = 0
    increments: int = 0


def evolve(state: Counter, event: Event) -> Counter:
    match event:
        case CounterIncremented(by=by):
            return Counter(state.value + by, state.increments + 1)
        case CounterReset():
            return Counter(0, state.increments)
    return state


FOLDER = Folder(Counter, evolve)


def increment(by: int, cap: int = 1_000, writer: str = "") -> object:
    def decide(state: Counter) -> list[Event]:
        if state.value + by > cap:
            raise ConflictError("counter would pass its cap")
        return [CounterIncremented(by=by, writer=writer)]

    return decide
