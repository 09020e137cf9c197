"""`CompleteCommit`: the listener's hooks are done with a commit (`POST /v1/commits/{id}/complete`).

`CommitCompleted` goes onto the commit's sheet aggregate, guarded by the sheet's version like
every write there (so it never slips between a write's decision and its append), once: an
attempt that finds the commit completed appends nothing, and the event id derives from the
commit, so a retry after a lost ack is recognised as the same append.
"""

from __future__ import annotations

from functools import partial

from record_service.application.context import Context
from record_service.application.ports import CommitState
from record_service.domain import records as domain
from spaceport.aggregate import Append, Decision, run_command
from spaceport.contracts.record import CommitCompletion, CompleteCommit
from spaceport.errors import NotFoundError
from spaceport.ports import AppendContext, AppendResult


class CompletionHandlers:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def complete(self, cmd: CompleteCommit) -> CommitCompletion:
        found = await self._find(cmd.commit_id)
        sheet = await self.ctx.sheet(found.sheet_id)
        if sheet.environment_id != cmd.principal.environment_id:
            raise NotFoundError(f"commit {cmd.commit_id} not found", key="commitId")
        context = AppendContext(actor=cmd.principal.actor, idempotency_key=f"commit-completed:{cmd.commit_id}")
        async with self.ctx.lock(sheet.id):
            done = await run_command(
                self.ctx.store,
                sheet.ref,
                partial(self._attempt, cmd, sheet.id),
                context,
                landed=partial(_landed, cmd.commit_id),
                on_conflict=self.ctx.caught_up,
            )
        if done.result is None:
            return CommitCompletion(commit_id=cmd.commit_id, position=0)
        self.ctx.committed(sheet.id, done.result.last_seq)
        # Read-your-writes on any replica: the next GET of the commit (or its lists) shows it.
        await self.ctx.wait_for(done.result.last_seq, timeout=60.0)
        return CommitCompletion(commit_id=cmd.commit_id, position=done.result.last_seq)

    async def _find(self, commit_id: str) -> CommitState:
        found = await self._state(commit_id)
        if found is None:
            await self.ctx.catch_up()  # made by another replica a moment ago
            found = await self._state(commit_id)
        if found is None:
            raise NotFoundError(f"commit {commit_id} not found", key="commitId")
        return found

    async def _state(self, commit_id: str) -> CommitState | None:
        async with self.ctx.model.session() as q:
            return await q.commit_state(commit_id)

    async def _attempt(self, cmd: CompleteCommit, sheet_id: str) -> Decision[str]:
        await self.ctx.settled(sheet_id)
        sheet = await self.ctx.sheet(sheet_id)
        state = await self._state(cmd.commit_id)
        if state is None or state.completed:
            return Append(cmd.commit_id, (), None)
        event = domain.completion(sheet.scope(cmd.commit_id), completed_by=cmd.principal.actor)
        return Append(cmd.commit_id, [event], sheet.version)


async def _landed(commit_id: str, _: AppendResult) -> str:
    return commit_id
