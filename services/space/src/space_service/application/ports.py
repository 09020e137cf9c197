"""What the space application needs from outside it, besides `spaceport.ports.EventStorePort`.

Writes decide on the event log; these ports serve the reads (the `space` read model: SQL in
`projections/queries.py`, fakes in `space_service.testing`) and the auth broadcast.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import msgspec

from spaceport.contracts.space import (
    ActorRoleView,
    ApiKeyView,
    AppView,
    AuthInvalidated,
    ConstraintVersionView,
    ConstraintView,
    DocumentView,
    EnvironmentView,
    GuestGrant,
    GuestView,
    ListSpaces,
    Principal,
    SpaceView,
)

WaitFor = Callable[[int], Awaitable[bool]]
"""Read-your-writes: wait until the read model applied a stream position; False on timeout."""

Broadcast = Callable[[AuthInvalidated], Awaitable[None]]
"""Tell every gateway that credentials may have stopped working; best effort, never raises."""


class EnvironmentReads(Protocol):
    async def environment(self, environment_id: str) -> EnvironmentView | None:
        """The live (not deleted) environment."""
        ...

    async def environments(self, page_size: int, page_number: int) -> tuple[list[EnvironmentView], int]:
        """One page of the live environments, oldest first, and how many there are."""
        ...

    async def api_keys(self, environment_id: str) -> list[ApiKeyView]:
        """The environment's unrevoked keys, oldest first (none once it is deleted)."""
        ...


class SpaceReads(Protocol):
    async def space(self, environment_id: str, space_id: str) -> SpaceView | None:
        """The space unless it is deleted (archived ones are found)."""
        ...

    async def spaces(self, query: ListSpaces) -> tuple[list[SpaceView], int]:
        """The page `query` asks for (filters, sort, page) and how many match."""
        ...

    async def space_exists(self, environment_id: str, space_id: str) -> bool:
        """Whether the space is in the environment and not deleted."""
        ...


class SpaceViews(Protocol):
    """An in-process cache of `GetSpace`'s answers (`projections/cache.py`): `get` a hit; on a
    miss take a `ticket()` before reading the read model, then `put(ticket, view)`, which keeps
    the view only if nothing changed the space since the ticket."""

    def get(self, space_id: str) -> SpaceView | None: ...

    def ticket(self) -> tuple[int, int] | None: ...

    def put(self, ticket: tuple[int, int] | None, view: SpaceView) -> None: ...


class DocumentReads(Protocol):
    async def document(self, environment_id: str, space_id: str, document_id: str) -> DocumentView | None:
        """The document if it and its space are live."""
        ...

    async def documents(self, space_id: str) -> list[DocumentView]:
        """A space's documents, oldest first (at most 1000)."""
        ...


class GuestReads(Protocol):
    async def guests(self, environment_id: str, guest_ids: list[str]) -> list[GuestView]:
        """The live guests among `guest_ids`, oldest first, with their grants."""
        ...

    async def guest_ids_in_space(self, space_id: str, email: str | None) -> list[str]:
        """Guests granted on the space (with that email, if given), oldest first (at most 1000)."""
        ...

    async def guest_roles(self, environment_id: str, guest_id: str) -> list[ActorRoleView]:
        """The live guest's grants as ActorRoles, by space id."""
        ...


class SecretRow(msgspec.Struct, frozen=True, kw_only=True):
    """A secret as the read model holds it: its value still sealed."""

    id: str
    name: str
    ciphertext: str
    environment_id: str
    space_id: str | None = None
    actor_id: str | None = None


class SecretReads(Protocol):
    async def secrets(self, environment_id: str, space_id: str | None, actor_id: str | None) -> list[SecretRow]:
        """The live secrets that apply: the environment's own, plus the space's and the actor's
        when given (a space's or actor's secret never applies without its id), by name then id."""
        ...

    async def secret(self, environment_id: str, secret_id: str) -> SecretRow | None:
        """The live secret of the environment."""
        ...


class AppReads(Protocol):
    async def app(self, environment_id: str, app_id: str) -> AppView | None:
        """The live (not deleted) app of the environment."""
        ...

    async def apps(self, environment_id: str) -> list[AppView]:
        """The environment's live apps, oldest first (at most 1000)."""
        ...

    async def constraints(self, app_id: str) -> list[ConstraintView]:
        """The app's live constraints (their latest version), oldest first (at most 1000)."""
        ...

    async def constraint_versions(self, app_id: str, constraint_id: str) -> list[ConstraintVersionView]:
        """Every version of the app's live constraint, oldest first (empty when there is no such constraint)."""
        ...


class CredentialReads(Protocol):
    async def key_holder(self, key_hash: str) -> Principal | None:
        """Whose unrevoked API key this is, if its environment is live."""
        ...

    async def guest_role(self, guest_id: str, space_id: str, environment_id: str) -> str | None:
        """The guest's role on the space, if guest, space and environment are all live."""
        ...

    async def guest_grant(self, guest_id: str, space_id: str, environment_id: str) -> GuestGrant | None:
        """The guest's grant on the space (role and workbooks), if guest, space and environment are all live."""
        ...


class Directory(
    EnvironmentReads, SpaceReads, DocumentReads, GuestReads, SecretReads, AppReads, CredentialReads, Protocol
):
    """The whole read model, as one adapter implements it."""
