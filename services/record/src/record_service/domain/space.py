"""Whether a sheet's space takes record writes. Pure."""

from __future__ import annotations

from spaceport.errors import ConflictError, NotFoundError
from spaceport.known_spaces import SpaceFact


def require_writable(space: SpaceFact | None, space_id: str) -> None:
    """Records of a deleted space are gone (404); an archived space's are read-only (409).

    A space this service never heard of is not refused: a sheet only exists here because the
    workbook service admitted its workbook into a live space.
    """
    if space is None:
        return
    if space.deleted:
        raise NotFoundError(f"space {space_id} not found", key="spaceId")
    if space.archived:
        raise ConflictError(f"space {space_id} is archived; unarchive it to change its records", key="spaceId")
