"""What the file application needs from outside it, besides `spaceport.ports.EventStorePort`.

The Postgres implementation is `projections/queries.py`; unit tests fold the event store's
events into an in-memory fake instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import msgspec

from spaceport.contracts.file import FileView, ListFiles
from spaceport.known_spaces import SpaceFact

WaitFor = Callable[[int], Awaitable[bool]]
"""Read-your-writes: wait until the `file` read model applied a stream position; False on timeout."""


class FileRow(msgspec.Struct, frozen=True, kw_only=True):
    """A live file as the read model has it: its view and where it lives."""

    view: FileView
    environment_id: str
    object_key: str
    created_by: str = ""  # the uploader's actor


class FileReads(Protocol):
    async def file(self, file_id: str) -> FileRow | None:
        """The file unless it is deleted."""
        ...

    async def files(self, environment_id: str, query: ListFiles) -> tuple[list[FileView], int]:
        """The page `query` asks for (in `environment_id`) and how many live files match."""
        ...

    async def uploaded_workbooks(self, environment_id: str, space_id: str, created_by: str) -> list[str]:
        """The workbooks the built-in extractor made from live files `created_by` uploaded in the space."""
        ...

    async def space_fact(self, space_id: str) -> SpaceFact | None: ...


class ObjectStore(Protocol):
    """The S3 objects of files (the file service owns them)."""

    bucket: str

    async def remove(self, key: str) -> None: ...
