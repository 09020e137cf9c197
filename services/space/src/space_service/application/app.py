"""The space service's use cases as one object: what the entrypoints bind and tests drive."""

from __future__ import annotations

from typing import Protocol

from space_service.application import keys, tokens
from space_service.application.apps import AppHandlers
from space_service.application.documents import DocumentHandlers
from space_service.application.environments import EnvironmentHandlers
from space_service.application.guests import GuestHandlers
from space_service.application.ports import Broadcast, CredentialReads, Directory, SpaceReads, SpaceViews, WaitFor
from space_service.application.revocations import Revocations
from space_service.application.secretbox import SecretBox
from space_service.application.secrets import SecretHandlers
from space_service.application.spaces import SpaceHandlers
from space_service.application.templates import SpaceCreation, WorkbookPort
from spaceport.contracts.space import (
    Authenticate,
    Caught,
    CreateEnvironment,
    EnvironmentCreatedReply,
    Principal,
    Written,
)
from spaceport.errors import UnauthorizedError
from spaceport.ports import EventStorePort

BAD_CREDENTIALS = "the API key or token is not valid; send 'Authorization: Bearer <secret key or guest token>'"


class AuthReads(CredentialReads, SpaceReads, Protocol):
    """What authentication reads: credentials, and spaces (for shared links)."""


class AuthHandlers:
    """`Authenticate` for the gateway: API keys and guest tokens against the read model."""

    def __init__(self, reads: AuthReads, token_secret: bytes) -> None:
        self.reads = reads
        self.token_secret = token_secret

    async def authenticate(self, query: Authenticate) -> Principal:
        if query.token.startswith(tokens.PREFIX):
            return await self._guest(query.token)
        principal = await self.reads.key_holder(keys.hash_key(query.token))
        if principal is None:
            raise UnauthorizedError(BAD_CREDENTIALS)
        return principal

    async def _guest(self, token: str) -> Principal:
        """A well-signed, unexpired token whose guest still holds a grant on a live space."""
        claims = tokens.verify(self.token_secret, token)
        if claims is None:
            raise UnauthorizedError("the guest token is not valid or has expired")
        if claims.k == tokens.SHARED_LINK:
            return await self._shared_link(claims)
        grant = await self.reads.guest_grant(claims.g, claims.s, claims.e)
        if grant is None:
            raise UnauthorizedError("the guest token is no longer valid (guest or space removed)")
        return Principal(
            environment_id=claims.e,
            kind="guest",
            actor=claims.g,
            space_id=claims.s,
            role=grant.role,
            workbook_ids=grant.workbook_ids or None,  # none named: the whole space
        )

    async def _shared_link(self, claims: tokens.Claims) -> Principal:
        """An anonymous guest by the space's `guestLink`: an editor of the whole space, while the
        space is live and allows `shared_link` guest authentication."""
        space = await self.reads.space(claims.e, claims.s)
        if space is None or space.archived_at is not None or tokens.SHARED_LINK not in space.guest_authentication:
            raise UnauthorizedError("this shared link is no longer valid (space removed or shared links turned off)")
        return Principal(environment_id=claims.e, kind="guest", actor=claims.g, space_id=claims.s, role="editor")


class SpaceApplication:
    """Environments, keys, spaces, documents, guests and secrets, plus `Authenticate` and `Caught` for the gateway.

    `secrets_box` None: no key is configured, and secret writes answer 503. `space_views`: GetSpace's
    answers cached in this process (`projections/cache.py`); None reads the read model each time."""

    def __init__(
        self,
        store: EventStorePort,
        directory: Directory,
        caught_up: WaitFor,
        broadcast: Broadcast,
        guest_tokens: tokens.GuestTokens,
        *,
        secrets_box: SecretBox | None = None,
        workbooks: WorkbookPort | None = None,
        space_views: SpaceViews | None = None,
    ) -> None:
        self.caught_up = caught_up
        revocations = Revocations(caught_up, broadcast)
        self.auth = AuthHandlers(directory, guest_tokens.secret)
        self.environments = EnvironmentHandlers(store, directory, caught_up, revocations)
        self.spaces = SpaceHandlers(
            store,
            directory,
            caught_up,
            revocations,
            self.environments,
            link_secret=guest_tokens.secret,
            views=space_views,
        )
        self.documents = DocumentHandlers(store, directory, caught_up, self.spaces)
        self.guests = GuestHandlers(
            store, directory, caught_up, revocations, spaces=self.spaces, guest_tokens=guest_tokens
        )
        self.secrets = SecretHandlers(store, directory, caught_up, self.spaces, secrets_box)
        self.apps = AppHandlers(store, directory, caught_up, self.environments)
        # `CreateSpace`, plain or copied from a template (`workbooks` None: copies answer 503).
        self.creation = SpaceCreation(self.spaces, self.documents, workbooks, self.apps.get)

    async def create_environment(
        self, cmd: CreateEnvironment, *, secret_key: str | None = None
    ) -> EnvironmentCreatedReply:
        return await self.environments.create(cmd, secret_key=secret_key)

    async def caught(self, query: Caught) -> Written:
        await self.caught_up(query.position)
        return Written(position=query.position)
