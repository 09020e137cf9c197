"""Where the listener remembers the last event it has fully handled (its resume point)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Protocol

__all__ = ["Cursor", "FileCursor", "MemoryCursor"]


class Cursor(Protocol):
    """A store for one event id. `save` is called only after every matching handler has finished."""

    async def load(self) -> str | None: ...

    async def save(self, event_id: str) -> None: ...


class MemoryCursor:
    """Keeps the position in memory: survives reconnects, not restarts (the default)."""

    def __init__(self, event_id: str | None = None) -> None:
        self.event_id = event_id

    async def load(self) -> str | None:
        return self.event_id

    async def save(self, event_id: str) -> None:
        self.event_id = event_id


class FileCursor:
    """Keeps the position in a small text file, replaced atomically so a crash never leaves half an id."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    async def load(self) -> str | None:
        return await asyncio.to_thread(self._read)

    async def save(self, event_id: str) -> None:
        await asyncio.to_thread(self._write, event_id)

    def _read(self) -> str | None:
        try:
            return self.path.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def _write(self, event_id: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f"{self.path.name}.tmp")
        with temporary.open("w", encoding="utf-8") as file:
            file.write(event_id)
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(self.path)
