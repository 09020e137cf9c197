"""What a read model gives the runner: its name, tables, subjects and how one event changes it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Protocol

from spaceport.events import StoredEvent
from spaceport.readmodel import Conn

ApplyBatch = Callable[[Conn, Sequence[StoredEvent]], Awaitable[None]]


class Projection(Protocol):
    """A read model: which events it reads, its tables, and how one event changes them.

    A projection may also define `async apply_batch(conn, events)`: the runner then hands it
    every fresh event of a batch in one call (one `executemany` / COPY instead of a round trip
    per event). It must have the same effect as `apply` on each event in order; the runner also
    calls it with a single event when it isolates a poison event.
    """

    @property
    def name(self) -> str:
        """Also the Postgres schema and the durable consumer's name."""

    @property
    def migrations(self) -> Path | None: ...

    @property
    def filter_subjects(self) -> Sequence[str]: ...

    async def apply(self, conn: Conn, event: StoredEvent) -> None:
        """Change rows for one event; runs inside the batch's transaction."""
