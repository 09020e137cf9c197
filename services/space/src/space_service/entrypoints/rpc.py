"""The space service's NATS request/reply subjects (`cmd.space.<snake name>`), one per message."""

from __future__ import annotations

from space_service.application.app import SpaceApplication
from space_service.application.retention import RetentionHandlers
from space_service.entrypoints.retention import RetentionSweeper
from spaceport.contracts.space import (
    AssignGuestRole,
    Authenticate,
    Caught,
    ChangeSpaceLifecycle,
    CreateApiKey,
    CreateApp,
    CreateConstraint,
    CreateDataRetentionPolicy,
    CreateDocument,
    CreateEnvironment,
    CreateSpace,
    DeleteApp,
    DeleteConstraint,
    DeleteDataRetentionPolicy,
    DeleteDocument,
    DeleteEnvironment,
    DeleteGuest,
    DeleteGuestRole,
    DeleteSecret,
    GetApp,
    GetConstraint,
    GetConstraintVersion,
    GetDataRetentionPolicy,
    GetDocument,
    GetEnvironment,
    GetGuest,
    GetSpace,
    InviteGuests,
    IssueGuestToken,
    ListApiKeys,
    ListApps,
    ListConstraints,
    ListConstraintVersions,
    ListDataRetentionPolicies,
    ListDocuments,
    ListEnvironments,
    ListGuestRoles,
    ListGuests,
    ListRoles,
    ListSecrets,
    ListSpaces,
    RevokeApiKey,
    RotateKeys,
    SweepRetention,
    UpdateApp,
    UpdateConstraint,
    UpdateDataRetentionPolicy,
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
    _apps(rpc, app)


def _environments(rpc: RpcServer, app: SpaceApplication) -> None:
    rpc.handle(CreateEnvironment)(app.environments.create)
    rpc.handle(GetEnvironment)(app.environments.get)
    rpc.handle(ListEnvironments)(app.environments.list_environments)
    rpc.handle(UpdateEnvironment)(app.environments.update)
    rpc.handle(DeleteEnvironment)(app.environments.delete)
    rpc.handle(RotateKeys)(app.environments.rotate)
    rpc.handle(CreateApiKey)(app.environments.create_key)
    rpc.handle(RevokeApiKey)(app.environments.revoke_key)
    rpc.handle(ListApiKeys)(app.environments.list_keys)


def _spaces(rpc: RpcServer, app: SpaceApplication) -> None:
    rpc.handle(CreateSpace)(app.creation.create)
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
    rpc.handle(ListRoles)(app.guests.list_roles)
    rpc.handle(ListGuestRoles)(app.guests.guest_roles)
    rpc.handle(AssignGuestRole)(app.guests.assign_role)
    rpc.handle(DeleteGuestRole)(app.guests.delete_role)


def _secrets(rpc: RpcServer, app: SpaceApplication) -> None:
    rpc.handle(UpsertSecret)(app.secrets.upsert)
    rpc.handle(DeleteSecret)(app.secrets.delete)
    rpc.handle(ListSecrets)(app.secrets.list_secrets)


def _apps(rpc: RpcServer, app: SpaceApplication) -> None:
    rpc.handle(CreateApp)(app.apps.create)
    rpc.handle(UpdateApp)(app.apps.update)
    rpc.handle(DeleteApp)(app.apps.delete)
    rpc.handle(GetApp)(app.apps.get)
    rpc.handle(ListApps)(app.apps.list_apps)
    rpc.handle(CreateConstraint)(app.apps.create_constraint)
    rpc.handle(UpdateConstraint)(app.apps.update_constraint)
    rpc.handle(DeleteConstraint)(app.apps.delete_constraint)
    rpc.handle(ListConstraints)(app.apps.list_constraints)
    rpc.handle(GetConstraint)(app.apps.get_constraint)
    rpc.handle(ListConstraintVersions)(app.apps.list_versions)
    rpc.handle(GetConstraintVersion)(app.apps.get_version)


def bind_retention(rpc: RpcServer, retention: RetentionHandlers, sweeper: RetentionSweeper) -> None:
    """Data retention policies, and `SweepRetention` (internal: one sweep now, at a given time)."""
    rpc.handle(CreateDataRetentionPolicy)(retention.create)
    rpc.handle(UpdateDataRetentionPolicy)(retention.update)
    rpc.handle(DeleteDataRetentionPolicy)(retention.delete)
    rpc.handle(GetDataRetentionPolicy)(retention.get)
    rpc.handle(ListDataRetentionPolicies)(retention.list_policies)
    rpc.handle(SweepRetention)(sweeper.on_demand)
