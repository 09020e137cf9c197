"""The space service's NATS request/reply subjects (`cmd.space.<snake name>`), one per message.

Queries (read-only: `Authenticate`, `Caught`, `Get…`, `List…`) run up to READS at once per
process; commands one at a time per subject, as before.
"""

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

READS = 32  # queries handled at once per process (each holds a pool connection while it reads)


def bind(rpc: RpcServer, app: SpaceApplication) -> None:
    """Subscribe every command and query of `app`; `rpc` decodes, calls and encodes the reply."""
    rpc.handle(Authenticate, workers=READS)(app.auth.authenticate)
    rpc.handle(Caught, workers=READS)(app.caught)
    _environments(rpc, app)
    _spaces(rpc, app)
    _documents(rpc, app)
    _guests(rpc, app)
    _secrets(rpc, app)
    _apps(rpc, app)


def _environments(rpc: RpcServer, app: SpaceApplication) -> None:
    rpc.handle(CreateEnvironment)(app.environments.create)
    rpc.handle(GetEnvironment, workers=READS)(app.environments.get)
    rpc.handle(ListEnvironments, workers=READS)(app.environments.list_environments)
    rpc.handle(UpdateEnvironment)(app.environments.update)
    rpc.handle(DeleteEnvironment)(app.environments.delete)
    rpc.handle(RotateKeys)(app.environments.rotate)
    rpc.handle(CreateApiKey)(app.environments.create_key)
    rpc.handle(RevokeApiKey)(app.environments.revoke_key)
    rpc.handle(ListApiKeys, workers=READS)(app.environments.list_keys)


def _spaces(rpc: RpcServer, app: SpaceApplication) -> None:
    rpc.handle(CreateSpace)(app.creation.create)
    rpc.handle(UpdateSpace)(app.spaces.update)
    rpc.handle(ChangeSpaceLifecycle)(app.spaces.change_lifecycle)
    rpc.handle(GetSpace, workers=READS)(app.spaces.get)
    rpc.handle(ListSpaces, workers=READS)(app.spaces.list_spaces)


def _documents(rpc: RpcServer, app: SpaceApplication) -> None:
    rpc.handle(CreateDocument)(app.documents.create)
    rpc.handle(UpdateDocument)(app.documents.update)
    rpc.handle(DeleteDocument)(app.documents.delete)
    rpc.handle(GetDocument, workers=READS)(app.documents.get)
    rpc.handle(ListDocuments, workers=READS)(app.documents.list_documents)


def _guests(rpc: RpcServer, app: SpaceApplication) -> None:
    rpc.handle(InviteGuests)(app.guests.invite)
    rpc.handle(UpdateGuest)(app.guests.update)
    rpc.handle(DeleteGuest)(app.guests.delete)
    rpc.handle(GetGuest, workers=READS)(app.guests.get)
    rpc.handle(ListGuests, workers=READS)(app.guests.list_guests)
    rpc.handle(IssueGuestToken)(app.guests.token)
    rpc.handle(ListRoles, workers=READS)(app.guests.list_roles)
    rpc.handle(ListGuestRoles, workers=READS)(app.guests.guest_roles)
    rpc.handle(AssignGuestRole)(app.guests.assign_role)
    rpc.handle(DeleteGuestRole)(app.guests.delete_role)


def _secrets(rpc: RpcServer, app: SpaceApplication) -> None:
    rpc.handle(UpsertSecret)(app.secrets.upsert)
    rpc.handle(DeleteSecret)(app.secrets.delete)
    rpc.handle(ListSecrets, workers=READS)(app.secrets.list_secrets)


def _apps(rpc: RpcServer, app: SpaceApplication) -> None:
    rpc.handle(CreateApp)(app.apps.create)
    rpc.handle(UpdateApp)(app.apps.update)
    rpc.handle(DeleteApp)(app.apps.delete)
    rpc.handle(GetApp, workers=READS)(app.apps.get)
    rpc.handle(ListApps, workers=READS)(app.apps.list_apps)
    rpc.handle(CreateConstraint)(app.apps.create_constraint)
    rpc.handle(UpdateConstraint)(app.apps.update_constraint)
    rpc.handle(DeleteConstraint)(app.apps.delete_constraint)
    rpc.handle(ListConstraints, workers=READS)(app.apps.list_constraints)
    rpc.handle(GetConstraint, workers=READS)(app.apps.get_constraint)
    rpc.handle(ListConstraintVersions, workers=READS)(app.apps.list_versions)
    rpc.handle(GetConstraintVersion, workers=READS)(app.apps.get_version)


def bind_retention(rpc: RpcServer, retention: RetentionHandlers, sweeper: RetentionSweeper) -> None:
    """Data retention policies, and `SweepRetention` (internal: one sweep now, at a given time)."""
    rpc.handle(CreateDataRetentionPolicy)(retention.create)
    rpc.handle(UpdateDataRetentionPolicy)(retention.update)
    rpc.handle(DeleteDataRetentionPolicy)(retention.delete)
    rpc.handle(GetDataRetentionPolicy, workers=READS)(retention.get)
    rpc.handle(ListDataRetentionPolicies, workers=READS)(retention.list_policies)
    rpc.handle(SweepRetention)(sweeper.on_demand)
