"""The space application on fakes, for tests that run without servers (milliseconds each).

`world()` wires `SpaceApplication` the way `bootstrap.build` does, but on the in-memory event
store, the folded read model (`testing.directory`) and a broadcast that records what it sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from space_service.application.app import SpaceApplication
from space_service.application.secretbox import SecretBox
from space_service.application.tokens import GuestTokens
from space_service.testing.directory import FoldedDirectory
from spaceport.contracts import space, workbook
from spaceport.contracts.space import AuthInvalidated
from spaceport.events import Event, EventRegistry
from spaceport.memstore import InMemoryEventStore

REGISTRY = EventRegistry((*space.EVENTS, *workbook.EVENTS))
"""The events the space service reads: its own and the workbook service's."""
TOKENS = GuestTokens(secret=b"test-guest-token-secret", ttl=3600)
SECRETS_KEY = bytes(range(32))


@dataclass
class Broadcasts:
    """`Broadcast` that keeps what it was asked to send."""

    sent: list[AuthInvalidated] = field(default_factory=list)

    async def __call__(self, change: AuthInvalidated) -> None:
        self.sent.append(change)


@dataclass
class World:
    store: InMemoryEventStore
    directory: FoldedDirectory
    broadcasts: Broadcasts
    app: SpaceApplication

    async def events(self, aggregate: str = "*") -> list[Event]:
        """The stored events of one kind of aggregate (or all), in order."""
        found = self.store.read(f"{self.store.prefix}.*.{aggregate}.>")
        return [s.event async for s in found if s.event is not None]


def world(secrets_key: bytes | None = SECRETS_KEY) -> World:
    """`secrets_key` None: a server with no secrets key (secret writes refused)."""
    store = InMemoryEventStore(REGISTRY)
    directory = FoldedDirectory(store)
    broadcasts = Broadcasts()
    box = None if secrets_key is None else SecretBox(secrets_key)
    app = SpaceApplication(store, directory, directory.caught_up, broadcasts, TOKENS, secrets_box=box)
    return World(store, directory, broadcasts, app)
