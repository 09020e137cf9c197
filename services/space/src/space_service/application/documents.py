"""Documents of a space: commands on the Document aggregate (scope: the space), queries on the read model."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from space_service.application.ports import DocumentReads, WaitFor
from space_service.application.spaces import SpaceHandlers
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
from spaceport.ports import AggregateRef, AppendContext, EventStorePort

DOCUMENTS = Folder(domain.initial, domain.evolve)


class DocumentHandlers:
    def __init__(
        self,
        store: EventStorePort,
        reads: DocumentReads,
        caught_up: WaitFor,
        spaces: SpaceHandlers,
    ) -> None:
        self.store = store
        self.reads = reads
        self.caught_up = caught_up
        self.spaces = spaces

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
        return await self._change(cmd, lambda state: domain.update(state, cmd.document_id, cmd.space_id, cmd.fields))

    async def delete(self, cmd: DeleteDocument) -> DocumentWritten:
        return await self._change(cmd, lambda state: domain.delete(state, cmd.document_id, cmd.space_id))

    async def get(self, query: GetDocument) -> DocumentView:
        await self.caught_up(query.min_position)
        view = await self.reads.document(query.environment_id, query.space_id, query.document_id)
        if view is None:
            raise NotFoundError(f"document {query.document_id} not found", key="documentId")
        return view

    async def list_documents(self, query: ListDocuments) -> list[DocumentView]:
        await self.caught_up(query.min_position)
        await self.spaces.require_listed(query.environment_id, query.space_id)
        return await self.reads.documents(query.space_id)

    async def _change(
        self, cmd: UpdateDocument | DeleteDocument, decide: Callable[[domain.DocumentState], Sequence[Event]]
    ) -> DocumentWritten:
        """A command on an existing document of a live space; position 0 when it changed nothing."""
        await self.spaces.require_live(cmd.environment_id, cmd.space_id)
        done = await self._execute(
            cmd.environment_id, cmd.space_id, cmd.document_id, decide, AppendContext(actor=cmd.principal.actor)
        )
        return DocumentWritten(document_id=cmd.document_id, position=done.position)

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
        return await execute(self.store, ref, DOCUMENTS, decide, context)
