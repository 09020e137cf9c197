"""Spaces as `GetSpace` answers them, in this process, invalidated by the `space` projection.

The cache answers only while this process's runner holds the projection's lease: then every
change to the `space` rows goes through this process's `SpaceDirectory.apply`, which calls
`touched()` for the space of each event it applies, inside the batch's transaction. Standby
replicas (another process projects) read Postgres every time.

Soundness (one event loop, so no locking):
- `touched()` runs before the batch commits and drops the entry at once; the runner's `position`
  reaches the event's sequence only after the commit.
- A miss takes a `ticket()` (lease session, position) before it reads Postgres, and `put()`
  keeps the answer only if the space was not touched after that position (its read may have
  seen the row before the commit) and the lease session is the same one.
- A new lease session (the lease was lost and taken again, or the runner restarted: a rebuild)
  empties the cache, since another replica may have projected in between; so does losing it.
- So does a runner position past every event this process applied: another process wrote the
  read model (a `spaceport rebuild` swapping in its shadow, a replica past a lost lease); reads
  that began before that are not kept either.
A reader that waited for its write (`min_position`) therefore never gets an answer older than
that write, and a plain read never one older than what this process has committed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from spaceport.contracts.space import SpaceView

MAX_ENTRIES = 10_000
MAX_TOUCHED = 10_000


class Projector(Protocol):
    """What the cache reads of the projection's runner (`spaceport.projection.ProjectionRunner`)."""

    @property
    def holding(self) -> bool: ...

    @property
    def position(self) -> int: ...

    @property
    def sessions(self) -> int: ...


Ticket = tuple[int, int]
"""(lease session, runner position) when a miss started reading Postgres."""


class SpaceCache:
    """Live spaces by id (the views `GetSpace` answers); see the module docstring."""

    def __init__(self, runner: Callable[[], Projector | None], max_entries: int = MAX_ENTRIES) -> None:
        self._runner = runner
        self._max = max_entries
        self._views: dict[str, SpaceView] = {}
        self._touched: dict[str, int] = {}  # space id -> highest sequence applied (or being applied)
        self._floor = 0  # every space counts as touched at this sequence (`_touched` compacted)
        self._session = -1
        self._applied = 0  # the highest sequence this process's projection applied (or is applying)
        self._known = 0  # the runner's position when the cache last started over
        self.hits = 0
        self.misses = 0

    def _live(self) -> Projector | None:
        """The runner if the cache may answer now; a change of lease session empties it first."""
        runner = self._runner()
        if runner is None or not runner.holding:
            self._views.clear()
            return None
        if runner.sessions != self._session or runner.position > max(self._applied, self._known):
            self._views.clear()
            self._session = runner.sessions
            self._known = runner.position
            self._floor = max(self._floor, runner.position)  # reads begun before: not kept
        return runner

    def get(self, space_id: str) -> SpaceView | None:
        view = self._views.get(space_id) if self._live() is not None else None
        if view is None:
            self.misses += 1
        else:
            self.hits += 1
        return view

    def ticket(self) -> Ticket | None:
        """Taken before a miss reads Postgres; None: do not keep what it reads."""
        runner = self._live()
        return None if runner is None else (self._session, runner.position)

    def put(self, ticket: Ticket | None, view: SpaceView) -> None:
        if ticket is None or self._live() is None or ticket[0] != self._session:
            return
        if max(self._floor, self._touched.get(view.id, 0)) > ticket[1]:
            return  # changed since the read began: it may have read the row before the commit
        if len(self._views) >= self._max and view.id not in self._views:
            del self._views[next(iter(self._views))]  # the oldest entry
        self._views[view.id] = view

    def touched(self, space_id: str | None, seq: int) -> None:
        """The projection is applying event `seq` (of `space_id`, if any), inside its batch's transaction."""
        self._applied = max(self._applied, seq)
        if space_id is None:
            return
        self._views.pop(space_id, None)
        if seq > self._touched.get(space_id, 0):
            self._touched[space_id] = seq
        if len(self._touched) > MAX_TOUCHED:  # compact: every space counts as touched at the highest
            self._floor = max(self._floor, *self._touched.values())
            self._touched.clear()

    def __len__(self) -> int:
        return len(self._views)
