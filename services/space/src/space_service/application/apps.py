"""Apps and their stored constraints: commands on the App aggregate (scope: its environment),
queries on the read model.

Writes need a secret key of the app's environment (the gateway checks it too): a publishable
key or a guest is refused, another environment's app is not found. An app belongs to the
environment of the key that created it; its `environmentFilters` are stored and returned only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from space_service.application.environments import EnvironmentHandlers
from space_service.application.ports import AppReads, WaitFor
from space_service.domain import app as domain
from space_service.domain import limits
from spaceport import ids
from spaceport.aggregate import Executed, Folder, execute
from spaceport.contracts.space import (
    AppView,
    AppWritten,
    ConstraintList,
    ConstraintVersionList,
    ConstraintVersionView,
    ConstraintView,
    ConstraintWritten,
    CreateApp,
    CreateConstraint,
    DeleteApp,
    DeleteConstraint,
    GetApp,
    GetConstraint,
    GetConstraintVersion,
    ListApps,
    ListConstraints,
    ListConstraintVersions,
    Principal,
    UpdateApp,
    UpdateConstraint,
)
from spaceport.errors import ForbiddenError, NotFoundError
from spaceport.events import Event
from spaceport.ports import AggregateRef, AppendContext, EventStorePort

APPS = Folder(domain.initial, domain.evolve)


def ref(environment_id: str, app_id: str) -> AggregateRef:
    return AggregateRef(environment_id=environment_id, space_id=None, aggregate="app", aggregate_id=app_id)


def require_secret_key(principal: Principal, environment_id: str) -> None:
    if principal.kind != "secret":
        raise ForbiddenError("apps need a secret key (sk_…) of their environment")
    if principal.environment_id != environment_id:
        raise NotFoundError(f"environment {environment_id} not found", key="environmentId")


def _app_id(app_id: str) -> str:
    """An id that can name an app (and so sit in a subject); anything else is not found."""
    if not limits.is_id(app_id, ids.PREFIXES["app"]):
        raise NotFoundError(f"app {app_id} not found", key="appId")
    return app_id


def _constraint_id(constraint_id: str) -> str:
    if not limits.is_id(constraint_id, ids.PREFIXES["constraint"]):
        raise NotFoundError(f"constraint {constraint_id} not found", key="constraintId")
    return constraint_id


class AppHandlers:
    def __init__(
        self, store: EventStorePort, reads: AppReads, caught_up: WaitFor, environments: EnvironmentHandlers
    ) -> None:
        self.store = store
        self.reads = reads
        self.caught_up = caught_up
        self.environments = environments

    # ---- apps ---------------------------------------------------------------------------

    async def create(self, cmd: CreateApp) -> AppWritten:
        require_secret_key(cmd.principal, cmd.environment_id)
        await self.environments.require_live(cmd.environment_id)
        key = cmd.idempotency_key
        app_id = ids.derived_id("app", f"{cmd.environment_id}:{key}") if key else ids.new_id("app")
        done = await self._execute(
            cmd.environment_id,
            app_id,
            lambda state: domain.create(
                state,
                app_id,
                environment_id=cmd.environment_id,
                app_type=cmd.type,
                fields=cmd.fields,
                created_by=cmd.principal.actor,
            ),
            AppendContext(actor=cmd.principal.actor, idempotency_key=key),
        )
        return AppWritten(app_id=app_id, position=done.position)

    async def update(self, cmd: UpdateApp) -> AppWritten:
        """Position 0 when it changed nothing."""
        require_secret_key(cmd.principal, cmd.environment_id)
        app_id = _app_id(cmd.app_id)
        done = await self._execute(
            cmd.environment_id,
            app_id,
            lambda state: domain.update(state, app_id, cmd.fields),
            AppendContext(actor=cmd.principal.actor),
        )
        return AppWritten(app_id=app_id, position=done.position)

    async def delete(self, cmd: DeleteApp) -> AppWritten:
        require_secret_key(cmd.principal, cmd.environment_id)
        app_id = _app_id(cmd.app_id)
        done = await self._execute(
            cmd.environment_id,
            app_id,
            lambda state: domain.delete(state, app_id),
            AppendContext(actor=cmd.principal.actor),
        )
        return AppWritten(app_id=app_id, position=done.position)

    async def get(self, query: GetApp) -> AppView:
        await self.caught_up(query.min_position)
        return await self._listed(query.environment_id, query.app_id)

    async def list_apps(self, query: ListApps) -> list[AppView]:
        await self.caught_up(query.min_position)
        return await self.reads.apps(query.environment_id)

    # ---- constraints ----------------------------------------------------------------------

    async def create_constraint(self, cmd: CreateConstraint) -> ConstraintWritten:
        require_secret_key(cmd.principal, cmd.environment_id)
        app_id = _app_id(cmd.app_id)
        constraint_id = ids.new_id("constraint")
        done = await self._execute(
            cmd.environment_id,
            app_id,
            lambda state: domain.create_constraint(state, app_id, constraint_id, cmd.fields),
            AppendContext(actor=cmd.principal.actor),
        )
        return ConstraintWritten(app_id=app_id, constraint_id=constraint_id, position=done.position)

    async def update_constraint(self, cmd: UpdateConstraint) -> ConstraintWritten:
        require_secret_key(cmd.principal, cmd.environment_id)
        app_id, constraint_id = _app_id(cmd.app_id), _constraint_id(cmd.constraint_id)
        done = await self._execute(
            cmd.environment_id,
            app_id,
            lambda state: domain.update_constraint(state, app_id, constraint_id, cmd.fields),
            AppendContext(actor=cmd.principal.actor),
        )
        return ConstraintWritten(app_id=app_id, constraint_id=constraint_id, position=done.position)

    async def delete_constraint(self, cmd: DeleteConstraint) -> ConstraintWritten:
        require_secret_key(cmd.principal, cmd.environment_id)
        app_id, constraint_id = _app_id(cmd.app_id), _constraint_id(cmd.constraint_id)
        done = await self._execute(
            cmd.environment_id,
            app_id,
            lambda state: domain.delete_constraint(state, app_id, constraint_id),
            AppendContext(actor=cmd.principal.actor),
        )
        return ConstraintWritten(app_id=app_id, constraint_id=constraint_id, position=done.position)

    async def list_constraints(self, query: ListConstraints) -> ConstraintList:
        await self.caught_up(query.min_position)
        app = await self._listed(query.environment_id, query.app_id)
        return ConstraintList(data=await self.reads.constraints(app.id))

    async def get_constraint(self, query: GetConstraint) -> ConstraintView:
        await self.caught_up(query.min_position)
        app = await self._listed(query.environment_id, query.app_id)
        found = next((c for c in await self.reads.constraints(app.id) if c.id == query.constraint_id), None)
        if found is None:
            raise NotFoundError(f"constraint {query.constraint_id} not found in app {app.id}", key="constraintId")
        return found

    async def list_versions(self, query: ListConstraintVersions) -> ConstraintVersionList:
        await self.caught_up(query.min_position)
        return ConstraintVersionList(data=await self._versions(query.environment_id, query.app_id, query.constraint_id))

    async def get_version(self, query: GetConstraintVersion) -> ConstraintVersionView:
        await self.caught_up(query.min_position)
        versions = await self._versions(query.environment_id, query.app_id, query.constraint_id)
        found = next((v for v in versions if v.version == query.version), None)
        if found is None:
            raise NotFoundError(
                f"constraint {query.constraint_id} has no version {query.version} (it has 1-{len(versions)})",
                key="version",
            )
        return found

    # ---- helpers --------------------------------------------------------------------------

    async def _listed(self, environment_id: str, app_id: str) -> AppView:
        """For queries: the live app of the environment in the read model (a write checks the log)."""
        found = await self.reads.app(environment_id, _app_id(app_id))
        if found is None:
            raise NotFoundError(f"app {app_id} not found", key="appId")
        return found

    async def _versions(self, environment_id: str, app_id: str, constraint_id: str) -> list[ConstraintVersionView]:
        app = await self._listed(environment_id, app_id)
        versions = await self.reads.constraint_versions(app.id, _constraint_id(constraint_id))
        if not versions:
            raise NotFoundError(f"constraint {constraint_id} not found in app {app.id}", key="constraintId")
        return versions

    async def _execute(
        self,
        environment_id: str,
        app_id: str,
        decide: Callable[[domain.AppState], Sequence[Event]],
        context: AppendContext,
    ) -> Executed[domain.AppState]:
        return await execute(self.store, ref(environment_id, app_id), APPS, decide, context)
