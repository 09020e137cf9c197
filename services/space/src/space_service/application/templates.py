"""Creating a space, optionally as a copy of a template space or of an app's blueprint.

`CreateSpace` with neither `app_id` nor `template_id` is a plain create. Otherwise, in order:
1. check everything the space service can: the request's fields, the app (404 `appId` when it
   is unknown, deleted or another environment's), the template space (404 `templateId`), the
   template's shape (`domain.template.check`);
2. create the space (its fields merged over the template's, `templateId` recorded);
3. create the workbooks through the workbook service (`CreateWorkbook`, idempotency keys derived
   from the new space id, so a retried request finds them instead of duplicating them), then the
   documents; the template's primary workbook's copy becomes the primary one;
4. on any failure after the space exists: delete the workbooks made so far and the space, and
   answer the error (a blueprint the workbook service refuses is a 400 naming the app).
The answer's position is the last write's, and the workbook service's read model has applied it,
so the new space's workbooks and documents are listable as soon as the gateway answers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import msgspec

from space_service.application.documents import DocumentHandlers
from space_service.application.spaces import SpaceHandlers
from space_service.domain import limits
from space_service.domain import space as space_domain
from space_service.domain import template as domain
from spaceport import ids
from spaceport.contracts.space import (
    AppView,
    ChangeSpaceLifecycle,
    CreateDocument,
    CreateSpace,
    GetApp,
    ListSpaces,
    SpaceFields,
    SpaceWritten,
    UpdateSpace,
)
from spaceport.contracts.workbook import CreateWorkbook, DeleteWorkbook, WorkbookView, WorkbookWritten
from spaceport.errors import ConflictError, NotFoundError, ServiceUnavailableError, ValidationFailedError

log = logging.getLogger(__name__)

AppLookup = Callable[[GetApp], Awaitable[AppView]]
"""The app (`GetApp`); raises `NotFoundError` for an unknown, deleted or other environment's app."""


class WorkbookPort(Protocol):
    """The workbook service, as the space service uses it (NATS RPC in production)."""

    async def workbooks(self, environment_id: str, space_id: str) -> list[WorkbookView]:
        """The space's live workbooks with their sheets."""
        ...

    async def create(self, cmd: CreateWorkbook) -> WorkbookWritten: ...

    async def delete(self, cmd: DeleteWorkbook) -> WorkbookWritten: ...

    async def settled(self, environment_id: str, space_id: str, position: int) -> None:
        """Wait until the workbook service's read model has applied `position`."""
        ...


