"""The space service's use cases, bound to one runtime: each area registers its own handlers."""

from __future__ import annotations

from space_service.application import keys, tokens
from space_service.application.documents import DocumentHandlers
from space_service.application.environments import EnvironmentHandlers
from space_service.application.guests import GuestHandlers
from space_service.application.spaces import SpaceHandlersPart
from spaceport.contracts.space import (
    Authenticate,
    Caught,
    CreateEnvironment,
    EnvironmentCreatedReply,
    Principal,
    Written,
)
from spaceport.errors import UnauthorizedError
from spaceport.runtime import ServiceRuntime

BAD_CREDENTIALS = "the API key or token is not valid; send 'Authorization: Bearer <secret key or guest token>'"


class SpaceHandlers:
    """Environments, keys, spaces, documents and guests, plus `Authenticate` for the gateway."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.token_secret = tokens.server_secret(runtime.settings)
        self.environments = EnvironmentHandlers(runtime)
        self.spaces = SpaceHandlersPart(runtime, self.environments)
        self.documents = DocumentHandlers(runtime, self.spaces)
        self.guests = GuestHandlers(runtime, self.spaces, self.token_secret)

    def register(self) -> None:
        self.runtime.rpc.handle(Authenticate)(self.authenticate)
        self.runtime.rpc.handle(Caught)(self.caught)
        for part in (self.environments, self.spaces, self.documents, self.guests):
            part.register()

    async def create_environment(
        self, cmd: CreateEnvironment, *, secret_key: str | None = None
    ) -> EnvironmentCreatedReply:
        return await self.environments.create(cmd, secret_key=secret_key)

    async def caught(self, query: Caught) -> Written:
        await self.runtime.wait_for(query.position)
        return Written(position=query.position)

    async def authenticate(self, query: Authenticate) -> Principal:
        if query.token.startswith(tokens.PREFIX):
            return await self._guest(query.token)
        async with self.runtime.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT k.environment_id, k.kind, k.key_id FROM api_key k"
                " JOIN environment e ON e.id = k.environment_id AND e.deleted_at IS NULL"
                " WHERE k.key_hash = $1 AND NOT k.revoked",
                keys.hash_key(query.token),
            )
        if row is None:
            raise UnauthorizedError(BAD_CREDENTIALS)
        return Principal(environment_id=row["environment_id"], kind=row["kind"], actor=row["key_id"])

    async def _guest(self, token: str) -> Principal:
        """A well-signed, unexpired token whose guest still holds a grant on a live space."""
        claims = tokens.verify(self.token_secret, token)
        if claims is None:
            raise UnauthorizedError("the guest token is not valid or has expired")
        async with self.runtime.pool.acquire() as conn:
            role = await conn.fetchval(
                "SELECT gs.role FROM guest_space gs JOIN guest g ON g.id = gs.guest_id"
                " JOIN space s ON s.id = gs.space_id AND s.deleted_at IS NULL"
                " JOIN environment e ON e.id = g.environment_id AND e.deleted_at IS NULL"
                " WHERE gs.guest_id = $1 AND gs.space_id = $2 AND g.environment_id = $3",
                claims.g,
                claims.s,
                claims.e,
            )
        if role is None:
            raise UnauthorizedError("the guest token is no longer valid (guest or space removed)")
        return Principal(environment_id=claims.e, kind="guest", actor=claims.g, space_id=claims.s, role=role)
