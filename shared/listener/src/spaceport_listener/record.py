"""`Record`: a record read from a commit, with the small mutation API record hooks use (§3.3)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Literal

__all__ = ["MessageType", "Record"]

MessageType = Literal["error", "warn", "info"]


class Record:
    """Wraps `{id, values: {key: {value, valid, messages}}}`; remembers which cells were touched.

    Adding a message that the cell already carries is a no-op, so running a hook twice over the
    same records (a redelivered `commit:created`) writes nothing the second time.
    """

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.id = str(raw.get("id", ""))
        raw_values = raw.get("values") or {}
        self._cells: dict[str, dict[str, Any]] = {
            key: _cell(cell) for key, cell in raw_values.items() if isinstance(cell, Mapping)
        }
        self._touched: set[str] = set()

    @property
    def metadata(self) -> Mapping[str, Any]:
        metadata = self.raw.get("metadata")
        return metadata if isinstance(metadata, Mapping) else {}

    def keys(self) -> list[str]:
        return list(self._cells)

    def get(self, key: str, default: Any = None) -> Any:
        cell = self._cells.get(key)
        return default if cell is None or cell.get("value") is None else cell["value"]

    def set(self, key: str, value: Any) -> Record:
        cell = self._cells.setdefault(key, {"value": None, "messages": []})
        if cell.get("value") != value:
            cell["value"] = value
            self._touched.add(key)
        return self

    def messages(self, key: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self._cells.get(key, {}).get("messages", []))

    def add_error(self, key: str, message: str) -> Record:
        return self.add_message(key, message, "error")

    def add_warning(self, key: str, message: str) -> Record:
        return self.add_message(key, message, "warn")

    def add_info(self, key: str, message: str) -> Record:
        return self.add_message(key, message, "info")

    def add_message(self, key: str, message: str, type_: MessageType) -> Record:
        cell = self._cells.setdefault(key, {"value": None, "messages": []})
        entry = {"type": type_, "message": message}
        existing = cell.setdefault("messages", [])
        if not any(m.get("type") == type_ and m.get("message") == message for m in existing):
            existing.append(entry)
            self._touched.add(key)
        return self

    @property
    def changed(self) -> bool:
        return bool(self._touched)

    def to_update(self) -> dict[str, Any]:
        """The PUT body entry: the record id and only the touched cells, with value and messages."""
        values = {
            key: {"value": self._cells[key].get("value"), "messages": self.messages(key)}
            for key in sorted(self._touched)
        }
        return {"id": self.id, "values": values}

    def __repr__(self) -> str:
        return f"Record(id={self.id!r}, values={ {k: c.get('value') for k, c in self._cells.items()} })"


def _cell(cell: Mapping[str, Any]) -> dict[str, Any]:
    messages = [dict(m) for m in cell.get("messages") or [] if isinstance(m, Mapping)]
    return {"value": cell.get("value"), "messages": messages}
