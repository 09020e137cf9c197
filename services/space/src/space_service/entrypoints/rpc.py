"""The space service's NATS request/reply subjects (`cmd.space.<snake name>`), one per message."""

from __future__ import annotations

from space_service.application.app import SpaceApplication
from spaceport.contracts.space import (
    Authenticate,
    Caught,
    ChangeSpaceLifecycle,
    CreateDocument,
    CreateEnvironment,
    CreateSpace,
    DeleteDocument,
    DeleteEnvironment,
    DeleteGuest,
    DeleteSecret,
    GetDocument,
    GetEnvironment,
    GetGuest,
    GetSpace,
    InviteGuests,
    IssueGuestToken,
    ListDocuments,
    ListEnvironments,
    ListGuests,
    ListSecrets,
    ListSpaces,
    RotateKeys,
    UpdateDocument,
    UpdateEnvironment,
    UpdateGuest,
    UpdateSpace,
    UpsertSecret,
)
from spaceport.messaging import RpcServer


def bind(rpc: RpcServer, app: SpaceApplication) -> None:
    """Subscribe every command and query of `app`; `rpc` decodes, calls and encodes the reply."""
    rpc.handle(Authenticate)(app.auth.authenticate)
    rpc.handle(Caught)(app.caught)
    _environments(rpc, app)
    _spaces(rpc, app)
    _documents(rpc, app)
    _guests(rpc, app)
    _secrets(rpc, app)


def _environments(rpc: RpcServer, app: SpaceApplication) -> None:
    rpc.handle(CreateEnvironment)(app.environments.create)
    rpc.handle(GetEnvironment)(app.environments.get)
    rpc.handle(ListEnvironments)(app.environments.list_environments)
    rpc.handle(UpdateEnvironment)(app.environments.update)
    rpc.handle(DeleteEnvironment)(app.environments.delete)
    rpc.handle(RotateKeys)(app.environments.rotate)


def _spaces(rpc: RpcServer, app: SpaceApplication) -> None:
    rpc.handle(CreateSpace)(app.spaces.create)
    rpc.handle(UpdateSpace)(app.spaces.update)
    rpc.handle(ChangeSpaceLifecycle)(app.spaces.change_lifecycle)
    rpc.handle(GetSpace)(app.spaces.get)
    rpc.handle(ListSpaces)(app.spaces.list_spaces)


def _documents(rpc: RpcServer, app: SpaceApplication) -> None:
    rpc.handle(CreateDocument)(app.documents.create)
    rpc.handle(UpdateDocument)(app.documents.update)
    rpc.handle(DeleteDocument)(app.documents.delete)
    rpc.handle(GetDocument)(app.documents.get)
    rpc.handle(ListDocuments)(app.documents.list_documents)


def _guests(rpc: RpcServer, app: SpaceApplication) -> None:
    rpc.handle(InviteGuests)(app.guests.invite)
    rpc.handle(UpdateGuest)(app.guests.update)
    rpc.handle(DeleteGuest)(app.guests.delete)
    rpc.handle(GetGuest)(app.guests.get)
    rpc.handle(ListGuests)(app.guests.list_guests)
    rpc.handle(IssueGuestToken)(app.guests.token)


def _secrets(rpc: RpcServer, app: SpaceApplication) -> None:
    rpc.handle(UpsertSecret)(app.secrets.upsert)
    rpc.handle(DeleteSecret)(app.secrets.delete)
    rpc.handle(ListSecrets)(app.secrets.list_secrets)