class SpaceCreation:
    """`CreateSpace`: plain, or copied from a template (see the module docstring)."""

    def __init__(
        self,
        spaces: SpaceHandlers,
        documents: DocumentHandlers,
        workbooks: WorkbookPort | None,
        apps: AppLookup | None,
    ) -> None:
        self.spaces = spaces
        self.documents = documents
        self.workbooks = workbooks
        self.apps = apps

    async def create(self, cmd: CreateSpace) -> SpaceWritten:
        if cmd.app_id is None and cmd.template_id is None:
            return await self.spaces.create(cmd)
        space_domain.check_fields(cmd.fields)
        space_domain.require_app_for_template(cmd.app_id, cmd.fields.is_app_template)
        await self.spaces.environments.require_live(cmd.environment_id)
        template = await self.template(cmd)
        fields = domain.merged_fields(template.fields, cmd.fields)
        space_domain.check_fields(fields)
        written = await self.spaces.create(msgspec.structs.replace(cmd, fields=fields), copied_from=template.source_id)
        if (await self.spaces.state(cmd.environment_id, written.space_id)).deleted:
            raise ConflictError("this Idempotency-Key's space was rolled back; retry with a new key")
        return await self._filled(cmd, written, template)

    async def template(self, cmd: CreateSpace) -> domain.Template:
        """What `cmd` copies: the named template space, else the app's newest template space,
        else the app's blueprint."""
        app = await self._app(cmd.environment_id, cmd.app_id) if cmd.app_id is not None else None
        if cmd.template_id is not None:
            return await self._space_template(cmd.environment_id, cmd.template_id, key="templateId")
        assert app is not None
        newest = await self.spaces.reads.spaces(
            ListSpaces(environment_id=cmd.environment_id, app_id=app.id, is_app_template=True, page_size=1)
        )
        if newest[0]:
            return await self._space_template(cmd.environment_id, newest[0][0].id, key="appId")
        return domain.from_blueprint(app)

    async def _app(self, environment_id: str, app_id: str) -> AppView:
        missing = NotFoundError(f"app {app_id[:80]} not found", key="appId")
        if self.apps is None or not limits.is_id(app_id, ids.PREFIXES["app"]):
            raise missing
        try:
            return await self.apps(GetApp(environment_id=environment_id, app_id=app_id))
        except NotFoundError:
            raise missing from None

    async def _space_template(self, environment_id: str, space_id: str, *, key: str) -> domain.Template:
        view = (
            await self.spaces.reads.space(environment_id, space_id)
            if limits.is_id(space_id, ids.PREFIXES["space"])
            else None
        )
        if view is None:
            raise NotFoundError(f"template space {space_id[:80]} not found", key=key)
        workbooks = await self._workbooks().workbooks(environment_id, space_id)
        return domain.from_space(view, workbooks, await self.documents.reads.documents(space_id))

    def _workbooks(self) -> WorkbookPort:
        if self.workbooks is None:
            raise ServiceUnavailableError("copying templates needs the workbook service, which is not configured")
        return self.workbooks

    async def _filled(self, cmd: CreateSpace, written: SpaceWritten, template: domain.Template) -> SpaceWritten:
        made: list[str] = []
        try:
            position = await self._copy(cmd, written, template, made)
        except Exception:
            await self._undo(cmd, written.space_id, made)
            raise
        return SpaceWritten(space_id=written.space_id, position=max(position, written.position))

    async def _copy(self, cmd: CreateSpace, written: SpaceWritten, template: domain.Template, made: list[str]) -> int:
        space_id, position = written.space_id, written.position
        for index, copy in enumerate(template.workbooks):
            done = await self._create_workbook(cmd, space_id, index, copy, template)
            made.append(done.workbook_id)
            position = max(position, done.position)
        if made:
            await self._workbooks().settled(cmd.environment_id, space_id, position)
        for index, document in enumerate(template.documents):
            create = CreateDocument(
                principal=cmd.principal,
                environment_id=cmd.environment_id,
                space_id=space_id,
                title=document.title,
                body=document.body,
                treatments=document.treatments,
                actions=document.actions,
                idempotency_key=f"template:{space_id}:document:{index}",
            )
            position = max(position, (await self.documents.create(create)).position)
        if template.primary_index is not None and cmd.fields.primary_workbook_id is None:
            fields = SpaceFields(primary_workbook_id=made[template.primary_index])
            update = UpdateSpace(
                principal=cmd.principal, environment_id=cmd.environment_id, space_id=space_id, fields=fields
            )
            position = max(position, (await self.spaces.update(update)).position)
        return position

    async def _create_workbook(
        self, cmd: CreateSpace, space_id: str, index: int, copy: domain.WorkbookCopy, template: domain.Template
    ) -> WorkbookWritten:
        create = CreateWorkbook(
            principal=cmd.principal,
            space_id=space_id,
            name=copy.name,
            sheets=copy.sheets or [],
            labels=copy.labels or [],
            namespace=copy.namespace,
            metadata=copy.metadata or {},
            settings=copy.settings or {},
            actions=copy.actions or [],
            treatments=copy.treatments or [],
            idempotency_key=f"template:{space_id}:workbook:{index}",
        )
        try:
            return await self._workbooks().create(create)
        except ValidationFailedError as problem:
            where = f"workbook {index} ({copy.name!r})" + (f" at {problem.key}" if problem.key else "")
            raise domain.invalid(template, f"{where}: {problem.message}") from None

    async def _undo(self, cmd: CreateSpace, space_id: str, made: list[str]) -> None:
        """Best effort: what cannot be undone is logged (the error being answered matters more)."""
        try:
            position = 0
            for workbook_id in made:
                deleted = await self._workbooks().delete(
                    DeleteWorkbook(principal=cmd.principal, workbook_id=workbook_id)
                )
                position = max(position, deleted.position)
            if position:  # the error answered after this must not be followed by a list still showing them
                await self._workbooks().settled(cmd.environment_id, space_id, position)
            close = ChangeSpaceLifecycle(
                principal=cmd.principal, environment_id=cmd.environment_id, space_ids=[space_id], transition="delete"
            )
            await self.spaces.change_lifecycle(close)
        except Exception:
            log.exception("could not undo the half-made space %s (workbooks %s)", space_id, made)
