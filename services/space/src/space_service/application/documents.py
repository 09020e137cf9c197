"""Documents of a space: commands on the Document aggregate (scope: the space), queries on the read model."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from space_service.application import rows
from space_service.application.spaces import SpaceHandlersPart
from space_service.domain import document as domain
from space_service.domain import limits
from spaceport import ids
from spaceport.aggregate import Executed, Folder, execute
from spaceport.contracts.space import (
    CreateDocument,
    DeleteDocument,
    DocumentView,
    DocumentWritten,
    GetDocument,
    ListDocuments,
    UpdateDocument,
)
from spaceport.errors import NotFoundError
from spaceport.events import Event
from spaceport.eventstore import AggregateRef, AppendContext
from spaceport.runtime import ServiceRuntime

DOCUMENTS = Folder(domain.initial, domain.evolve)


class DocumentHandlers:
    def __init__(self, runtime: ServiceRuntime, spaces: SpaceHandlersPart) -> None:
        self.runtime = runtime
        self.spaces = spaces

    def register(self) -> None:
        rpc = self.runtime.rpc
        rpc.handle(CreateDocument)(self.create)
        rpc.handle(UpdateDocument)(self.update)
        rpc.handle(DeleteDocument)(self.delete)
        rpc.handle(GetDocument)(self.get)
        rpc.handle(ListDocuments)(self.list_documents)

    async def create(self, cmd: CreateDocument) -> DocumentWritten:
        await self.spaces.require_live(cmd.environment_id, cmd.space_id)
        key = cmd.idempotency_key
        document_id = ids.derived_id("document", f"{cmd.space_id}:{key}") if key else ids.new_id("document")
        done = await self._execute(
            cmd.environment_id,
            cmd.space_id,
            document_id,
            lambda state: domain.create(state, document_id, cmd),
            AppendContext(actor=cmd.principal.actor, idempotency_key=key),
        )
        assert done.result is not None
        return DocumentWritten(document_id=document_id, position=done.result.last_seq)

    async def update(self, cmd: UpdateDocument) -> DocumentWritten:
        await self.spaces.require_live(cmd.environment_id, cmd.space_id)
        done = await self._execute(
            cmd.environment_id,
            cmd.space_id,
            cmd.document_id,
            lambda state: domain.update(state, cmd.document_id, cmd.space_id, cmd.fields),
            AppendContext(actor=cmd.principal.actor),
        )
        return DocumentWritten(document_id=cmd.document_id, position=done.result.last_seq if done.result else 0)

    async def delete(self, cmd: DeleteDocument) -> DocumentWritten:
        await self.spaces.require_live(cmd.environment_id, cmd.space_id)
        done = await self._execute(
            cmd.environment_id,
            cmd.space_id,
            cmd.document_id,
            lambda state: domain.delete(state, cmd.document_id, cmd.space_id),
            AppendContext(actor=cmd.principal.actor),
        )
        return DocumentWritten(document_id=cmd.document_id, position=done.result.last_seq if done.result else 0)

    async def get(self, query: GetDocument) -> DocumentView:
        await self.runtime.wait_for(query.min_position)
        async with self.runtime.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT d.* FROM document d JOIN space s ON s.id = d.space_id AND s.deleted_at IS NULL"
                " WHERE d.id = $1 AND d.space_id = $2 AND d.environment_id = $3",
                query.document_id,
                query.space_id,
                query.environment_id,
            )
        if row is None:
            raise NotFoundError(f"document {query.document_id} not found", key="documentId")
        return rows.document_view(row)

    async def list_documents(self, query: ListDocuments) -> list[DocumentView]:
        await self.runtime.wait_for(query.min_position)
        async with self.runtime.pool.acquire() as conn:
            space = await conn.fetchval(
                "SELECT id FROM space WHERE id = $1 AND environment_id = $2 AND deleted_at IS NULL",
                query.space_id,
                query.environment_id,
            )
            if space is None:
                raise NotFoundError(f"space {query.space_id} not found", key="spaceId")
            found = await conn.fetch(
                "SELECT * FROM document WHERE space_id = $1 ORDER BY created_at, id LIMIT 1000", query.space_id
            )
        return [rows.document_view(r) for r in found]

    async def _execute(
        self,
        environment_id: str,
        space_id: str,
        document_id: str,
        decide: Callable[[domain.DocumentState], Sequence[Event]],
        context: AppendContext,
    ) -> Executed[domain.DocumentState]:
        if not limits.is_id(document_id, ids.PREFIXES["document"]):
            raise NotFoundError(f"document {document_id} not found", key="documentId")
        ref = AggregateRef(
            environment_id=environment_id, space_id=space_id, aggregate="document", aggregate_id=document_id
        )
        return await execute(self.runtime.store, ref, DOCUMENTS, decide, context)
